import DeepseekCore
import DeepseekTracing
import Testing

@Suite struct RingBufferRecorderTests {
    @Test func snapshotOrdersEventsByTimestamp() {
        let ring = RingBufferRecorder(capacityPerShard: 16, shardCount: 1)
        for stamp: UInt64 in [30, 10, 20, 0] { ring.record(instantEvent("e\(stamp)", at: stamp)) }
        #expect(ring.snapshot().map(\.name) == ["e0", "e10", "e20", "e30"])
    }

    @Test func aDrainSortsAShuffledRunOfEventsByTimestamp() {
        let ring = RingBufferRecorder(capacityPerShard: 256, shardCount: 1)
        var rng = SeededRandom(seed: 11)
        var stamps = Array(UInt64(0)..<200)
        for index in stamps.indices.reversed() { stamps.swapAt(index, Int(rng.next() % UInt64(index + 1))) }
        for stamp in stamps { ring.record(instantEvent("e\(stamp)", at: stamp)) }
        #expect(ring.drain().map(\.name) == (0..<200).map { "e\($0)" })
    }

    @Test func equalTimestampsKeepRecordingOrder() {
        let ring = RingBufferRecorder(capacityPerShard: 16, shardCount: 1)
        for index in 0..<10 { ring.record(instantEvent("e\(index)", at: 5)) }
        #expect(ring.snapshot().map(\.name) == (0..<10).map { "e\($0)" })
    }

    @Test func snapshotKeepsEventsAndDrainRemovesThem() {
        let ring = RingBufferRecorder(capacityPerShard: 8, shardCount: 2)
        for index in 0..<5 { ring.record(instantEvent("e\(index)", at: UInt64(index))) }
        #expect(ring.snapshot().count == 5)
        #expect(ring.snapshot().count == 5)
        #expect(ring.drain().count == 5)
        #expect(ring.drain().isEmpty)
        #expect(ring.statistics.retained == 0)
        #expect(ring.statistics.recorded == 5)
    }

    @Test func capacityIsRoundedUpToAPowerOfTwo() {
        let ring = RingBufferRecorder(capacityPerShard: 5, shardCount: 3)
        #expect(ring.capacityPerShard == 8)
        #expect(ring.shardCount == 4)
    }

    @Test func fullRingOverwritesOldestAndCountsIt() {
        let ring = RingBufferRecorder(capacityPerShard: 8, shardCount: 1, policy: .overwriteOldest)
        for index in 0..<20 { ring.record(instantEvent("e\(index)", at: UInt64(index))) }
        let stats = ring.statistics
        #expect(stats.recorded == 20)
        #expect(stats.overwritten == 12)
        #expect(stats.dropped == 0)
        #expect(stats.retained == 8)
        #expect(ring.snapshot().map(\.name) == (12..<20).map { "e\($0)" })
    }

    @Test func dropNewestKeepsEarliestEventsAndCountsDrops() {
        let ring = RingBufferRecorder(capacityPerShard: 8, shardCount: 1, policy: .dropNewest)
        for index in 0..<20 { ring.record(instantEvent("e\(index)", at: UInt64(index))) }
        let stats = ring.statistics
        #expect(stats.dropped == 12)
        #expect(stats.overwritten == 0)
        #expect(ring.drain().map(\.name) == (0..<8).map { "e\($0)" })
        // Drained slots are free again: new events are stored, nothing counts as overwritten.
        for index in 20..<24 { ring.record(instantEvent("e\(index)", at: UInt64(index))) }
        #expect(ring.snapshot().map(\.name) == (20..<24).map { "e\($0)" })
        #expect(ring.statistics.overwritten == 0)
    }

    @Test func drainedSlotsAreNotCountedAsOverwritten() {
        let ring = RingBufferRecorder(capacityPerShard: 4, shardCount: 1)
        for index in 0..<4 { ring.record(instantEvent("a\(index)", at: UInt64(index))) }
        _ = ring.drain()
        for index in 0..<4 { ring.record(instantEvent("b\(index)", at: UInt64(10 + index))) }
        #expect(ring.statistics.overwritten == 0)
        #expect(ring.snapshot().map(\.name) == ["b0", "b1", "b2", "b3"])
    }

    @Test func concurrentTasksLoseNothingWithinCapacity() async {
        let tasks = 16
        let perTask = 500
        // Every task may land on the same shard, so one shard must hold everything.
        let ring = RingBufferRecorder(capacityPerShard: tasks * perTask, shardCount: 4)
        let clock = MonotonicClock()
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<tasks {
                group.addTask {
                    let tracer = Tracer(
                        recorder: ring, clock: clock, track: TraceTrack(node: 0, thread: UInt64(task), name: "task"))
                    for index in 0..<perTask {
                        tracer.instant("event", arguments: ["task": .int(Int64(task)), "index": .int(Int64(index))])
                        if index % 50 == 0 { await Task.yield() }
                    }
                }
            }
        }
        let events = ring.drain()
        let stats = ring.statistics
        #expect(stats.recorded == UInt64(tasks * perTask))
        #expect(stats.dropped == 0)
        #expect(stats.overwritten == 0)
        #expect(events.count == tasks * perTask)
        var seen = Set<[Int64]>()
        for event in events {
            guard case .int(let task) = event.arguments["task"], case .int(let index) = event.arguments["index"] else {
                Issue.record("event without its arguments: \(event)")
                continue
            }
            seen.insert([task, index])
        }
        #expect(seen.count == tasks * perTask)
        #expect(zip(events, events.dropFirst()).allSatisfy { $0.timestamp <= $1.timestamp })
    }

    @Test func concurrentThreadsLoseNothingWithinCapacity() async {
        // Detached tasks spread over the cooperative pool's threads, so several shards are used.
        let ring = RingBufferRecorder(capacityPerShard: 4096, shardCount: 8)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for index in 0..<400 { ring.record(instantEvent("\(task)/\(index)", at: UInt64(index))) }
                }
            }
        }
        #expect(Set(ring.snapshot().map(\.name)).count == 3200)
        #expect(ring.statistics.dropped == 0)
    }

    @Test func concurrentSnapshotsNeverTearEvents() async {
        let ring = RingBufferRecorder(capacityPerShard: 64, shardCount: 2)
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for index in 0..<5_000 {
                        ring.record(instantEvent("writer-\(task)-event-\(index)", at: UInt64(index), thread: UInt64(task)))
                    }
                }
            }
            group.addTask {
                for _ in 0..<50 {
                    for event in ring.snapshot() {
                        // A torn copy would mix one event's name with another's track.
                        #expect(event.name.hasPrefix("writer-\(event.track.thread)-"))
                    }
                    await Task.yield()
                }
            }
        }
        let stats = ring.statistics
        #expect(stats.recorded == 20_000)
        #expect(UInt64(stats.retained) + stats.overwritten + stats.dropped == stats.recorded)
    }

    @Test func drainsWhileThreadsRecordLoseAndRepeatNothing() async {
        let ring = RingBufferRecorder(capacityPerShard: 1 << 16, shardCount: 2)
        let drained = await withTaskGroup(of: [String].self) { group in
            for task in 0..<4 {
                group.addTask {
                    for index in 0..<10_000 { ring.record(instantEvent("\(task)/\(index)", at: UInt64(index))) }
                    return []
                }
            }
            group.addTask {
                var names: [String] = []
                for _ in 0..<2_000 {
                    names += ring.drain().map(\.name)
                }
                return names
            }
            var names: [String] = []
            for await part in group { names += part }
            return names + ring.drain().map(\.name)
        }
        #expect(drained.count == 40_000)
        #expect(Set(drained).count == 40_000)
        let stats = ring.statistics
        #expect(stats.recorded == 40_000)
        #expect(stats.dropped == 0)
        #expect(stats.retained == 0)
    }

    @Test func aDrainVisitsOnlyWhatWasRecordedSinceTheLastOne() {
        let ring = RingBufferRecorder(capacityPerShard: 8, shardCount: 1)
        for index in 0..<5 { ring.record(instantEvent("a\(index)", at: UInt64(index))) }
        #expect(ring.drain().map(\.name) == (0..<5).map { "a\($0)" })
        for index in 0..<3 { ring.record(instantEvent("b\(index)", at: UInt64(10 + index))) }
        #expect(ring.snapshot().map(\.name) == ["b0", "b1", "b2"])
        #expect(ring.drain().map(\.name) == ["b0", "b1", "b2"])
        // More than a lap since the last drain: the newest `capacity` events remain.
        for index in 0..<20 { ring.record(instantEvent("c\(index)", at: UInt64(20 + index))) }
        #expect(ring.drain().map(\.name) == (12..<20).map { "c\($0)" })
        #expect(ring.drain().isEmpty)
    }
}

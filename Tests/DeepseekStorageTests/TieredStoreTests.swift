import DeepseekCore
import DeepseekStorage
import DeepseekTensor
import DeepseekTracing
import Testing

@Suite struct TieredStoreTests {
    /// 1024 float32 = 4 KiB, filled with `value`.
    func block(_ value: Float) throws -> Tensor { try Tensor.full([1024], value: Double(value)) }

    func ssd() throws -> SSDTier { try SSDTier(SSDTierSettings(directory: scratchDirectory(), bufferBytes: 64 << 10, buffers: 8)) }

    @Test func evictionWritesBackOnlyWhatChanged() async throws {
        let store = TieredStore(memoryBudgetBytes: 8192, lower: try ssd())
        try await store.store(block(1), for: "a")
        try await store.flush()  // a is now clean: its value is on the SSD
        #expect(await store.counters().bytesWritten == 4096)
        try await store.store(block(2), for: "b")
        try await store.store(block(3), for: "c")  // evicts a, which is clean: no write
        var c = await store.counters()
        #expect(c.evictions == 1 && c.writeBacks == 0 && c.bytesWritten == 4096)
        try await store.store(block(4), for: "d")  // evicts b, which changed: one write
        c = await store.counters()
        #expect(c.evictions == 2 && c.writeBacks == 1 && c.bytesWritten == 8192)
        #expect(try await store.load("a").scalars(as: Float.self).allSatisfy { $0 == 1 })
        #expect(try await store.load("b").scalars(as: Float.self).allSatisfy { $0 == 2 })
        #expect(await store.memoryBytes() <= 8192)
        #expect(await store.peakMemoryBytes() <= 8192)
    }

    @Test func randomOperationsAgreeWithADictionary() async throws {
        let store = TieredStore(memoryBudgetBytes: 3 * 4096, lower: try ssd())
        var reference: [StorageKey: Float] = [:]
        var rng = SeededRandom(seed: 42)
        for i in 0..<300 {
            let key = StorageKey("k\(rng.next() % 12)")
            switch rng.next() % 5 {
            case 0, 1:
                try await store.store(block(Float(i)), for: key)
                reference[key] = Float(i)
            case 2, 3:
                if let expected = reference[key] {
                    #expect(try await store.load(key).scalars(as: Float.self)[0] == expected, "step \(i)")
                } else {
                    await #expect(throws: StorageError.self) { try await store.load(key) }
                }
            default:
                #expect(try await store.remove(key) == (reference.removeValue(forKey: key) != nil))
            }
            #expect(await store.memoryBytes() <= 3 * 4096)
        }
        #expect(await store.storedKeys() == reference.keys.sorted())
    }

    @Test func concurrentLoadsOfTheSameColdTensorsAllSeeTheirValues() async throws {
        let store = TieredStore(memoryBudgetBytes: 2 * 4096, lower: try ssd())
        for i in 0..<8 { try await store.store(block(Float(i)), for: StorageKey("k\(i)")) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for round in 0..<4 {
                for i in 0..<8 {
                    group.addTask {
                        let t = try await store.load(StorageKey("k\((i + round) % 8)"))
                        #expect(try t.scalars(as: Float.self)[0] == Float((i + round) % 8))
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    func runSchedule(prefetch: Bool) async throws -> StorageCounters {
        let store = TieredStore(
            lower: try ssd(), settings: TieredStoreSettings(memoryBudgetBytes: 3 * 4096, prefetch: prefetch, lookahead: 2))
        let keys = (0..<8).map { StorageKey("layer\($0)") }
        for (i, k) in keys.enumerated() { try await store.store(block(Float(i)), for: k) }
        try await store.flush()
        await store.setSchedule(keys.map { [$0] })
        let before = await store.counters()
        for _ in 0..<2 {
            for (i, k) in keys.enumerated() {
                await store.advance(to: i)
                await store.waitForPendingReads()  // the step's compute would run meanwhile
                #expect(try await store.load(k).scalars(as: Float.self)[0] == Float(i))
            }
        }
        return await store.counters().since(before)
    }

    @Test func prefetchFromTheScheduleRemovesStalls() async throws {
        let without = try await runSchedule(prefetch: false)
        let with = try await runSchedule(prefetch: true)
        #expect(without.loads == 16 && with.loads == 16)
        #expect(without.stalls == 16)  // 8 tensors cycling through room for 3: every load misses
        #expect(with.stalls <= 1)  // only the very first, before anything was announced ahead
        #expect(with.prefetchHits >= 15)
        #expect(with.hitRate > 0.9 && without.hitRate == 0)
    }

    @Test func aTensorLargerThanMemoryGoesStraightToTheLowerTier() async throws {
        let store = TieredStore(memoryBudgetBytes: 4096, lower: try ssd())
        let big = try Tensor.full([4096], value: 7)
        try await store.store(big, for: "big")
        #expect(await store.memoryBytes() == 0)
        #expect(await store.counters().bytesWritten == 16384)
        #expect(try await store.load("big").scalars(as: Float.self).allSatisfy { $0 == 7 })
    }

    @Test func readsWritesAndCountersAreTraced() async throws {
        let recorder = RingBufferRecorder(capacityPerShard: 4096)
        let tracer = Tracer(recorder: recorder, clock: MonotonicClock())
        let store = TieredStore(lower: try ssd(), settings: TieredStoreSettings(memoryBudgetBytes: 4096, tracer: tracer))
        try await store.store(block(1), for: "a")
        try await store.store(block(2), for: "b")
        _ = try await store.load("a")
        let events = recorder.snapshot()
        let storage = events.compactMap { if case .storage(let s) = $0.kind { s } else { nil } }
        #expect(storage.contains { $0.direction == .write && $0.bytes == 4096 })
        #expect(storage.contains { $0.direction == .read && $0.bytes == 4096 })
        #expect(events.contains { $0.name == "storage.hitRate" })
    }
}

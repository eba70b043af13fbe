import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing
import Testing

/// A ring sized for a burst keeps every event of it (the recording rate itself is measured by
/// `deepseek-bench tracing`, not here).
@Suite struct RecorderCapacityTests {
    @Test func aMillionEventsFitARingOfThatSizeWithoutDrops() throws {
        let count = 1 << 20
        let ring = RingBufferRecorder(capacityPerShard: count, shardCount: 1)
        let track = TraceTrack(node: 0, thread: 1, name: "OperatorActor op#1")
        for index in 0..<count {
            ring.record(
                TraceEvent(
                    timestamp: Instant(nanoseconds: UInt64(index)), track: track, category: .transport, name: "tensor",
                    kind: .flow(FlowID(rawValue: UInt64(index)), .send)))
        }
        #expect(ring.statistics.dropped == 0)
        #expect(ring.statistics.retained == count)
        let drained = ring.drain()
        #expect(drained.count == count)
        #expect(drained.first?.timestamp == Instant(nanoseconds: 0) && drained.last?.timestamp == Instant(nanoseconds: UInt64(count - 1)))
    }
}

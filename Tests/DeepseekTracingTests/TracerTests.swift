import DeepseekCore
import DeepseekTracing
import Testing

@Suite struct TracerTests {
    @Test func disabledTracerEvaluatesNothing() {
        let tracer = Tracer(recorder: NoOpRecorder(), clock: SteppingClock())
        var evaluated = false
        tracer.instant({ evaluated = true; return "name" }())
        tracer.counter({ evaluated = true; return "counter" }(), value: 1)
        #expect(!evaluated)
        #expect(!tracer.isEnabled)
        #expect(tracer.span("work") { 41 + 1 } == 42)
    }

    @Test func spanRecordsStartAndDurationFromTheInjectedClock() throws {
        let clock = SteppingClock(start: 1_000)
        let ring = RingBufferRecorder(capacityPerShard: 8, shardCount: 1)
        let tracer = Tracer(recorder: ring, clock: clock, track: TraceTrack(node: 2, thread: 7, name: "device/cpu0"))
        let value = tracer.span("matmul", category: .kernel, arguments: ["m": 64]) {
            clock.advance(by: 250)
            return 3
        }
        #expect(value == 3)
        let event = try #require(ring.drain().first)
        #expect(event.timestamp == Instant(nanoseconds: 1_000))
        #expect(event.kind == .complete(duration: 250))
        #expect(event.duration == 250)
        #expect(event.end == Instant(nanoseconds: 1_250))
        #expect(event.category == .kernel)
        #expect(event.track == TraceTrack(node: 2, thread: 7, name: "device/cpu0"))
        #expect(event.arguments["m"] == .int(64))
    }

    @Test func spanIsRecordedWhenTheBodyThrows() {
        struct Failure: Error {}
        let ring = RingBufferRecorder(capacityPerShard: 8, shardCount: 1)
        let tracer = Tracer(recorder: ring, clock: SteppingClock())
        #expect(throws: Failure.self) { try tracer.span("failing") { throw Failure() } }
        #expect(ring.snapshot().map(\.name) == ["failing"])
    }

    @Test func asyncSpanRecordsOneCompleteEvent() async {
        let clock = SteppingClock()
        let ring = RingBufferRecorder(capacityPerShard: 8, shardCount: 1)
        let tracer = Tracer(recorder: ring, clock: clock)
        await tracer.span("step") {
            await Task.yield()
            clock.advance(by: 9)
        }
        #expect(ring.snapshot().map(\.kind) == [.complete(duration: 9)])
    }

    @Test func eachHelperRecordsItsKind() {
        let clock = SteppingClock(start: 100)
        let ring = RingBufferRecorder(capacityPerShard: 16, shardCount: 1)
        let tracer = Tracer(recorder: ring, clock: clock)
        let start = clock.now()
        tracer.beginSpan("outer")
        clock.advance(by: 10)
        tracer.counter("queue", value: 3)
        tracer.kernel("gemm", startedAt: start, flops: 128, bytes: 64)
        tracer.transfer("send", startedAt: start, bytes: 4096, from: 0, to: 1)
        tracer.storage("spill", .write, startedAt: start, bytes: 512)
        tracer.endSpan("outer")
        let kinds = ring.snapshot().map(\.kind)
        #expect(kinds.contains(.spanBegin))
        #expect(kinds.contains(.spanEnd))
        #expect(kinds.contains(.counter(value: 3)))
        #expect(kinds.contains(.kernel(TraceKernel(duration: 10, flops: 128, bytes: 64))))
        #expect(kinds.contains(.transfer(TraceTransfer(duration: 10, bytes: 4096, source: 0, destination: 1))))
        #expect(kinds.contains(.storage(TraceStorageAccess(.write, duration: 10, bytes: 512))))
        // Events measured from `start` are stamped at `start`, so they sort before the counter.
        #expect(ring.snapshot().first?.timestamp == Instant(nanoseconds: 100))
    }

    @Test func onSwitchesTrackOnly() {
        let ring = RingBufferRecorder(capacityPerShard: 8, shardCount: 1)
        let tracer = Tracer(recorder: ring, clock: SteppingClock())
        let track = TraceTrack(node: 1, thread: 3, name: "op/relu")
        tracer.on(track).instant("fired")
        #expect(ring.snapshot().first?.track == track)
    }
}

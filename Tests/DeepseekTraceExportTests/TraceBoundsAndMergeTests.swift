import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing
import Testing

@Suite struct TraceBoundsTests {
    func isValid(_ events: [TraceEvent]) throws -> Bool {
        let output = TraceOutput()
        let writer = try ChromeTraceWriter(output: output)
        try writer.write(events)
        try writer.finish()
        let validation = try TraceValidation.validate(bytes: output.bytes)
        return validation.isValid && writer.statistics.unmatchedEndsDropped == 0 && writer.statistics.openSpansClosed == 0
    }

    @Test func keepLastKeepsWholeSpansAndFlowsReachingIntoTheWindow() throws {
        let events = Fixture.pipeline(messages: 1_000)
        let end = events.map(\.end.nanoseconds).max()!
        let kept = TraceBounds(keepLast: 100_000).apply(to: events)
        #expect(kept.count < events.count / 10)
        #expect(kept.allSatisfy { event in
            if case .flow = event.kind { return true }
            return event.end.nanoseconds + 100_000 >= end
        })
        #expect(try isValid(kept))
        #expect(TraceMerge.backwardFlows(in: kept).isEmpty)
        // Every kept message keeps all four steps.
        var steps: [FlowID: Int] = [:]
        for event in kept { if case .flow(let id, _) = event.kind { steps[id, default: 0] += 1 } }
        #expect(steps.values.allSatisfy { $0 == 4 })
    }

    @Test func samplingKeepsWholeMessagesAndBalancedSpans() throws {
        var events = Fixture.pipeline(messages: 2_000)
        for index in 0..<300 {
            events.append(Fixture.event("step", at: 10_000_000 + UInt64(index) * 100, on: .main, .spanBegin))
            events.append(Fixture.event("step", at: 10_000_000 + UInt64(index) * 100 + 50, on: .main, .spanEnd))
        }
        let kept = TraceBounds(sampleOneIn: 10).apply(to: events)
        var steps: [FlowID: Int] = [:]
        for event in kept { if case .flow(let id, _) = event.kind { steps[id, default: 0] += 1 } }
        #expect(steps.count > 120 && steps.count < 280)
        #expect(steps.values.allSatisfy { $0 == 4 })
        #expect(kept.filter { $0.kind == .spanBegin }.count == 30)
        #expect(try isValid(kept))
    }

    @Test func aggregationMergesRepeatsWithACount() throws {
        let track = Fixture.track(0, 1)
        var events: [TraceEvent] = []
        for index in 0..<100 {
            events.append(Fixture.event("poll", at: UInt64(index) * 10, on: track, .complete(duration: 5)))
            events.append(Fixture.event("depth", at: UInt64(index) * 10, on: track, .counter(value: 1)))
        }
        events.append(Fixture.event("other", at: 2_000, on: track, .instant))
        let kept = TraceBounds(aggregateRepeats: true).apply(to: events)
        #expect(kept.count == 3)
        #expect(kept[0].arguments["count"] == .int(100))
        #expect(kept[0].duration == 995)
        #expect(try isValid(kept))
    }
}

@Suite struct TraceMergeTests {
    /// Four nodes with skewed clocks exchanging messages in both directions.
    @Test func mergedFourNodeTraceHasNoBackwardFlows() throws {
        let skew: [Int64] = [0, 5_000_000, -3_000_000, 12_000_000]
        var rng = SeededRandom(seed: 7)
        var perNode: [[TraceEvent]] = Array(repeating: [], count: 4)
        var id: UInt64 = 1
        for round in 0..<200 {
            let from = Int(rng.next() % 4)
            var to = Int(rng.next() % 4)
            if to == from { to = (from + 1 + round % 3) % 4 }
            let sent = UInt64(20_000_000 + round * 50_000)
            let latency = 20_000 + rng.next() % 80_000
            let receive = sent + latency
            let local = { (node: Int, time: UInt64) in Instant(nanoseconds: UInt64(Int64(time) + skew[node])) }
            let flow = FlowID(rawValue: (UInt64(from) << 40) | id)
            id += 1
            let source = Fixture.track(UInt32(from), 1, "actor\(from)")
            let target = Fixture.track(UInt32(to), 1, "actor\(to)")
            perNode[from].append(TraceEvent(timestamp: local(from, sent), track: source, category: .transport, name: "m", kind: .flow(flow, .send)))
            perNode[to].append(TraceEvent(timestamp: local(to, receive), track: target, category: .transport, name: "m", kind: .flow(flow, .receive)))
            perNode[to].append(TraceEvent(timestamp: local(to, receive + 1_000), track: target, category: .runtime, name: "handle", kind: .flow(flow, .handlerBegin)))
            perNode[to].append(TraceEvent(timestamp: local(to, receive + 9_000), track: target, category: .runtime, name: "handle", kind: .flow(flow, .handlerEnd)))
        }
        let inputs = perNode.map(Fixture.sorted)
        // Unaligned, the skew sends arrows backwards.
        #expect(!TraceMerge.backwardFlows(in: Fixture.sorted(inputs.flatMap { $0 })).isEmpty)
        let merged = TraceMerge.merge(inputs)
        #expect(merged.backwardFlows.isEmpty)
        for node in 1..<4 {
            // Offsets are recovered to within the spread of one-way delays.
            #expect(abs(merged.offsets[node] - skew[node]) < 100_000, "node \(node): \(merged.offsets[node]) vs \(skew[node])")
        }
        let bytes = try ChromeTraceWriter.render(merged.events)
        let validation = try TraceValidation.validate(bytes: bytes)
        #expect(validation.isValid, "\(validation.issues.prefix(3))")
    }
}

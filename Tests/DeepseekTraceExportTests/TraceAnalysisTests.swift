import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing
import Testing

@Suite struct TraceAnalysisTests {
    @Test func hangIsDiagnosedNamingTheWaitingAndTheSilentActor() throws {
        let client = Fixture.track(0, 1, "OperatorActor client#1")
        let server = Fixture.track(1, 2, "ParameterShard shard#2")
        let other = Fixture.track(0, 3, "OperatorActor idle#3")
        var events = Fixture.message(1, from: client, to: server, sent: 1_000)  // answered
        events += Fixture.message(2, from: other, to: client, sent: 50_000)  // answered
        // The request that never gets a reply: sent, received, no handler.
        events += Fixture.message(3, from: client, to: server, sent: 100_000, handled: false, name: "pull weights")
        // A message lost on the way, destination known only from the "to" argument.
        events.append(Fixture.event("gradient", at: 120_000, on: other, .flow(FlowID(rawValue: 4), .send),
                                    arguments: ["to": "ParameterShard shard#2"]))
        // Round trip through the file: the analysis works from what `deepseek trace waits` reads.
        let document = try TraceReader.read(bytes: try ChromeTraceWriter.render(Fixture.sorted(events)))
        let graph = WaitForGraph(document.events)
        #expect(graph.edges.count == 2)
        let waiting = try #require(graph.edges.first)
        #expect(waiting.waiter == "OperatorActor client#1 (node 0)")
        #expect(waiting.waitedOn == "ParameterShard shard#2 (node 1)")
        #expect(waiting.state == .queued)
        #expect(graph.edges[1].state == .inTransit)
        #expect(graph.silentActors == ["ParameterShard shard#2 (node 1)"])
        #expect(graph.cycles.isEmpty)
        #expect(graph.text.contains("OperatorActor client#1 (node 0) waits on ParameterShard shard#2 (node 1): \"pull weights\""))
        // Before the request was sent, nothing was outstanding.
        #expect(WaitForGraph(document.events, at: 90_000).edges.isEmpty)
    }

    @Test func waitCycleIsReportedAsDeadlock() {
        let a = Fixture.track(0, 1, "a")
        let b = Fixture.track(0, 2, "b")
        var events = Fixture.message(1, from: a, to: b, sent: 0, handled: false)
        events += Fixture.message(2, from: b, to: a, sent: 10, handled: false)
        let graph = WaitForGraph(Fixture.sorted(events))
        #expect(graph.cycles == [["a (node 0)", "b (node 0)"]])
        #expect(graph.silentActors.isEmpty)
    }

    @Test func summaryReportsBusyTimeCriticalPathAndLatency() {
        let a = Fixture.track(0, 1, "producer")
        let b = Fixture.track(0, 2, "consumer")
        var events: [TraceEvent] = [Fixture.event("produce", at: 0, on: a, .complete(duration: 10_000))]
        events += Fixture.message(1, from: a, to: b, sent: 10_000, latency: 2_000, queue: 0, work: 30_000)
        events.append(Fixture.event("idle work", at: 0, on: b, .complete(duration: 1_000)))
        let summary = TraceSummary(Fixture.sorted(events))
        #expect(summary.duration == 42_000)
        let consumer = try! #require(summary.tracks.first { $0.track.name == "consumer" })
        #expect(consumer.busy == 31_000)
        #expect(summary.criticalPath.steps.map(\.name) == ["produce", "tensor", "handle tensor"])
        #expect(summary.criticalPath.length == 42_000)
        #expect(summary.latencyMedian == 2_000)
        #expect(summary.overlap.exposedCommunication == 2_000)  // in flight 10–12 µs, nothing computing then
        #expect(summary.text.contains("Critical path"))
    }

    @Test func diffOfIdenticalRunsIsEmptyAndChangesAreListed() {
        let first = Fixture.pipeline(messages: 100, seed: 3)
        #expect(TraceDiff(first, Fixture.pipeline(messages: 100, seed: 3)).isEmpty)
        let other = TraceDiff(first, Fixture.pipeline(messages: 120, seed: 4))
        #expect(!other.isEmpty)
        #expect(other.changes.contains { $0.subject == "messages" && $0.before == "100" && $0.after == "120" })
        #expect(TraceDiff(first, first).text == "No differences.\n")
    }
}

import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekRuntime
import DeepseekTensor
import DeepseekTestSupport
import DeepseekTracing
import Testing

/// A traced run shows every kernel on its device's row and links each dispatch and each
/// hand-over of a tensor between operators with one flow.
@Suite struct RuntimeTracingTests {
    @Test func aTracedRunRecordsKernelsDispatchesAndHandOvers() async throws {
        let recorder = RingBufferRecorder(capacityPerShard: 1 << 14)
        let network = InProcessNetwork()
        var settings = ActorSystemSettings(defaultCallTimeout: .seconds(60))
        settings.tracer = Tracer(recorder: recorder, clock: MonotonicClock())
        let system = DeepseekActorSystem(transport: network.transport(for: NodeID(0)), settings: settings)
        try await system.start()
        let cpu = DeviceActor(backend: CPUBackend(), kind: .cpu, name: "cpu0", actorSystem: system)
        let engine = try await Engine(actorSystem: system, devices: [cpu], settings: EngineSettings(inlineSeconds: 0))
        let graph = try twoBranchGraph(depth: 2)
        _ = try await engine.run(graph, try feeds(for: graph))
        let events = recorder.snapshot()
        let computeNodes = graph.nodes.filter { !$0.op.isSource }.count

        let kernels = events.filter { if case .kernel = $0.kind { true } else { false } }
        #expect(kernels.count == computeNodes)
        #expect(kernels.allSatisfy { $0.track.name == "DeviceActor cpu0" })

        var steps: [FlowID: [(FlowStep, TraceTrack)]] = [:]
        for e in events { if case .flow(let id, let step) = e.kind { steps[id, default: []].append((step, e.track)) } }
        let dispatches = steps.values.filter { $0.contains { $0.0 == .send && $0.1.name == "Engine" } }
        #expect(dispatches.count == computeNodes)
        for d in dispatches {
            #expect(d.map(\.0) == [.send, .handlerBegin, .handlerEnd])
            #expect(d[1].1.name.hasPrefix("OperatorActor "))
        }
        // Hand-overs: a send on the producer's row, the start of the consumer's firing on its row.
        let handOvers = steps.values.filter { $0.first.map { $0.0 == .send && $0.1.name.hasPrefix("OperatorActor ") } ?? false }
        let edges = graph.nodes.filter { !$0.op.isSource }.reduce(0) { n, node in
            n + node.inputs.filter { !graph[node: graph[value: $0].producer].op.isSource }.count
        }
        #expect(handOvers.count == edges)
        #expect(handOvers.allSatisfy { $0.map(\.0) == [.send, .handlerBegin, .handlerEnd] && $0[0].1 != $0[1].1 })
        let runs = events.filter { $0.name == "run" && $0.track.name == "Engine" }
        #expect(runs.count == 1)
    }

    @Test func anUntracedRunRecordsNothing() async throws {
        let rt = try await LocalRuntime()
        let engine = try await Engine(actorSystem: rt.system, devices: [rt.cpu()])
        #expect(!engine.tracer.isEnabled)
        let graph = try twoBranchGraph(depth: 1)
        _ = try await engine.run(graph, try feeds(for: graph))
    }
}

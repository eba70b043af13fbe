import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekKernelsOpenCL
import DeepseekRuntime
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// An actor system on an in-process network, with devices.
struct LocalRuntime {
    let network = InProcessNetwork()
    let system: DeepseekActorSystem

    init(rank: Int = 0, network: InProcessNetwork? = nil) async throws {
        system = DeepseekActorSystem(transport: (network ?? self.network).transport(for: NodeID(rank)), settings: ActorSystemSettings(defaultCallTimeout: .seconds(60)))
        try await system.start()
    }

    func cpu(_ name: String = "cpu0") -> DeviceActor {
        DeviceActor(backend: CPUBackend(), kind: .cpu, name: name, actorSystem: system)
    }
}

func twoBranchGraph(batch: Int = 32, width: Int = 64, depth: Int = 3, pins: (DevicePin, DevicePin) = (.any, .any)) throws -> Graph {
    var b = GraphBuilder()
    b.input("x", TensorType([batch, width]))
    for branch in ["a", "b"] {
        let pin = branch == "a" ? pins.0 : pins.1
        var previous = "x"
        for layer in 0..<depth {
            b.parameter("\(branch)w\(layer)", TensorType([width, width]))
            b.op("\(branch)mm\(layer)", .matmul, [previous, "\(branch)w\(layer)"], on: pin)
            b.op("\(branch)act\(layer)", .unary(.tanh), ["\(branch)mm\(layer)"], on: pin)
            previous = "\(branch)act\(layer)"
        }
    }
    b.op("sum", .binary(.add), ["aact\(depth - 1)", "bact\(depth - 1)"])
    b.outputs(["sum"])
    return try b.build()
}


@Suite struct EngineTests {
    @Test func engineOutputsEqualTheSequentialRunBitForBit() async throws {
        let rt = try await LocalRuntime()
        let device = rt.cpu()
        let engine = try await Engine(actorSystem: rt.system, devices: [device])
        let graph = try twoBranchGraph()
        let f = try feeds(for: graph)
        let result = try await engine.run(graph, f)
        let expected = try KernelBackends.using(CPUBackend()) { try graph.run(f) }
        expectClose(result.outputs[0], expected[0], tolerance: Tolerance(absolute: 0, relative: 0))
        #expect(result.report.nodes == 13)
        #expect(result.report.devices[0].nodes == 13)
        withExtendedLifetime(device) {}
    }

    @Test func anUnchangedGraphIsPlannedOnce() async throws {
        let rt = try await LocalRuntime()
        let device = rt.cpu()
        let engine = try await Engine(actorSystem: rt.system, devices: [device])
        let f = try feeds(for: try twoBranchGraph())
        let first = try await engine.run(try twoBranchGraph(), f)
        let second = try await engine.run(try twoBranchGraph(), f)  // traced again: same structure
        #expect(!first.report.planCacheHit)
        #expect(second.report.planCacheHit)
        let stats = await engine.planCacheStatistics
        #expect(stats.hits == 1 && stats.misses == 1)
        _ = try await engine.run(try twoBranchGraph(width: 32), try feeds(for: try twoBranchGraph(width: 32)))
        #expect(await engine.planCacheStatistics.misses == 2)
        withExtendedLifetime(device) {}
    }

    @Test func independentBranchesSpreadOverTwoDevices() async throws {
        let rt = try await LocalRuntime()
        let devices = [rt.cpu("cpu0"), rt.cpu("cpu1")]
        let engine = try await Engine(actorSystem: rt.system, devices: devices)
        let graph = try twoBranchGraph(batch: 64, width: 256, depth: 4)
        let f = try feeds(for: graph)
        let result = try await engine.run(graph, f)
        let expected = try KernelBackends.using(CPUBackend()) { try graph.run(f) }
        expectClose(result.outputs[0], expected[0], tolerance: Tolerance(absolute: 0, relative: 0))
        #expect(result.report.devices.allSatisfy { $0.nodes > 0 }, "\(result.report)")
        withExtendedLifetime(devices) {}
    }

    @Test func pinsAreHonoured() async throws {
        let rt = try await LocalRuntime()
        let devices = [rt.cpu("cpu0"), rt.cpu("cpu1")]
        let engine = try await Engine(actorSystem: rt.system, devices: devices)
        let graph = try twoBranchGraph(pins: (DevicePin(device: 1), DevicePin(device: 1)))
        let result = try await engine.run(graph, try feeds(for: graph))
        #expect(result.report.devices[1].nodes == 12)
        #expect(result.report.devices[0].nodes == 1)
        withExtendedLifetime(devices) {}
    }

    @Test func aNodePinnedToAMissingDeviceKindFailsBeforeAnythingRuns() async throws {
        let rt = try await LocalRuntime()
        let device = rt.cpu()
        let engine = try await Engine(actorSystem: rt.system, devices: [device])
        let graph = try twoBranchGraph(pins: (DevicePin(kind: .opencl), .any))
        let error = try await #require(throws: RuntimeError.self) { try await engine.run(graph, try feeds(for: graph)) }
        #expect(error.code == .placement)
        #expect(error.message.contains("amm0") && error.message.contains("opencl"), "\(error)")
        #expect(try await device.usage().nodes == 0)
        withExtendedLifetime(device) {}
    }

    @Test func anOpThatNoDeviceCanRunFailsBeforeAnythingRuns() async throws {
        let rt = try await LocalRuntime()
        // A device of a kind other than cpu: the CPU-only gradient kernel cannot run there.
        let device = DeviceActor(backend: ReferenceBackend(), kind: DeviceKind("accelerator"), name: "acc0", actorSystem: rt.system)
        let engine = try await Engine(actorSystem: rt.system, devices: [device])
        var g = Graph()
        let x = try g.addInput("x", TensorType([1, 1, 4, 4]))
        let cols = try g.add(.custom(Im2col(Conv2dParameters(), kernel: (h: 3, w: 3))), [x], name: "cols")[0]
        g.outputs = [cols]
        let error = try await #require(throws: RuntimeError.self) {
            try await engine.run(g, GraphFeeds(inputs: ["x": try Tensor.zeros([1, 1, 4, 4])]))
        }
        #expect(error.code == .placement)
        #expect(error.message.contains("\"cols\"") && error.message.contains("runs on cpu"), "\(error)")
        #expect(try await device.usage().nodes == 0)
        withExtendedLifetime(device) {}
    }

    @Test func aKernelErrorNamesTheNode() async throws {
        let rt = try await LocalRuntime()
        let device = rt.cpu()
        let engine = try await Engine(actorSystem: rt.system, devices: [device])
        var b = GraphBuilder()
        b.input("labels", TensorType([2], .int64))
        b.input("logits", TensorType([2, 3]))
        b.op("loss", .crossEntropy(labelSmoothing: 0), ["logits", "labels"])
        b.outputs(["loss"])
        let graph = try b.build()
        let f = GraphFeeds(inputs: ["labels": try Tensor([Int64(0), 7], shape: [2]), "logits": try Tensor.zeros([2, 3])])
        let error = try await #require(throws: RuntimeError.self) { try await engine.run(graph, f) }
        #expect(error.message.contains("\"loss\""), "\(error)")
        withExtendedLifetime(device) {}
    }

    @Test(.enabled(if: OpenCLBackend.isAvailable, "no OpenCL device"))
    func branchesRunOnCPUAndOpenCLWithUtilisationReported() async throws {
        let rt = try await LocalRuntime()
        let devices = [rt.cpu(), DeviceActor(backend: try OpenCLBackend(), kind: .opencl, name: "opencl0", actorSystem: rt.system)]
        let engine = try await Engine(actorSystem: rt.system, devices: devices)
        let graph = try twoBranchGraph(batch: 64, width: 128, depth: 2, pins: (DevicePin(kind: .cpu), DevicePin(kind: .opencl)))
        let f = try feeds(for: graph)
        let result = try await engine.run(graph, f)
        let expected = try KernelBackends.using(ReferenceBackend()) { try graph.run(f) }
        expectClose(result.outputs[0], expected[0], tolerance: Tolerance(absolute: 1e-4, relative: 1e-4))
        #expect(result.report.devices[1].nodes == 4)
        #expect(result.report.utilisation.allSatisfy { $0 > 0 })
        withExtendedLifetime(devices) {}
    }
}

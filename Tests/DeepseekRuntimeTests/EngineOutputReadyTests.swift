import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekRuntime
import DeepseekTensor
import DeepseekTestSupport
import Distributed
import Synchronization
import Testing

/// What an `outputReady` handler saw, in order.
final class OutputLog: Sendable {
    let entries = Mutex<[(index: Int, tensor: Tensor)]>([])
    var indices: [Int] { entries.withLock { $0.map(\.index) } }
    func handler() -> OutputHandler { { i, t in self.entries.withLock { $0.append((i, t)) } } }
}

/// `Engine.run(_:_:outputReady:)`: a caller learns each output as soon as the node producing it
/// has completed, not when the whole graph has run.
@Suite struct EngineOutputReadyTests {
    /// x → matmul → tanh → matmul → tanh → …, `depth` layers; outputs as given by layer index.
    func chain(depth: Int, outputs: [Int], alsoInput: Bool = false) throws -> Graph {
        var b = GraphBuilder()
        addLayers(&b, depth: depth)
        b.outputs(outputs.map { "act\($0)" } + (alsoInput ? ["x"] : []))
        return try b.build()
    }

    /// The input `x` [16, 32] and `depth` layers `act_i = tanh(act_{i-1} · w_i)`; returns the last one's name.
    @discardableResult
    func addLayers(_ b: inout GraphBuilder, depth: Int) -> String {
        b.input("x", TensorType([16, 32]))
        var previous = "x"
        for layer in 0..<depth {
            b.parameter("w\(layer)", TensorType([32, 32]))
            b.op("mm\(layer)", .matmul, [previous, "w\(layer)"])
            b.op("act\(layer)", .unary(.tanh), ["mm\(layer)"])
            previous = "act\(layer)"
        }
        return previous
    }

    /// The training graph of `chain(depth:)` summed to a loss: outputs `[loss, dw0, dw1, …]`.
    func trainingChain(depth: Int) throws -> Graph {
        var b = GraphBuilder()
        let previous = addLayers(&b, depth: depth)
        b.op("loss", .reduce(.sum, axes: [0, 1], keepDims: false), [previous])
        b.outputs(["loss"])
        let forward = try b.build()
        return try forward.trainingGraph(loss: forward.outputs[0]).graph
    }

    @Test func aTrainingGraphReportsTheLastLayersGradientFirst() async throws {
        let rt = try await LocalRuntime()
        let device = rt.cpu()
        // Outputs first: each gradient as soon as backward can make it — last layer first —
        // not after the rest of backward, which the critical path alone would prefer.
        let engine = try await Engine(actorSystem: rt.system, devices: [device])
        let graph = try trainingChain(depth: 4)
        let log = OutputLog()
        let result = try await engine.run(graph, try feeds(for: graph), outputReady: log.handler())
        #expect(log.indices == [0, 4, 3, 2, 1])
        // The same values as a run that reports nothing, on an engine that orders by the critical path only.
        let plain = try await Engine(actorSystem: rt.system, devices: [device], settings: EngineSettings(outputsFirst: false))
        let reference = try await plain.run(graph, try feeds(for: graph))
        for (a, b) in zip(result.outputs, reference.outputs) { expectClose(a, b, tolerance: Tolerance(absolute: 0, relative: 0)) }
        withExtendedLifetime(device) {}
    }

    @Test func everyOutputIsReportedOnceWithTheValueTheRunReturns() async throws {
        let rt = try await LocalRuntime()
        let device = rt.cpu()
        let engine = try await Engine(actorSystem: rt.system, devices: [device])
        let graph = try chain(depth: 4, outputs: [3, 1, 0])
        let log = OutputLog()
        let result = try await engine.run(graph, try feeds(for: graph), outputReady: log.handler())
        // Everything was reported before `run` returned.
        let seen = log.entries.withLock { $0 }
        #expect(seen.map(\.index).sorted() == [0, 1, 2])
        for (i, t) in seen { expectClose(t, result.outputs[i], tolerance: Tolerance(absolute: 0, relative: 0)) }
        withExtendedLifetime(device) {}
    }

    @Test func outputsAreReportedInTheOrderTheyAreProducedNotTheOrderListed() async throws {
        let rt = try await LocalRuntime()
        let device = rt.cpu()
        let engine = try await Engine(actorSystem: rt.system, devices: [device])
        // Listed last layer first; a chain can only produce them first layer first.
        let graph = try chain(depth: 4, outputs: [3, 2, 1, 0])
        let log = OutputLog()
        _ = try await engine.run(graph, try feeds(for: graph), outputReady: log.handler())
        #expect(log.indices == [3, 2, 1, 0])
        // The plan is cached now: the second run reports the same way.
        let again = OutputLog()
        let second = try await engine.run(graph, try feeds(for: graph), outputReady: again.handler())
        #expect(second.report.planCacheHit)
        #expect(again.indices == [3, 2, 1, 0])
        withExtendedLifetime(device) {}
    }

    @Test func anOutputThatIsAnInputIsReportedFirstAndARepeatedOutputAtEveryPosition() async throws {
        let rt = try await LocalRuntime()
        let device = rt.cpu()
        let engine = try await Engine(actorSystem: rt.system, devices: [device])
        let graph = try chain(depth: 2, outputs: [1, 0, 1], alsoInput: true)
        let f = try feeds(for: graph)
        let log = OutputLog()
        let result = try await engine.run(graph, f, outputReady: log.handler())
        let seen = log.entries.withLock { $0 }
        #expect(seen.first?.index == 3)
        #expect(seen.map(\.index).sorted() == [0, 1, 2, 3])
        // Position 1 (layer 0) comes before positions 0 and 2 (layer 1, listed twice).
        #expect(seen.dropFirst().map(\.index).first == 1)
        expectClose(result.outputs[3], try #require(f.inputs["x"]), tolerance: Tolerance(absolute: 0, relative: 0))
        withExtendedLifetime(device) {}
    }

    @Test func outputsOfNodesOnAnotherProcessAreReportedToo() async throws {
        let network = InProcessNetwork()
        let a = try await LocalRuntime(rank: 0, network: network)
        let b = try await LocalRuntime(rank: 1, network: network)
        // Both outputs come from nodes pinned to node 1; their values travel back in the firing's reply.
        var builder = GraphBuilder()
        builder.input("x", TensorType([16, 32]))
        builder.parameter("w", TensorType([32, 32]))
        builder.op("mm", .matmul, ["x", "w"], on: DevicePin(process: 1))
        builder.op("act", .unary(.tanh), ["mm"], on: DevicePin(process: 1))
        builder.op("out", .unary(.tanh), ["act"])
        builder.outputs(["out", "act"])
        let graph = try builder.build()
        let remoteDevice = b.cpu("node1.cpu")
        let remote = RuntimeNode(devices: [remoteDevice], actorSystem: b.system)
        await remote.whenLocal { $0.register(graph) }
        let remoteRef = try RuntimeNode.resolve(id: remote.id, using: a.system)
        let localDevice = a.cpu("node0.cpu")
        let engine = try await Engine(actorSystem: a.system, devices: [localDevice] + (try await remoteRef.devices()), remoteNodes: [remoteRef])
        let log = OutputLog()
        let result = try await engine.run(graph, try feeds(for: graph), outputReady: log.handler())
        let seen = log.entries.withLock { $0 }
        #expect(seen.map(\.index) == [1, 0])
        for (i, t) in seen { expectClose(t, result.outputs[i], tolerance: Tolerance(absolute: 0, relative: 0)) }
        withExtendedLifetime((remote, remoteDevice, localDevice)) {}
    }
}

import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekRuntime
import DeepseekTensor
import Distributed

/// `deepseek node --run-graph`: every node builds the same graph, one branch pinned to each node;
/// the coordinator runs it through an engine whose devices span the cluster and checks the
/// outputs against the same graph run in its own process.
enum NodeGraphRun {
    static let runtimePath = "runtime/node"

    /// One branch of `depth` (matmul + tanh) layers per node, summed on the coordinator.
    static func graph(worldSize: Int, width: Int = 128, depth: Int = 2) throws -> Graph {
        var b = GraphBuilder()
        b.input("x", TensorType([32, width]))
        var ends: [String] = []
        for node in 0..<worldSize {
            var previous = "x"
            for layer in 0..<depth {
                b.parameter("w\(node).\(layer)", TensorType([width, width]))
                b.op("mm\(node).\(layer)", .matmul, [previous, "w\(node).\(layer)"], on: DevicePin(process: node))
                b.op("act\(node).\(layer)", .unary(.tanh), ["mm\(node).\(layer)"], on: DevicePin(process: node))
                previous = "act\(node).\(layer)"
            }
            ends.append(previous)
        }
        var total = ends[0]
        for (i, e) in ends.dropFirst().enumerated() {
            b.op("sum\(i)", .binary(.add), [total, e], on: DevicePin(process: 0))
            total = "sum\(i)"
        }
        b.outputs([total])
        return try b.build()
    }

    static func feeds(for graph: Graph) throws -> GraphFeeds {
        var rng = SeededRandom(seed: 2024)
        var f = GraphFeeds()
        for n in graph.nodes {
            let t = graph[value: n.outputs[0]].type
            switch n.op {
            case .input(let name): f.inputs[name] = try Tensor.normal(t.shape, rng: &rng)
            case .parameter(let name): f.parameters[name] = try Tensor.normal(t.shape, std: 0.1, rng: &rng)
            default: break
            }
        }
        return f
    }

    /// Sets up this node's runtime (a CPU device and a `RuntimeNode` at a well-known path).
    static func host(rank: Int, worldSize: Int, system: DeepseekActorSystem) throws -> (RuntimeNode, DeviceActor, Graph) {
        let device = DeviceActor(backend: CPUBackend(), kind: .cpu, name: "node\(rank).cpu", actorSystem: system)
        let runtime = DeepseekActorSystem.withWellKnownPath(runtimePath) { RuntimeNode(devices: [device], actorSystem: system) }
        return (runtime, device, try graph(worldSize: worldSize))
    }

    /// On the coordinator: runs the graph across the cluster and compares with a local run.
    static func coordinate(worldSize: Int, local: DeviceActor, system: DeepseekActorSystem, say: @Sendable (String) -> Void) async throws {
        let graph = try graph(worldSize: worldSize)
        var devices = [local]
        var remotes: [RuntimeNode] = []
        for peer in 1..<worldSize {
            let remote = try RuntimeNode.resolve(id: .wellKnown(runtimePath, on: NodeID(peer)), using: system)
            remotes.append(remote)
            devices.append(contentsOf: try await remote.devices())
        }
        let engine = try await Engine(actorSystem: system, devices: devices, remoteNodes: remotes)
        let f = try feeds(for: graph)
        let result = try await engine.run(graph, f)
        let expected = try KernelBackends.using(CPUBackend()) { try graph.run(f) }
        let a = try result.outputs[0].scalars(as: Float.self)
        let e = try expected[0].scalars(as: Float.self)
        let differing = zip(a, e).filter { $0.0.bitPattern != $0.1.bitPattern }.count
        guard differing == 0 else {
            throw RuntimeError(.remote, "graph across \(worldSize) nodes: \(differing) of \(a.count) outputs differ from the single-process run")
        }
        say("graph across \(worldSize) nodes: \(result.report.nodes) operators, outputs identical to the single-process run (\(a.count) values)")
        for line in result.report.description.split(separator: "\n") { say("  \(line)") }
    }
}

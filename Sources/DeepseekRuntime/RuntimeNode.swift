public import DeepseekActors
public import DeepseekCore
public import DeepseekGraph
public import Distributed
import Synchronization

/// One process's share of the runtime: its devices, and a factory for the operator actors the
/// engine places there.
///
/// Every process of a cluster builds the same graphs from the same program and registers them
/// here; the engine in the coordinating process then asks each `RuntimeNode` to instantiate the
/// operators of a graph (named by its structural hash) that it placed on that node. Tensors cross
/// processes only as operator inputs and outputs.
public distributed actor RuntimeNode: WireCodable {
    public typealias ActorSystem = DeepseekActorSystem

    let localDevices: [DeviceActor]
    private var graphs: [StructuralHash: Graph] = [:]
    /// Operators instantiated here, by graph: the actor system holds local actors weakly, so the
    /// node keeps them alive while an engine elsewhere may still send to them.
    private var operators: [StructuralHash: [OperatorActor]] = [:]

    /// A runtime node hosting `devices` (created on `actorSystem`).
    public init(devices: [DeviceActor], actorSystem: DeepseekActorSystem) {
        self.localDevices = devices
        self.actorSystem = actorSystem
    }

    /// Makes `graph` available to engines in other processes.
    public func register(_ graph: Graph) { graphs[graph.structuralHash] = graph }

    /// The devices of this process.
    public distributed func devices() -> [DeviceActor] { localDevices }

    /// Creates operator actors for `nodes` of the registered graph with hash (`graphHigh`,
    /// `graphLow`); `deviceIndices[i]` is the engine's index of this node's device `i`.
    public distributed func instantiate(graphHigh: UInt64, graphLow: UInt64, nodes: [Int], deviceIndices: [Int]) throws -> [OperatorActor] {
        let key = StructuralHash(high: graphHigh, low: graphLow)
        guard let graph = graphs[key] else {
            throw RuntimeError(.remote, "node \(actorSystem.node.rank) has no graph \(key); build the same graph in every process and register it with RuntimeNode.register")
        }
        guard deviceIndices.count == localDevices.count else {
            throw RuntimeError(.remote, "the engine maps \(deviceIndices.count) devices to node \(actorSystem.node.rank), which has \(localDevices.count)")
        }
        var table: [Int: DeviceActor] = [:]
        for (i, d) in zip(deviceIndices, localDevices) { table[i] = d }
        let results = Set(graph.outputs)
        let made = try nodes.map { raw in
            guard graph.nodes.indices.contains(raw) else { throw RuntimeError(.remote, "graph \(key) has no node n\(raw)") }
            let n = graph[node: GraphNodeID(raw)]
            return DeepseekActorSystem.withPath("operators/\(n.id)") {
                OperatorActor(
                    node: n.id, op: n.op, arity: n.inputs.count, process: Int(actorSystem.node.rank), devices: table,
                    resultOutputs: Set(n.outputs.enumerated().filter { results.contains($0.element) }.map(\.offset)), actorSystem: actorSystem)
            }
        }
        operators[key, default: []].append(contentsOf: made)
        return made
    }

    /// Drops the operators of a graph no engine will run again.
    public distributed func forget(graphHigh: UInt64, graphLow: UInt64) {
        operators[StructuralHash(high: graphHigh, low: graphLow)] = nil
    }

    /// Tells a local operator where its outputs go.
    public distributed func connect(_ op: OperatorActor, edges: [OperatorEdge]) async throws {
        guard await op.whenLocal({ $0.connect(edges) }) != nil else {
            throw RuntimeError(.remote, "operator \(op.id) is not in node \(actorSystem.node.rank)")
        }
    }
}

extension OperatorEdge: WireCodable {
    public func encode(to writer: inout WireWriter) {
        writer.encode(consumer)
        writer.encode(slot)
        writer.encode(process)
        writer.encode(output)
    }

    public static func decode(from reader: inout WireReader) throws -> OperatorEdge {
        OperatorEdge(consumer: try reader.decode(OperatorActor.self), slot: try reader.decode(Int.self), process: try reader.decode(Int.self), output: try reader.decode(Int.self))
    }
}

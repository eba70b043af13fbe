public import DeepseekGraph
import DeepseekTensor

/// Rewrites traced model graphs for inference.
///
/// `optimized(_:)` runs `LinearFusionPass`, so each matrix product takes the add after it —
/// a linear layer's bias, and in attention the padding mask on the scores — in place, in one
/// pass over the product instead of an extra tensor and two more passes. The exact GELU is then
/// split off again as a node of its own: inside the fused node it would run the pass's generic
/// element loop, which evaluates `erf` in `Double` through libm, while the backend's own
/// `geluExact` kernel is several times faster (on the CPU backend, a vectorised float32
/// `erf`). The result has the same inputs, parameters and outputs as the traced graph.
///
/// ```swift
/// let graph = try InferenceGraph.optimized(tracer.finish(outputs: [hidden]))
/// ```
public enum InferenceGraph {
    /// The rewritten graph; `graph` itself when the pass finds nothing to fuse.
    ///
    /// - Throws: `GraphError` when a rewrite produces an invalid graph (a bug, reported rather
    ///   than trapped so the caller can run the traced graph instead).
    public static func optimized(_ graph: Graph) throws -> Graph {
        let (fused, report) = try LinearFusionPass().run(graph)
        guard report.notes.count > 0 else { return graph }
        return try splittingActivations(fused)
    }

    /// `fused` with every `FusedLinear` that ends in the exact GELU replaced by the same fused
    /// product without the activation, followed by the GELU as a `unary` node. (The tanh form
    /// stays fused: the backend evaluates it in `Double` too, so splitting would only add a pass.)
    static func splittingActivations(_ fused: Graph) throws -> Graph {
        var result = Graph()
        // Nodes are in topological order, so every input is bound before it is read.
        var mapped = [ValueID?](repeating: nil, count: fused.values.count)
        func bind(_ old: [ValueID], _ new: [ValueID]) {
            for (o, n) in zip(old, new) { mapped[o.rawValue] = n }
        }
        for node in fused.nodes {
            let inputs = node.inputs.map { mapped[$0.rawValue]! }
            let type = fused[value: node.outputs[0]].type
            switch node.op {
            case .input(let name):
                bind(node.outputs, [try result.addInput(name, type, pin: node.pin)])
            case .parameter(let name):
                bind(node.outputs, [try result.addParameter(name, type, pin: node.pin)])
            case .custom(let op as FusedLinear) where op.activation == .geluExact:
                let product = try result.add(
                    .custom(FusedLinear(hasBias: op.hasBias, activation: nil)), inputs, name: "\(node.name).linear", pin: node.pin)
                bind(node.outputs, try result.add(.unary(.geluExact), product, name: node.name, pin: node.pin))
            default:
                bind(node.outputs, try result.add(node.op, inputs, name: node.name, pin: node.pin))
            }
        }
        result.outputs = fused.outputs.map { mapped[$0.rawValue]! }
        return result
    }
}

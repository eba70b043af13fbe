public import DeepseekGraph
import DeepseekCore
import DeepseekTensor

/// Random feeds for every input and parameter of `graph`: inputs normal with σ 0.5, parameters
/// with σ 0.2, drawn in node order from `seed`.
public func feeds(for graph: Graph, seed: UInt64 = 1) throws -> GraphFeeds {
    var rng = SeededRandom(seed: seed)
    var f = GraphFeeds()
    for n in graph.nodes {
        let t = graph[value: n.outputs[0]].type
        switch n.op {
        case .input(let name): f.inputs[name] = try Tensor.normal(t.shape, std: 0.5, rng: &rng)
        case .parameter(let name): f.parameters[name] = try Tensor.normal(t.shape, std: 0.2, rng: &rng)
        default: break
        }
    }
    return f
}

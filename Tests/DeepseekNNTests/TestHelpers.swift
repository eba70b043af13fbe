import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import Testing

/// Traces `model` on an input of `x`'s type and runs the graph with the model's parameters.
func runTraced(_ model: some Module, _ x: Tensor) throws -> (graph: Graph, output: Tensor) {
    let graph = try model.trace(TensorType(x.shape, x.dtype))
    let output = try graph.run(GraphFeeds(inputs: ["x": x], parameters: model.parameterValues))[0]
    return (graph, output)
}

/// The graph's parameter nodes by name with their types.
func graphParameters(_ graph: Graph) -> [String: Shape] {
    Dictionary(uniqueKeysWithValues: graph.parameterNodes.map { ($0.name, graph[value: $0.outputs[0]].type.shape) })
}

/// Expects the model's parameters to be exactly `expected` (names in order, with shapes) and the
/// traced graph to read each of them under the same name.
func expectParameters(
    _ model: some Module, in graph: Graph, _ expected: KeyValuePairs<String, [Int]>,
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    #expect(model.parameters.map(\.name) == expected.map(\.key), sourceLocation: sourceLocation)
    #expect(model.parameters.map(\.value.shape.dims) == expected.map(\.value), sourceLocation: sourceLocation)
    #expect(graphParameters(graph) == Dictionary(uniqueKeysWithValues: expected.map { ($0.key, Shape($0.value)) }), sourceLocation: sourceLocation)
}

/// The output type of a graph's first output.
func outputType(_ graph: Graph) -> TensorType { graph[value: graph.outputs[0]].type }

/// Seeded uniform values in [-1, 1).
func values(_ shape: Shape, seed: UInt64) throws -> Tensor {
    var rng = SeededRandom(seed: seed)
    return try Tensor.uniform(shape, low: -1, high: 1, rng: &rng)
}

/// `x·Wᵀ + b` for a `Linear`, with eager tensor ops.
func eagerLinear(_ layer: Linear, _ x: Tensor) throws -> Tensor {
    let y = try x.matmul(layer.weight.value.transposed())
    return try layer.bias.map { try y + $0.value } ?? y
}

/// Layer normalisation over the last axis, written out: `(x − mean)/√(var + ε)·w + b`.
func eagerLayerNorm(_ layer: LayerNorm, _ x: Tensor) throws -> Tensor {
    let mean = try x.mean(axes: [-1], keepDims: true)
    let centered = try x - mean
    let variance = try centered.square().mean(axes: [-1], keepDims: true)
    var y = try centered / (variance + layer.epsilon).sqrt()
    if let w = layer.weight { y = try y * w.value }
    if let b = layer.bias { y = try y + b.value }
    return y
}

/// Attention head by head: slices of the projections, `softmax(q·kᵀ/√d [+ mask])·v`, concatenated.
func eagerAttention(_ layer: MultiHeadSelfAttention, _ x: Tensor) throws -> Tensor {
    let q = try eagerLinear(layer.q, x)
    let k = try eagerLinear(layer.k, x)
    let v = try eagerLinear(layer.v, x)
    let d = layer.headDim
    let t = x.shape[1]
    var mask = [Float](repeating: 0, count: t * t)
    for i in 0..<t { for j in 0..<t where j > i { mask[i * t + j] = -.infinity } }
    var heads: [Tensor] = []
    for h in 0..<layer.heads {
        let qh = try q.sliced(axis: 2, start: h * d, end: (h + 1) * d)
        let kh = try k.sliced(axis: 2, start: h * d, end: (h + 1) * d)
        let vh = try v.sliced(axis: 2, start: h * d, end: (h + 1) * d)
        var scores = try qh.matmul(kh.transposed()) / Double(d).squareRoot()
        if layer.causal { scores = try scores + Tensor(mask, shape: [t, t]) }
        heads.append(try scores.softmax(axis: -1).matmul(vh))
    }
    return try eagerLinear(layer.out, Tensor.concat(heads, axis: 2))
}

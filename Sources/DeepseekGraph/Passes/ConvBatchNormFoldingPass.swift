import DeepseekTensor

/// Folds inference batch normalisations into the convolutions that feed them.
///
/// Pattern: `conv2d(x, w, b?) → batchNorm(·, γ, β, μ, var)` where the convolution's result is
/// read only by the batch norm, is not a graph output, and both nodes have the same pin. The
/// pair becomes `conv2d(x, w', b')` with `w' = w·γ/√(var+ε)` and `b' = (b−μ)·γ/√(var+ε)+β`:
/// - when `w`, `b` and the four statistics are all constants, `w'` and `b'` are computed now
///   (on the `ReferenceBackend`) and become constants;
/// - otherwise one `BatchNormFolding` node computes them from the current values on each run,
///   so the graph stays right when parameters change.
///
/// The new convolution is named `conv+bn` after the two nodes; a following activation is left
/// for `LinearFusionPass`, which turns `conv2d → relu` into a `FusedConv2d`.
public struct ConvBatchNormFoldingPass: GraphPass {
    public var name: String { "convBatchNormFolding" }

    public init() {}

    struct Match {
        let convolution: GraphNodeID
        let batchNorm: GraphNodeID
    }

    static func matches(in graph: Graph) -> [Match] {
        let uses = Graph.UseInfo(graph)
        var result: [Match] = []
        for node in graph.nodes {
            guard case .batchNorm = node.op else { continue }
            let x = node.inputs[0]
            let conv = graph[node: graph[value: x].producer]
            guard case .conv2d = conv.op, uses.isPrivate(x, to: node.id), conv.pin == node.pin,
                graph[value: conv.inputs[1]].type.dtype.isFloatingPoint
            else { continue }
            result.append(Match(convolution: conv.id, batchNorm: node.id))
        }
        return result
    }

    public func run(_ graph: Graph) throws -> (Graph, PassReport) {
        let found = Self.matches(in: graph)
        var absorbed = Set<GraphNodeID>()
        var matchAt: [GraphNodeID: Match] = [:]
        for m in found {
            absorbed.insert(m.convolution)
            matchAt[m.batchNorm] = m
        }
        var rewriter = GraphRewriter(graph)
        var notes: [String] = []
        for node in graph.nodes {
            if absorbed.contains(node.id) { continue }
            guard let match = matchAt[node.id], case .batchNorm(let epsilon) = node.op else {
                try rewriter.copy(node)
                continue
            }
            let conv = graph[node: match.convolution]
            guard case .conv2d(let parameters) = conv.op else { continue }
            let hasBias = conv.inputs.count > 2
            let foldInputs = [conv.inputs[1]] + node.inputs[1...4] + (hasBias ? [conv.inputs[2]] : [])
            let fold = BatchNormFolding(epsilon: epsilon, hasConvolutionBias: hasBias)
            let name = GraphRewriter.fusedName([conv.name, node.name])
            let constants = foldInputs.compactMap { v -> Tensor? in
                if case .constant(let t) = graph[node: graph[value: v].producer].op, !t.isMeta { return t }
                return nil
            }
            let weight: ValueID
            let bias: ValueID
            if constants.count == foldInputs.count {
                let folded = try KernelBackends.using(ReferenceBackend()) { try fold.evaluate(constants) }
                weight = try rewriter.addConstant(folded[0], name: name + ".weight", pin: conv.pin)
                bias = try rewriter.addConstant(folded[1], name: name + ".bias", pin: conv.pin)
                notes.append("folded \"\(node.name)\" into \"\(conv.name)\" at pass time (all statistics are constants)")
            } else {
                let outputs = try rewriter.add(.custom(fold), reading: foldInputs, name: name + ".fold", pin: conv.pin)
                (weight, bias) = (outputs[0], outputs[1])
                notes.append("folded \"\(node.name)\" into \"\(conv.name)\" through a foldBatchNorm node on the parameters")
            }
            let x = try rewriter.value(conv.inputs[0])
            let y = try rewriter.addRewritten(.conv2d(parameters), [x, weight, bias], name: name, pin: node.pin)[0]
            rewriter.bind(node.outputs[0], to: y)
        }
        let result = try rewriter.finish()
        try result.checkInterface(matches: graph, after: name)
        return (result, PassReport(passName: name, before: GraphStatistics(graph), after: GraphStatistics(result), notes: notes))
    }
}

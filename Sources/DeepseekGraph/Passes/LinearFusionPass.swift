import DeepseekTensor

/// Fuses a matrix product with the bias add and activation after it, and a convolution with
/// the activation after it.
///
/// Patterns (each edge: the value is read only by the next node, is not a graph output, and
/// both nodes have the same pin):
/// - `matmul(x, w) → add(·, bias) → act` becomes `FusedLinear(x, w, bias)`; the bias may be on
///   either side of the add and must broadcast to the product's shape and dtype without
///   changing them (a `[N]` or `[1, N]` bias, a scalar). The add or the activation may be
///   missing, not both.
/// - `conv2d(x, w, b?) → act` becomes `FusedConv2d(x, w, b?)`.
///
/// `act` is one of `FusedActivation.isSupported` (relu, leaky relu, elu, both GELUs, sigmoid,
/// tanh, silu, softplus). The fused node is named after the nodes it replaces (`fc1+bias1+act1`).
public struct LinearFusionPass: GraphPass {
    public var name: String { "linearFusion" }

    public init() {}

    struct Match {
        /// The nodes replaced, in order; the last is where the fused node goes.
        let nodes: [GraphNodeID]
        let op: any CustomGraphOp
        /// Source-graph values the fused node reads.
        let inputs: [ValueID]
    }

    static func matches(in graph: Graph) -> [Match] {
        let uses = Graph.UseInfo(graph)
        /// The single reader of `v` when it is private to it and pinned alike.
        func soleReader(of v: ValueID, from node: Graph.Node) -> Graph.Node? {
            guard !uses.isOutput[v.rawValue], uses.consumers[v.rawValue].count == 1 else { return nil }
            let reader = graph[node: uses.consumers[v.rawValue][0]]
            return reader.pin == node.pin ? reader : nil
        }
        func activation(after node: Graph.Node) -> (Graph.Node, UnaryOp)? {
            guard let reader = soleReader(of: node.outputs[0], from: node), case .unary(let op) = reader.op,
                FusedActivation.isSupported(op)
            else { return nil }
            return (reader, op)
        }
        var result: [Match] = []
        for node in graph.nodes {
            switch node.op {
            case .matmul:
                let product = node.outputs[0]
                let productType = graph[value: product].type
                var nodes = [node.id]
                var inputs = node.inputs
                var last = node
                var hasBias = false
                if let add = soleReader(of: product, from: node), case .binary(.add) = add.op,
                    add.inputs.filter({ $0 == product }).count == 1,
                    graph[value: add.outputs[0]].type == productType
                {
                    let bias = add.inputs[0] == product ? add.inputs[1] : add.inputs[0]
                    if graph[value: bias].type.dtype == productType.dtype {
                        nodes.append(add.id)
                        inputs.append(bias)
                        last = add
                        hasBias = true
                    }
                }
                var act: UnaryOp?
                if let (reader, op) = activation(after: last) {
                    nodes.append(reader.id)
                    act = op
                }
                guard nodes.count > 1 else { continue }
                result.append(Match(nodes: nodes, op: FusedLinear(hasBias: hasBias, activation: act), inputs: inputs))
            case .conv2d(let parameters):
                guard let (reader, op) = activation(after: node) else { continue }
                result.append(Match(nodes: [node.id, reader.id], op: FusedConv2d(parameters: parameters, activation: op), inputs: node.inputs))
            default:
                continue
            }
        }
        return result
    }

    public func run(_ graph: Graph) throws -> (Graph, PassReport) {
        var absorbed = Set<GraphNodeID>()
        var matchAt: [GraphNodeID: Match] = [:]
        for m in Self.matches(in: graph) {
            absorbed.formUnion(m.nodes)
            matchAt[m.nodes.last!] = m
        }
        var rewriter = GraphRewriter(graph)
        var notes: [String] = []
        for node in graph.nodes {
            guard absorbed.contains(node.id) else {
                try rewriter.copy(node)
                continue
            }
            guard let match = matchAt[node.id] else { continue }
            let names = match.nodes.map { graph[node: $0].name }
            let output = try rewriter.add(.custom(match.op), reading: match.inputs, name: GraphRewriter.fusedName(names), pin: node.pin)[0]
            rewriter.bind(node.outputs[0], to: output)
            notes.append("fused \(names.map { "\"\($0)\"" }.joined(separator: ", ")) into \(match.op.label)")
        }
        let result = try rewriter.finish()
        try result.checkInterface(matches: graph, after: name)
        return (result, PassReport(passName: name, before: GraphStatistics(graph), after: GraphStatistics(result), notes: notes))
    }
}

import DeepseekTensor

/// Fuses chains and trees of element-wise nodes into single `FusedElementwise` kernels.
///
/// Rules (checked per edge, walking from each group's last node back to its producers):
/// - Fusible nodes are `unary`, `binary`, `select` and `cast`.
/// - A producer joins its consumer's group when its result is read by that one node only (any
///   number of times) and is not a graph output — so values with two readers and graph
///   outputs stay materialised (a graph output may still *end* a group of its own).
/// - The producer's result has the group's output shape: intermediates are never broadcast,
///   so no element is computed twice. A smaller producer (a bias scaled by a constant) stays a
///   node of its own and feeds the group as a broadcast input.
/// - Producer and consumer have the same device pin.
/// - One-element constants read by the group become inline constants of the program (the
///   constant node disappears when nothing else reads it); other values become inputs.
/// - A group of one node is left as it is.
///
/// The fused node is named after the nodes it replaces (`scale+shift+act`) and keeps their pin.
public struct ElementwiseFusionPass: GraphPass {
    public var name: String { "elementwiseFusion" }

    public init() {}

    public func run(_ graph: Graph) throws -> (Graph, PassReport) {
        let groups = Self.groups(in: graph)
        var rootOf = [Int?](repeating: nil, count: graph.nodes.count)
        var groupAt: [Int: [GraphNodeID]] = [:]
        for group in groups {
            for member in group { rootOf[member.rawValue] = group.last!.rawValue }
            groupAt[group.last!.rawValue] = group
        }
        var rewriter = GraphRewriter(graph)
        var notes: [String] = []
        var stepwise = 0
        for node in graph.nodes {
            guard let root = rootOf[node.id.rawValue] else {
                try rewriter.copy(node)
                continue
            }
            guard root == node.id.rawValue, let group = groupAt[root] else { continue }
            let (op, inputs) = try Self.fuse(group, in: graph)
            let names = group.map { graph[node: $0].name }
            let output = try rewriter.add(.custom(op), reading: inputs, name: GraphRewriter.fusedName(names), pin: node.pin)[0]
            rewriter.bind(node.outputs[0], to: output)
            if !op.usesFloatKernel { stepwise += 1 }
            notes.append("fused \(names.map { "\"\($0)\"" }.joined(separator: ", ")) into \(op.label)")
        }
        if stepwise > 0 {
            notes.append("\(stepwise) fused group(s) are not float32 and run op by op inside one node")
        }
        let result = try rewriter.finish()
        try result.checkInterface(matches: graph, after: name)
        return (result, PassReport(passName: name, before: GraphStatistics(graph), after: GraphStatistics(result), notes: notes))
    }

    static func isFusible(_ op: GraphOp) -> Bool {
        switch op {
        case .unary, .binary, .select, .cast: true
        default: false
        }
    }

    /// The groups of two or more nodes, each in topological order (its last node is the root).
    static func groups(in graph: Graph) -> [[GraphNodeID]] {
        let uses = Graph.UseInfo(graph)
        var assigned = [Bool](repeating: false, count: graph.nodes.count)
        var groups: [[GraphNodeID]] = []
        for root in graph.nodes.reversed() where isFusible(root.op) && !assigned[root.id.rawValue] {
            assigned[root.id.rawValue] = true
            let shape = graph[value: root.outputs[0]].type.shape
            var members = [root.id]
            var frontier = [root.id]
            while let consumer = frontier.popLast() {
                let c = graph[node: consumer]
                for v in c.inputs {
                    let producer = graph[node: graph[value: v].producer]
                    guard isFusible(producer.op), !assigned[producer.id.rawValue], uses.isPrivate(v, to: consumer),
                        graph[value: v].type.shape == shape, producer.pin == root.pin
                    else { continue }
                    assigned[producer.id.rawValue] = true
                    members.append(producer.id)
                    frontier.append(producer.id)
                }
            }
            if members.count > 1 { groups.append(members.sorted()) }
        }
        return groups.reversed()
    }

    /// The fused op for `group` and the source-graph values it reads, in input order.
    static func fuse(_ group: [GraphNodeID], in graph: Graph) throws -> (FusedElementwise, [ValueID]) {
        var register: [ValueID: Int] = [:]
        var inputIndex: [ValueID: Int] = [:]
        var inputs: [ValueID] = []
        var constantIndex: [ValueID: Int] = [:]
        var constants: [Tensor] = []
        var instructions: [ElementwiseProgram.Instruction] = []
        func operand(_ v: ValueID) -> ElementwiseProgram.Operand {
            if let r = register[v] { return .register(r) }
            if let c = constantIndex[v] { return .constant(c) }
            if let i = inputIndex[v] { return .input(i) }
            if case .constant(let t) = graph[node: graph[value: v].producer].op, t.elementCount == 1, !t.isMeta {
                constantIndex[v] = constants.count
                constants.append(t)
                return .constant(constants.count - 1)
            }
            inputIndex[v] = inputs.count
            inputs.append(v)
            return .input(inputs.count - 1)
        }
        for id in group {
            let node = graph[node: id]
            let args = node.inputs.map(operand)
            let operation: ElementwiseProgram.Operation
            switch node.op {
            case .unary(let op): operation = .unary(op, args[0])
            case .binary(let op): operation = .binary(op, args[0], args[1])
            case .select: operation = .select(args[0], args[1], args[2])
            case .cast(let t): operation = .cast(t, args[0])
            default: throw GraphError(.execution, "elementwiseFusion: \(graph.describe(id)) is not element-wise")
            }
            register[node.outputs[0]] = instructions.count
            instructions.append(.init(operation, dtype: graph[value: node.outputs[0]].type.dtype))
        }
        let program = ElementwiseProgram(
            inputTypes: inputs.map { graph[value: $0].type.dtype }, constants: constants, instructions: instructions)
        return (FusedElementwise(program: program), inputs)
    }
}

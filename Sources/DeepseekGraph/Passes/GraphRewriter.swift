import DeepseekTensor

/// Rebuilds a graph node by node, the way passes replace groups of nodes with new ones.
///
/// The rewriter walks the source graph in its topological order: a pass copies the nodes it
/// keeps and emits a replacement where a group it removes ends, binding the group's old result
/// to the replacement's. Inputs and parameters are copied as they come (so their order,
/// names and pins survive); constants are copied when a kept node first reads them, so a
/// constant only a removed group used (a scalar a fused kernel now holds inline) disappears.
struct GraphRewriter {
    let source: Graph
    private(set) var graph = Graph()
    private var mapped: [ValueID?]

    init(_ source: Graph) {
        self.source = source
        self.mapped = Array(repeating: nil, count: source.values.count)
    }

    /// Copies `node` unchanged (inputs remapped). Constants wait for their first reader.
    mutating func copy(_ node: Graph.Node) throws {
        switch node.op {
        case .input(let name):
            bind(node.outputs[0], to: try graph.addInput(name, source[value: node.outputs[0]].type, pin: node.pin))
        case .parameter(let name):
            bind(node.outputs[0], to: try graph.addParameter(name, source[value: node.outputs[0]].type, pin: node.pin))
        case .constant:
            return
        default:
            let inputs = try node.inputs.map { try value($0) }
            let outputs = try graph.add(node.op, inputs, name: node.name, pin: node.pin)
            for (old, new) in zip(node.outputs, outputs) { bind(old, to: new) }
        }
    }

    /// The rewritten graph's value for the source graph's value `old`.
    mutating func value(_ old: ValueID) throws -> ValueID {
        if let v = mapped[old.rawValue] { return v }
        let producer = source[node: source[value: old].producer]
        guard case .constant(let t) = producer.op else {
            throw GraphError(
                .unknownReference,
                "rewriting: \(old) (output of \(source.describe(producer.id))) is read before its node was rewritten; a pass emitted a node too early")
        }
        let v = try graph.add(.constant(t), [], name: uniqueName(producer.name), pin: producer.pin)[0]
        mapped[old.rawValue] = v
        return v
    }

    /// Records that the source value `old` is now `new`.
    mutating func bind(_ old: ValueID, to new: ValueID) { mapped[old.rawValue] = new }

    /// Adds a node that reads source-graph values, under a name made unique if it is taken.
    @discardableResult
    mutating func add(_ op: GraphOp, reading inputs: [ValueID], name: String, pin: DevicePin) throws -> [ValueID] {
        let mappedInputs = try inputs.map { try value($0) }
        return try graph.add(op, mappedInputs, name: uniqueName(name), pin: pin)
    }

    /// Adds a node that reads rewritten-graph values (made by earlier `add` calls).
    @discardableResult
    mutating func addRewritten(_ op: GraphOp, _ inputs: [ValueID], name: String, pin: DevicePin) throws -> [ValueID] {
        try graph.add(op, inputs, name: uniqueName(name), pin: pin)
    }

    /// Adds a constant to the rewritten graph.
    mutating func addConstant(_ tensor: Tensor, name: String, pin: DevicePin) throws -> ValueID {
        try graph.add(.constant(tensor), [], name: uniqueName(name), pin: pin)[0]
    }

    /// `name`, or `name_1`, `name_2`, … if a node already has it.
    func uniqueName(_ name: String) -> String {
        guard graph.node(named: name) != nil else { return name }
        var k = 1
        while graph.node(named: "\(name)_\(k)") != nil { k += 1 }
        return "\(name)_\(k)"
    }

    /// The rewritten graph with the source graph's outputs, in order.
    mutating func finish() throws -> Graph {
        let outputs = try source.outputs.map { try value($0) }
        graph.outputs = outputs
        return graph
    }

    /// A name for a node that replaces the named nodes: `a+b+c`, shortened for long groups.
    static func fusedName(_ names: [String]) -> String {
        if names.count <= 4 { return names.joined(separator: "+") }
        return "\(names[0])+\(names[1])+…\(names.count - 3)…+\(names[names.count - 1])"
    }
}

extension Graph {
    /// Which values each analysis of a pass needs: the readers of each value and whether it is
    /// a graph output.
    struct UseInfo {
        let consumers: [[GraphNodeID]]
        let isOutput: [Bool]

        init(_ graph: Graph) {
            consumers = graph.consumers()
            var outputs = [Bool](repeating: false, count: graph.values.count)
            for v in graph.outputs { outputs[v.rawValue] = true }
            isOutput = outputs
        }

        /// Whether `value` is read by exactly `node` (possibly several times) and is not an output:
        /// the condition for folding its producer into `node`.
        func isPrivate(_ value: ValueID, to node: GraphNodeID) -> Bool {
            !isOutput[value.rawValue] && consumers[value.rawValue] == [node]
        }
    }
}

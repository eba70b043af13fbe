public import DeepseekTensor

/// A dataflow graph: operator nodes in topological order and the typed tensor values between them.
///
/// A graph is a value. Nodes can only consume values that already exist, so the node array is
/// always a valid topological order and every value's type is inferred when its node is added —
/// a bad shape fails at the line that built it, naming the node. Builders with forward references
/// (`GraphBuilder`) resolve names, detect cycles and then add nodes in order.
///
/// ```swift
/// var g = Graph()
/// let x = try g.addInput("x", TensorType([64, 784]))
/// let w = try g.addParameter("w", TensorType([784, 10]))
/// let y = try g.add(.matmul, [x, w], name: "logits")[0]
/// g.outputs = [y]
/// ```
public struct Graph: Sendable {
    /// An operator node.
    public struct Node: Sendable, Identifiable {
        public let id: GraphNodeID
        /// The author's name for the node, unique within the graph.
        public var name: String
        public var op: GraphOp
        public var inputs: [ValueID]
        public var outputs: [ValueID]
        /// Where the author asked the node to run.
        public var pin: DevicePin
    }

    /// A tensor value produced by one node's output.
    public struct Value: Sendable, Identifiable {
        public let id: ValueID
        public var type: TensorType
        public let producer: GraphNodeID
        /// Which output of the producer this is.
        public let outputIndex: Int
    }

    public private(set) var nodes: [Node] = []
    public private(set) var values: [Value] = []
    /// The values a run returns, in order.
    public var outputs: [ValueID] = []
    private var nodeNames: [String: GraphNodeID] = [:]

    public init() {}

    /// The node with `name`, if any.
    public func node(named name: String) -> Node? { nodeNames[name].map { nodes[$0.rawValue] } }

    public subscript(node id: GraphNodeID) -> Node { nodes[id.rawValue] }
    public subscript(value id: ValueID) -> Value { values[id.rawValue] }

    /// The input nodes, in the order they were added.
    public var inputNodes: [Node] { nodes.filter { if case .input = $0.op { true } else { false } } }
    /// The parameter nodes, in the order they were added.
    public var parameterNodes: [Node] { nodes.filter { if case .parameter = $0.op { true } else { false } } }

    /// Adds a node after inferring its output types.
    ///
    /// - Returns: the node's output values.
    /// - Throws: `GraphError` naming the node, its inputs' types and the rule that failed.
    @discardableResult
    public mutating func add(_ op: GraphOp, _ inputs: [ValueID], name: String? = nil, pin: DevicePin = .any) throws -> [ValueID] {
        let id = GraphNodeID(nodes.count)
        let name = name ?? "\(op.label)_\(id.rawValue)"
        if let existing = nodeNames[name] {
            throw GraphError(.duplicateName, "node name \"\(name)\" is already used by \(existing); give each node a unique name")
        }
        for v in inputs where v.rawValue < 0 || v.rawValue >= values.count {
            throw GraphError(.unknownReference, "\(id) \"\(name)\" (\(op.label)) uses \(v), which is not a value of this graph")
        }
        let arity = op.arity
        guard arity.contains(inputs.count) else {
            let expected = arity.lowerBound == arity.upperBound ? "\(arity.lowerBound)" : arity.upperBound == Int.max ? "at least \(arity.lowerBound)" : "\(arity.lowerBound)…\(arity.upperBound)"
            throw GraphError(.arity, "\(id) \"\(name)\" (\(op.label)) has \(inputs.count) inputs but \(op.label) takes \(expected)")
        }
        if let kinds = op.deviceKinds, let kind = pin.kind, !kinds.contains(kind) {
            throw GraphError(
                .placement,
                "\(id) \"\(name)\" (\(op.label)) is pinned to \(kind) devices, which cannot run \(op.label) (it runs on \(kinds.sorted().map(\.name).joined(separator: ", "))); remove the pin or choose one of those kinds")
        }
        let types: [TensorType]
        switch op {
        case .input, .parameter:
            throw GraphError(.arity, "\(id) \"\(name)\": add inputs and parameters with addInput/addParameter, which take their type")
        default:
            do {
                types = try op.inferTypes(inputs.map { values[$0.rawValue].type })
            } catch {
                throw GraphError(.inference, "\(describe(id: id, name: name, op: op, inputs: inputs)): \(Self.rule(of: error))", cause: error)
            }
        }
        appendNode(id: id, name: name, op: op, inputs: inputs, types: types, pin: pin)
        return nodes[id.rawValue].outputs
    }

    /// Adds a tensor the caller feeds at run time.
    public mutating func addInput(_ name: String, _ type: TensorType, pin: DevicePin = .any) throws -> ValueID {
        try addSource(.input(name), name: name, type: type, pin: pin)
    }

    /// Adds a trainable tensor whose value a parameter store supplies at run time.
    public mutating func addParameter(_ name: String, _ type: TensorType, pin: DevicePin = .any) throws -> ValueID {
        try addSource(.parameter(name), name: name, type: type, pin: pin)
    }

    /// Adds a constant.
    public mutating func addConstant(_ tensor: Tensor, name: String? = nil) throws -> ValueID {
        try add(.constant(tensor), [], name: name)[0]
    }

    private mutating func addSource(_ op: GraphOp, name: String, type: TensorType, pin: DevicePin) throws -> ValueID {
        let id = GraphNodeID(nodes.count)
        if let existing = nodeNames[name] {
            throw GraphError(.duplicateName, "\(op.label) name \"\(name)\" is already used by \(existing); give each node a unique name")
        }
        do { _ = try type.shape.validated(for: "\(op.label) \"\(name)\"") } catch {
            throw GraphError(.inference, "\(op.label) \"\(name)\": \(Self.rule(of: error))", cause: error)
        }
        appendNode(id: id, name: name, op: op, inputs: [], types: [type], pin: pin)
        return nodes[id.rawValue].outputs[0]
    }

    private mutating func appendNode(id: GraphNodeID, name: String, op: GraphOp, inputs: [ValueID], types: [TensorType], pin: DevicePin) {
        var outs: [ValueID] = []
        for (i, t) in types.enumerated() {
            let v = ValueID(values.count)
            values.append(Value(id: v, type: t, producer: id, outputIndex: i))
            outs.append(v)
        }
        nodes.append(Node(id: id, name: name, op: op, inputs: inputs, outputs: outs, pin: pin))
        nodeNames[name] = id
    }

    /// Changes where a node runs.
    public mutating func setPin(_ pin: DevicePin, for id: GraphNodeID) { nodes[id.rawValue].pin = pin }

    /// `n3 "fc2" (matmul) with inputs %2: float32[64, 256], %4: float32[128, 10]`
    func describe(id: GraphNodeID, name: String, op: GraphOp, inputs: [ValueID]) -> String {
        let args = inputs.map { "\($0): \(values[$0.rawValue].type)" }.joined(separator: ", ")
        return "\(id) \"\(name)\" (\(op.label)) with inputs \(args.isEmpty ? "none" : args)"
    }

    /// A node described for error messages.
    public func describe(_ id: GraphNodeID) -> String {
        let n = nodes[id.rawValue]
        return describe(id: id, name: n.name, op: n.op, inputs: n.inputs)
    }

    static func rule(of error: any Error) -> String {
        if let e = error as? TensorError { return e.message }
        if let e = error as? GraphError { return e.message }
        return "\(error)"
    }

    /// For each value, the nodes that read it (in node order).
    public func consumers() -> [[GraphNodeID]] {
        var result = [[GraphNodeID]](repeating: [], count: values.count)
        for n in nodes { for v in n.inputs where result[v.rawValue].last != n.id { result[v.rawValue].append(n.id) } }
        return result
    }
}

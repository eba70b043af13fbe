import DeepseekTensor

/// Appends backward nodes to a copy of the forward graph, one small op at a time.
///
/// Nodes are first added under placeholder names while the rules run; `finish` then rebuilds the
/// backward part with readable names (`w.grad`, `fc1.grad.matmul`). Renaming needs the rebuild
/// because a value's final name is known only once all its contributions are summed.
struct GradientBuilder {
    let forward: Graph
    private(set) var graph: Graph
    /// The forward node whose rule is being built: backward nodes take their name prefix and pin from it.
    private var current: Graph.Node?
    /// The pin of the forward node whose rule is being built (`.any` outside a rule).
    var currentPin: DevicePin { current?.pin ?? .any }
    /// Per backward node (index from `forward.nodes.count`): the name it gets unless claimed.
    private var helperNames: [String] = []
    /// Backward nodes that compute a value's whole gradient, with that name.
    private var claimed: [GraphNodeID: String] = [:]
    /// Scalar constants made for the current forward node, by value bits and dtype, so a rule
    /// that needs the same constant twice adds it once.
    private var scalars: [ScalarKey: ValueID] = [:]

    private struct ScalarKey: Hashable {
        var bits: UInt64
        var dtype: DType
    }

    init(forward: Graph) {
        self.forward = forward
        self.graph = forward
    }

    /// Makes `node` the forward node that new backward nodes belong to.
    mutating func enter(_ node: Graph.Node) {
        if current?.id != node.id { scalars = [:] }
        current = node
    }

    func type(_ v: ValueID) -> TensorType { graph[value: v].type }
    func shape(_ v: ValueID) -> Shape { graph[value: v].type.shape }
    func dtype(_ v: ValueID) -> DType { graph[value: v].type.dtype }

    /// Adds a backward node and returns its outputs.
    mutating func emitAll(_ op: GraphOp, _ inputs: [ValueID]) throws -> [ValueID] {
        let prefix = current?.name ?? "loss"
        var pin = current?.pin ?? .any
        if let kinds = op.deviceKinds, let kind = pin.kind, !kinds.contains(kind) {
            // A host-only gradient kernel cannot follow a pin to another device kind; it stays in
            // the same process and placement picks a device that can run it.
            pin = DevicePin(process: pin.process)
        }
        let placeholder = "\u{1}backward\(graph.nodes.count)"
        let outputs = try graph.add(op, inputs, name: placeholder, pin: pin)
        helperNames.append("\(prefix).grad.\(op.label)")
        return outputs
    }

    /// Adds a single-output backward node.
    mutating func emit(_ op: GraphOp, _ inputs: [ValueID]) throws -> ValueID { try emitAll(op, inputs)[0] }

    /// Names the node producing `v` after the value whose gradient it is, unless that node is a
    /// forward node or already carries another value's gradient.
    mutating func claim(_ v: ValueID, as name: String) {
        let producer = graph[value: v].producer
        guard producer.rawValue >= forward.nodes.count, claimed[producer] == nil else { return }
        claimed[producer] = name
    }

    /// The forward graph followed by the backward nodes under their final, unique names.
    func finish() throws -> Graph {
        var result = forward
        var used = Set(forward.nodes.map(\.name))
        for node in graph.nodes[forward.nodes.count...] {
            let base = claimed[node.id] ?? helperNames[node.id.rawValue - forward.nodes.count]
            var name = base
            var k = 1
            while used.contains(name) {
                name = "\(base)_\(k)"
                k += 1
            }
            used.insert(name)
            let outputs = try result.add(node.op, node.inputs, name: name, pin: node.pin)
            precondition(outputs == node.outputs, "rebuilding the backward pass must reproduce its value IDs")
        }
        return result
    }

    // MARK: - Small ops

    mutating func constant(_ tensor: Tensor) throws -> ValueID { try emit(.constant(tensor), []) }

    /// A rank-0 constant of `dtype`.
    mutating func scalar(_ value: Double, _ dtype: DType) throws -> ValueID {
        let key = ScalarKey(bits: value.bitPattern, dtype: dtype)
        if let v = scalars[key] { return v }
        let v = try constant(Tensor(scalar: value, dtype: dtype))
        scalars[key] = v
        return v
    }

    /// Zeros of `type`: a scalar constant expanded (a view, no buffer of the full size).
    mutating func zeros(_ type: TensorType) throws -> ValueID {
        try expand(scalar(0, type.dtype), to: type.shape)
    }

    mutating func binary(_ op: BinaryOp, _ a: ValueID, _ b: ValueID) throws -> ValueID { try emit(.binary(op), [a, b]) }
    mutating func add(_ a: ValueID, _ b: ValueID) throws -> ValueID { try binary(.add, a, b) }
    mutating func sub(_ a: ValueID, _ b: ValueID) throws -> ValueID { try binary(.sub, a, b) }
    mutating func mul(_ a: ValueID, _ b: ValueID) throws -> ValueID { try binary(.mul, a, b) }
    mutating func div(_ a: ValueID, _ b: ValueID) throws -> ValueID { try binary(.div, a, b) }
    mutating func unary(_ op: UnaryOp, _ x: ValueID) throws -> ValueID { try emit(.unary(op), [x]) }
    mutating func neg(_ x: ValueID) throws -> ValueID { try unary(.neg, x) }

    /// `x · value`, with the constant in `x`'s dtype.
    mutating func scale(_ x: ValueID, by value: Double) throws -> ValueID {
        value == 1 ? x : try mul(x, scalar(value, dtype(x)))
    }

    /// `x + value`, with the constant in `x`'s dtype.
    mutating func shift(_ x: ValueID, by value: Double) throws -> ValueID {
        try add(x, scalar(value, dtype(x)))
    }

    /// `value - x`.
    mutating func subtract(_ x: ValueID, from value: Double) throws -> ValueID {
        try sub(scalar(value, dtype(x)), x)
    }

    /// `condition ? a : b`.
    mutating func select(_ condition: ValueID, _ a: ValueID, _ b: ValueID) throws -> ValueID {
        try emit(.select, [condition, a, b])
    }

    /// `condition ? g : 0`, the masked pass-through of piecewise ops.
    mutating func mask(_ g: ValueID, where condition: ValueID) throws -> ValueID {
        try select(condition, g, scalar(0, dtype(g)))
    }

    mutating func cast(_ x: ValueID, to dtype: DType) throws -> ValueID {
        self.dtype(x) == dtype ? x : try emit(.cast(dtype), [x])
    }

    /// A reduction over `axes`; no node when `axes` is empty (for the op, empty means all axes).
    mutating func reduce(_ op: ReduceOp, _ x: ValueID, axes: [Int], keepDims: Bool) throws -> ValueID {
        axes.isEmpty ? x : try emit(.reduce(op, axes: axes, keepDims: keepDims), [x])
    }

    mutating func sum(_ x: ValueID, axes: [Int], keepDims: Bool = true) throws -> ValueID {
        try reduce(.sum, x, axes: axes, keepDims: keepDims)
    }

    mutating func mean(_ x: ValueID, axes: [Int], keepDims: Bool = true) throws -> ValueID {
        try reduce(.mean, x, axes: axes, keepDims: keepDims)
    }

    mutating func reshape(_ x: ValueID, _ shape: Shape) throws -> ValueID {
        self.shape(x) == shape ? x : try emit(.reshape(shape), [x])
    }

    mutating func expand(_ x: ValueID, to shape: Shape) throws -> ValueID {
        self.shape(x) == shape ? x : try emit(.expand(shape), [x])
    }

    mutating func permute(_ x: ValueID, _ axes: [Int]) throws -> ValueID {
        if axes == Array(axes.indices) { return x }
        // A permutation of a backward permutation is one permutation of the original value, and
        // none at all when the two cancel: a gradient computed transposed and transposed back
        // then reaches the optimizer as the dense tensor the kernel wrote, not a strided view.
        let producer = graph[node: graph[value: x].producer]
        if producer.id.rawValue >= forward.nodes.count, case .permute(let inner) = producer.op, inner.count == axes.count {
            // Output axis i of permute(y, outer) is axis outer[i] of y, which is axis
            // inner[outer[i]] of the original value.
            let first = Self.normalized(inner)
            return try permute(producer.inputs[0], Self.normalized(axes).map { first[$0] })
        }
        return try emit(.permute(axes), [x])
    }

    /// Whether `v` is the 2-D transpose of another value, made by a forward node (as `Linear`
    /// transposes its weight).
    func isForwardTranspose(_ v: ValueID) -> Bool {
        let producer = graph[node: graph[value: v].producer]
        guard producer.id.rawValue < forward.nodes.count, case .permute(let axes) = producer.op else { return false }
        return Self.normalized(axes) == [1, 0]
    }

    /// Permutation axes with negative entries counted from the end.
    static func normalized(_ axes: [Int]) -> [Int] {
        axes.map { $0 < 0 ? $0 + axes.count : $0 }
    }

    /// Swaps the last two axes.
    mutating func transposeMatrices(_ x: ValueID) throws -> ValueID {
        let r = shape(x).rank
        var axes = Array(0..<r)
        axes.swapAt(r - 2, r - 1)
        return try permute(x, axes)
    }

    mutating func matmul(_ a: ValueID, _ b: ValueID) throws -> ValueID { try emit(.matmul, [a, b]) }

    mutating func slice(_ x: ValueID, axis: Int, start: Int?, end: Int?, step: Int = 1) throws -> ValueID {
        if step == 1 && (start ?? 0) == 0 && (end ?? Int.max) >= shape(x)[axis] { return x }
        return try emit(.slice(axis: axis, start: start, end: end, step: step), [x])
    }

    mutating func concat(_ xs: [ValueID], axis: Int) throws -> ValueID {
        xs.count == 1 ? xs[0] : try emit(.concat(axis: axis), xs)
    }

    // MARK: - Fitting gradients to their values

    /// Sums `g` over the axes along which a value of shape `target` was broadcast to `g`'s shape.
    mutating func unbroadcast(_ g: ValueID, to target: Shape) throws -> ValueID {
        let s = shape(g)
        guard s != target else { return g }
        let lead = s.rank - target.rank
        guard lead >= 0 else {
            throw GraphError(.notDifferentiable, "gradients: a gradient of shape \(s) cannot be summed down to the higher-rank shape \(target)")
        }
        var axes = Array(0..<lead)
        for i in target.indices where s[i + lead] != target[i] {
            guard target[i] == 1 else {
                throw GraphError(.notDifferentiable, "gradients: a gradient of shape \(s) does not broadcast from \(target)")
            }
            axes.append(i + lead)
        }
        // Dropping the summed axes usually lands on the target already (a bias summed over the
        // batch); a kept size-1 axis needs the reshape, which is a view.
        return try reshape(sum(g, axes: axes, keepDims: false), target)
    }

    /// Brings a gradient contribution to the shape and dtype of the value it belongs to:
    /// summing broadcast axes, restoring a reshaped shape, or expanding a broadcast statistic.
    mutating func conform(_ g: ValueID, to type: TensorType) throws -> ValueID {
        if type.shape.elementCount == 0 { return try zeros(type) }
        var g = g
        let s = shape(g)
        if s != type.shape {
            if s.elementCount == type.shape.elementCount {
                g = try reshape(g, type.shape)
            } else if s.elementCount > type.shape.elementCount {
                g = try unbroadcast(g, to: type.shape)
            } else {
                g = try expand(g, to: type.shape)
            }
        }
        return try cast(g, to: type.dtype)
    }
}

public import DeepseekTensor

/// A tensor in a graph being traced: it has a type but no data. Operations on it record nodes.
///
/// The method names match `Tensor`'s, so a forward pass written for symbolic tensors reads like
/// eager code. Every operation infers its result type immediately and throws a `GraphError` that
/// names the node and the rule when shapes do not fit.
public struct SymbolicTensor: Sendable, CustomStringConvertible {
    public let tracer: GraphTracer
    public let id: ValueID
    public let type: TensorType

    public var shape: Shape { type.shape }
    public var dtype: DType { type.dtype }
    public var rank: Int { type.shape.rank }
    public var description: String { "\(id): \(type)" }

    func apply(_ op: GraphOp, _ others: [SymbolicTensor] = [], name: String? = nil) throws -> SymbolicTensor {
        try tracer.apply(op, [self] + others, name: name)[0]
    }

    public func unary(_ op: UnaryOp, name: String? = nil) throws -> SymbolicTensor { try apply(.unary(op), name: name) }
    public func binary(_ op: BinaryOp, _ other: SymbolicTensor, name: String? = nil) throws -> SymbolicTensor {
        try apply(.binary(op), [other], name: name)
    }
    /// Element-wise with a scalar, recorded as a constant operand.
    public func binary(_ op: BinaryOp, _ scalar: Double) throws -> SymbolicTensor {
        try apply(.binary(op), [tracer.constant(Tensor(scalar: scalar, dtype: dtype))])
    }

    public func relu() throws -> SymbolicTensor { try unary(.relu) }
    public func gelu(approximate: Bool = false) throws -> SymbolicTensor { try unary(approximate ? .geluTanh : .geluExact) }
    public func sigmoid() throws -> SymbolicTensor { try unary(.sigmoid) }
    public func tanh() throws -> SymbolicTensor { try unary(.tanh) }
    public func exp() throws -> SymbolicTensor { try unary(.exp) }
    public func log() throws -> SymbolicTensor { try unary(.log) }
    public func sqrt() throws -> SymbolicTensor { try unary(.sqrt) }
    public func neg() throws -> SymbolicTensor { try unary(.neg) }

    public static func + (a: SymbolicTensor, b: SymbolicTensor) throws -> SymbolicTensor { try a.binary(.add, b) }
    public static func - (a: SymbolicTensor, b: SymbolicTensor) throws -> SymbolicTensor { try a.binary(.sub, b) }
    public static func * (a: SymbolicTensor, b: SymbolicTensor) throws -> SymbolicTensor { try a.binary(.mul, b) }
    public static func / (a: SymbolicTensor, b: SymbolicTensor) throws -> SymbolicTensor { try a.binary(.div, b) }
    public static func + (a: SymbolicTensor, b: Double) throws -> SymbolicTensor { try a.binary(.add, b) }
    public static func - (a: SymbolicTensor, b: Double) throws -> SymbolicTensor { try a.binary(.sub, b) }
    public static func * (a: SymbolicTensor, b: Double) throws -> SymbolicTensor { try a.binary(.mul, b) }
    public static func / (a: SymbolicTensor, b: Double) throws -> SymbolicTensor { try a.binary(.div, b) }

    public func matmul(_ other: SymbolicTensor, name: String? = nil) throws -> SymbolicTensor { try apply(.matmul, [other], name: name) }
    public func cast(to dtype: DType) throws -> SymbolicTensor { try apply(.cast(dtype)) }
    public func reduce(_ op: ReduceOp, axes: [Int], keepDims: Bool = false) throws -> SymbolicTensor {
        try apply(.reduce(op, axes: axes, keepDims: keepDims))
    }
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) throws -> SymbolicTensor {
        try reduce(.sum, axes: axes ?? Array(0..<rank), keepDims: keepDims)
    }
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) throws -> SymbolicTensor {
        try reduce(.mean, axes: axes ?? Array(0..<rank), keepDims: keepDims)
    }
    public func argmax(axis: Int, keepDims: Bool = false) throws -> SymbolicTensor {
        try apply(.argReduce(.argmax, axis: axis, keepDims: keepDims))
    }
    public func softmax(axis: Int = -1) throws -> SymbolicTensor { try apply(.softmax(axis: axis)) }
    public func logSoftmax(axis: Int = -1) throws -> SymbolicTensor { try apply(.logSoftmax(axis: axis)) }

    /// Layer normalisation over `axis` and the axes after it; returns the normalised tensor.
    public func layerNorm(weight: SymbolicTensor?, bias: SymbolicTensor?, axis: Int = -1, epsilon: Double = 1e-5, name: String? = nil) throws -> SymbolicTensor {
        try tracer.apply(.layerNorm(axis: axis, epsilon: epsilon), [self] + [weight, bias].compactMap { $0 }, name: name)[0]
    }
    public func batchNorm(scale: SymbolicTensor, bias: SymbolicTensor, mean: SymbolicTensor, variance: SymbolicTensor, epsilon: Double = 1e-5, name: String? = nil) throws -> SymbolicTensor {
        try apply(.batchNorm(epsilon: epsilon), [scale, bias, mean, variance], name: name)
    }
    public func conv2d(_ weight: SymbolicTensor, bias: SymbolicTensor? = nil, parameters: Conv2dParameters = .init(), name: String? = nil) throws -> SymbolicTensor {
        try apply(.conv2d(parameters), [weight] + [bias].compactMap { $0 }, name: name)
    }
    public func maxPool2d(_ parameters: Pool2dParameters) throws -> SymbolicTensor { try apply(.pool2d(.max, parameters)) }
    public func avgPool2d(_ parameters: Pool2dParameters) throws -> SymbolicTensor { try apply(.pool2d(.average, parameters)) }
    public func gather(indices: SymbolicTensor, axis: Int = 0) throws -> SymbolicTensor { try apply(.gather(axis: axis), [indices]) }
    public func reshaped(_ shape: Shape) throws -> SymbolicTensor { try apply(.reshape(shape)) }
    public func flattened(from start: Int = 1) throws -> SymbolicTensor {
        let s = start < 0 ? start + rank : start
        let tail = shape.dims[s...].reduce(1, *)
        return try reshaped(Shape(Array(shape.dims[..<s]) + [tail]))
    }
    public func permuted(_ axes: [Int]) throws -> SymbolicTensor { try apply(.permute(axes)) }
    public func transposed() throws -> SymbolicTensor {
        var axes = Array(0..<rank)
        if rank >= 2 { axes.swapAt(rank - 2, rank - 1) }
        return try permuted(axes)
    }
    public func sliced(axis: Int, start: Int? = nil, end: Int? = nil, step: Int = 1) throws -> SymbolicTensor {
        try apply(.slice(axis: axis, start: start, end: end, step: step))
    }
    public func expanded(to shape: Shape) throws -> SymbolicTensor { try apply(.expand(shape)) }
    public func crossEntropy(labels: SymbolicTensor, labelSmoothing: Double = 0) throws -> SymbolicTensor {
        try apply(.crossEntropy(labelSmoothing: labelSmoothing), [labels])
    }
    public static func concat(_ tensors: [SymbolicTensor], axis: Int) throws -> SymbolicTensor {
        guard let first = tensors.first else { throw GraphError(.arity, "concat needs at least one tensor") }
        return try first.tracer.apply(.concat(axis: axis), tensors)[0]
    }
}

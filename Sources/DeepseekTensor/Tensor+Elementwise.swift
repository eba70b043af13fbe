extension Tensor {
    /// Applies a unary op on the current backend after checking its dtype rule.
    public func unary(_ op: UnaryOp) throws -> Tensor {
        if op == .logicalNot {
            guard dtype == .bool else {
                throw TensorError(.dtypeMismatch, "logicalNot: needs a bool tensor, got \(dtype) of shape \(shape)")
            }
        } else if op.needsFloatingPoint && !dtype.isFloatingPoint {
            throw TensorError(
                .dtypeMismatch,
                "\(op): needs a floating-point tensor, got \(dtype) of shape \(shape); cast it with cast(to: .float32) first")
        } else if dtype == .bool {
            throw TensorError(.dtypeMismatch, "\(op): is not defined for bool tensors (shape \(shape)); cast to a number type first")
        }
        return try KernelBackends.current.unary(op, self)
    }

    public func neg() throws -> Tensor { try unary(.neg) }
    public func abs() throws -> Tensor { try unary(.abs) }
    public func exp() throws -> Tensor { try unary(.exp) }
    public func log() throws -> Tensor { try unary(.log) }
    public func sqrt() throws -> Tensor { try unary(.sqrt) }
    public func rsqrt() throws -> Tensor { try unary(.rsqrt) }
    public func reciprocal() throws -> Tensor { try unary(.reciprocal) }
    public func square() throws -> Tensor { try unary(.square) }
    public func tanh() throws -> Tensor { try unary(.tanh) }
    public func sigmoid() throws -> Tensor { try unary(.sigmoid) }
    public func relu() throws -> Tensor { try unary(.relu) }
    public func silu() throws -> Tensor { try unary(.silu) }
    public func softplus() throws -> Tensor { try unary(.softplus) }
    public func erf() throws -> Tensor { try unary(.erf) }
    public func floor() throws -> Tensor { try unary(.floor) }
    public func ceil() throws -> Tensor { try unary(.ceil) }
    /// Rounds half to even, like NumPy and PyTorch.
    public func round() throws -> Tensor { try unary(.round) }
    public func sign() throws -> Tensor { try unary(.sign) }
    public func sin() throws -> Tensor { try unary(.sin) }
    public func cos() throws -> Tensor { try unary(.cos) }
    public func logicalNot() throws -> Tensor { try unary(.logicalNot) }
    public func leakyRelu(alpha: Float = 0.01) throws -> Tensor { try unary(.leakyRelu(alpha: alpha)) }
    public func elu(alpha: Float = 1) throws -> Tensor { try unary(.elu(alpha: alpha)) }

    /// GELU: exact (`x·Φ(x)`) by default, or the tanh approximation.
    public func gelu(approximate: Bool = false) throws -> Tensor { try unary(approximate ? .geluTanh : .geluExact) }

    /// Applies a binary op with NumPy broadcasting and dtype promotion.
    ///
    /// - Throws: `TensorError.shapeMismatch` when the shapes do not broadcast, naming both.
    public func binary(_ op: BinaryOp, _ other: Tensor) throws -> Tensor {
        let name = op.rawValue
        let outShape = try Shape.broadcast(shape, other.shape, op: name)
        var a = self
        var b = other
        let common = dtype.promoted(with: other.dtype)
        switch op {
        case .logicalAnd, .logicalOr, .logicalXor:
            guard dtype == .bool && other.dtype == .bool else {
                throw TensorError(.dtypeMismatch, "\(name): needs bool tensors, got \(dtype) \(shape) and \(other.dtype) \(other.shape)")
            }
        default:
            if !op.isComparison && common == .bool {
                throw TensorError(
                    .dtypeMismatch, "\(name): is not defined for bool tensors (\(shape), \(other.shape)); cast to a number type first")
            }
        }
        if a.dtype != common { a = try KernelBackends.current.cast(a, to: common) }
        if b.dtype != common { b = try KernelBackends.current.cast(b, to: common) }
        if a.shape != outShape { a = try a.expanded(to: outShape) }
        if b.shape != outShape { b = try b.expanded(to: outShape) }
        return try KernelBackends.current.binary(op, a, b)
    }

    /// A scalar of this tensor's dtype, or `float32` when a fractional value meets an integer tensor.
    func scalarOperand(_ value: Double) -> Tensor {
        let type: DType =
            dtype.isFloatingPoint ? dtype : (value.rounded() == value ? (dtype == .bool ? .int64 : dtype) : .float32)
        return Tensor(scalar: value, dtype: type)
    }

    public func add(_ other: Tensor) throws -> Tensor { try binary(.add, other) }
    public func sub(_ other: Tensor) throws -> Tensor { try binary(.sub, other) }
    public func mul(_ other: Tensor) throws -> Tensor { try binary(.mul, other) }
    /// Division; integer tensors divide with truncation toward zero (like C and ONNX).
    public func div(_ other: Tensor) throws -> Tensor { try binary(.div, other) }
    public func pow(_ exponent: Tensor) throws -> Tensor { try binary(.pow, exponent) }
    public func pow(_ exponent: Double) throws -> Tensor { try binary(.pow, scalarOperand(exponent)) }
    /// The remainder with the sign of the divisor (Python's `%`, `torch.remainder`).
    public func mod(_ other: Tensor) throws -> Tensor { try binary(.mod, other) }
    public func maximum(_ other: Tensor) throws -> Tensor { try binary(.maximum, other) }
    public func minimum(_ other: Tensor) throws -> Tensor { try binary(.minimum, other) }
    public func equal(_ other: Tensor) throws -> Tensor { try binary(.equal, other) }
    public func notEqual(_ other: Tensor) throws -> Tensor { try binary(.notEqual, other) }
    public func less(_ other: Tensor) throws -> Tensor { try binary(.less, other) }
    public func lessEqual(_ other: Tensor) throws -> Tensor { try binary(.lessEqual, other) }
    public func greater(_ other: Tensor) throws -> Tensor { try binary(.greater, other) }
    public func greaterEqual(_ other: Tensor) throws -> Tensor { try binary(.greaterEqual, other) }
    public func logicalAnd(_ other: Tensor) throws -> Tensor { try binary(.logicalAnd, other) }
    public func logicalOr(_ other: Tensor) throws -> Tensor { try binary(.logicalOr, other) }
    public func logicalXor(_ other: Tensor) throws -> Tensor { try binary(.logicalXor, other) }

    public static func + (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.add, b) }
    public static func - (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.sub, b) }
    public static func * (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.mul, b) }
    public static func / (a: Tensor, b: Tensor) throws -> Tensor { try a.binary(.div, b) }
    public static func + (a: Tensor, b: Double) throws -> Tensor { try a.binary(.add, a.scalarOperand(b)) }
    public static func - (a: Tensor, b: Double) throws -> Tensor { try a.binary(.sub, a.scalarOperand(b)) }
    public static func * (a: Tensor, b: Double) throws -> Tensor { try a.binary(.mul, a.scalarOperand(b)) }
    public static func / (a: Tensor, b: Double) throws -> Tensor { try a.binary(.div, a.scalarOperand(b)) }
    public static prefix func - (a: Tensor) throws -> Tensor { try a.neg() }

    /// `value - self`, for a scalar on the left (an operator would slow type-checking of every
    /// numeric expression in files that import this module).
    public func subtracted(from value: Double) throws -> Tensor { try scalarOperand(value).binary(.sub, self) }
    /// `value / self`, for a scalar on the left.
    public func divided(into value: Double) throws -> Tensor { try scalarOperand(value).binary(.div, self) }

    /// Elements of `a` where this bool tensor is true, of `b` elsewhere (all three broadcast).
    public func `where`(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard dtype == .bool else {
            throw TensorError(.dtypeMismatch, "where: the condition must be a bool tensor, got \(dtype) of shape \(shape)")
        }
        let outShape = try Shape.broadcast(try Shape.broadcast(shape, a.shape, op: "where"), b.shape, op: "where")
        let common = a.dtype.promoted(with: b.dtype)
        var x = a.dtype == common ? a : try KernelBackends.current.cast(a, to: common)
        var y = b.dtype == common ? b : try KernelBackends.current.cast(b, to: common)
        let c = shape == outShape ? self : try expanded(to: outShape)
        if x.shape != outShape { x = try x.expanded(to: outShape) }
        if y.shape != outShape { y = try y.expanded(to: outShape) }
        return try KernelBackends.current.select(c, x, y)
    }

    /// Limits every element to `[min, max]`; either bound may be omitted.
    public func clamp(min: Double? = nil, max: Double? = nil) throws -> Tensor {
        if let min, let max, min > max {
            // NumPy/ONNX semantics: when min > max every element becomes max.
            return try Tensor.full(shape, value: max, dtype: dtype)
        }
        var y = self
        if let min { y = try y.maximum(scalarOperand(min)) }
        if let max { y = try y.minimum(scalarOperand(max)) }
        return y
    }

    /// Limits every element to `[min, max]` given as tensors (broadcast).
    public func clamp(min: Tensor?, max: Tensor?) throws -> Tensor {
        var y = self
        if let min { y = try y.maximum(min) }
        if let max { y = try y.minimum(max) }
        return y
    }

    /// The elements converted to `dtype` (floats to integers truncate toward zero and saturate).
    public func cast(to dtype: DType) throws -> Tensor {
        dtype == self.dtype ? self : try KernelBackends.current.cast(self, to: dtype)
    }
}

extension Tensor {
    /// Reduces over `axes` (all axes when `nil` or empty) on the current backend.
    public func reduce(_ op: ReduceOp, axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor {
        let normalized = try shape.normalizedAxes(axes, op: op.rawValue)
        if dtype == .bool && op != .max && op != .min {
            return try cast(to: .int64).reduce(op, axes: axes, keepDims: keepDims)
        }
        if (op == .max || op == .min) && normalized.contains(where: { shape[$0] == 0 }) {
            throw TensorError(.shapeMismatch, "\(op): cannot take the \(op) over an empty axis of shape \(shape)")
        }
        if normalized.isEmpty {  // rank 0
            return self
        }
        return try KernelBackends.current.reduce(op, self, axes: normalized, keepDims: keepDims)
    }

    /// The sum over `axes` (all by default).
    public func sum(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor { try reduce(.sum, axes: axes, keepDims: keepDims) }
    /// The arithmetic mean over `axes` (all by default).
    public func mean(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor { try reduce(.mean, axes: axes, keepDims: keepDims) }
    /// The largest element over `axes` (all by default).
    public func max(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor { try reduce(.max, axes: axes, keepDims: keepDims) }
    /// The smallest element over `axes` (all by default).
    public func min(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor { try reduce(.min, axes: axes, keepDims: keepDims) }
    /// The product over `axes` (all by default).
    public func prod(axes: [Int]? = nil, keepDims: Bool = false) throws -> Tensor { try reduce(.prod, axes: axes, keepDims: keepDims) }

    /// The variance over `axes` with Bessel's correction `correction` (0: population, 1: sample).
    public func variance(axes: [Int]? = nil, correction: Int = 0, keepDims: Bool = false) throws -> Tensor {
        guard dtype.isFloatingPoint else {
            throw TensorError(.dtypeMismatch, "variance: needs a floating-point tensor, got \(dtype) of shape \(shape)")
        }
        let normalized = try shape.normalizedAxes(axes, op: "variance")
        let n = normalized.reduce(1) { $0 * shape[$1] }
        guard n - correction > 0 else {
            throw TensorError(.invalidArgument, "variance: \(n) elements per group with correction \(correction) leaves no degrees of freedom")
        }
        let centered = try self - mean(axes: normalized, keepDims: true)
        let sumSquares = try centered.square().sum(axes: normalized, keepDims: keepDims)
        return try sumSquares / Double(n - correction)
    }

    /// The index (`int64`) of the largest element along `axis`; ties give the first index unless
    /// `selectLastIndex` is set.
    public func argmax(axis: Int = 0, keepDims: Bool = false, selectLastIndex: Bool = false) throws -> Tensor {
        try argReduce(.argmax, axis: axis, keepDims: keepDims, selectLastIndex: selectLastIndex)
    }

    /// The index (`int64`) of the smallest element along `axis`.
    public func argmin(axis: Int = 0, keepDims: Bool = false, selectLastIndex: Bool = false) throws -> Tensor {
        try argReduce(.argmin, axis: axis, keepDims: keepDims, selectLastIndex: selectLastIndex)
    }

    func argReduce(_ op: ArgReduceOp, axis: Int, keepDims: Bool, selectLastIndex: Bool) throws -> Tensor {
        let source = rank == 0 ? try reshaped([1]) : self
        let a = try source.shape.normalizedAxis(axis, op: op.rawValue)
        guard source.shape[a] > 0 else {
            throw TensorError(.shapeMismatch, "\(op.rawValue): axis \(axis) of shape \(shape) is empty")
        }
        return try KernelBackends.current.argReduce(op, source, axis: a, keepDims: keepDims, selectLastIndex: selectLastIndex)
    }
}

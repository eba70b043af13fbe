extension Tensor {
    /// Joins tensors along `axis`; every other axis must agree. Dtypes are promoted.
    public static func concat(_ tensors: [Tensor], axis: Int) throws -> Tensor {
        guard let first = tensors.first else {
            throw TensorError(.invalidArgument, "concat: needs at least one tensor")
        }
        let a = try first.shape.normalizedAxis(axis, op: "concat")
        var dtype = first.dtype
        for (i, t) in tensors.enumerated() {
            dtype = dtype.promoted(with: t.dtype)
            guard t.rank == first.rank,
                t.shape.indices.allSatisfy({ $0 == a || t.shape[$0] == first.shape[$0] })
            else {
                throw TensorError(
                    .shapeMismatch,
                    "concat: tensor \(i) has shape \(t.shape) but tensor 0 has \(first.shape); all axes except \(a) must match")
            }
        }
        let inputs = try tensors.map { try $0.cast(to: dtype) }
        if inputs.count == 1 { return inputs[0] }
        return try KernelBackends.current.concat(inputs, axis: a)
    }

    /// Stacks tensors of one shape along a new axis.
    public static func stack(_ tensors: [Tensor], axis: Int = 0) throws -> Tensor {
        guard let first = tensors.first else {
            throw TensorError(.invalidArgument, "stack: needs at least one tensor")
        }
        for (i, t) in tensors.enumerated() where t.shape != first.shape {
            throw TensorError(.shapeMismatch, "stack: tensor \(i) has shape \(t.shape) but tensor 0 has \(first.shape); all must match")
        }
        return try concat(tensors.map { try $0.unsqueezed(axis: axis) }, axis: axis)
    }

    /// Splits along `axis` into pieces of the given sizes, which must add up to the axis size.
    /// The pieces are views.
    public func split(sizes: [Int], axis: Int = 0) throws -> [Tensor] {
        let a = try shape.normalizedAxis(axis, op: "split")
        guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) == shape[a] else {
            throw TensorError(
                .shapeMismatch, "split: sizes \(sizes) must be ≥ 0 and add up to \(shape[a]), the size of axis \(a) of \(shape)")
        }
        var start = 0
        return try sizes.map { size in
            defer { start += size }
            return try sliced(axis: a, start: start, end: start + size)
        }
    }

    /// Splits along `axis` into `parts` pieces as equal as possible (the last may be smaller).
    public func split(parts: Int, axis: Int = 0) throws -> [Tensor] {
        let a = try shape.normalizedAxis(axis, op: "split")
        guard parts >= 1 else { throw TensorError(.invalidArgument, "split: parts must be ≥ 1, got \(parts)") }
        let n = shape[a]
        let chunk = (n + parts - 1) / parts
        var sizes: [Int] = []
        var left = n
        for _ in 0..<parts {
            let s = Swift.min(chunk, left)
            sizes.append(s)
            left -= s
        }
        return try split(sizes: sizes, axis: a)
    }
}

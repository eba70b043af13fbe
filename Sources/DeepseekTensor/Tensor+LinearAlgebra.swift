extension Tensor {
    /// The matrix product, with NumPy `matmul` semantics.
    ///
    /// 1-D operands are promoted to a row (left) or column (right) and the added axis is removed
    /// from the result; leading batch axes broadcast. Operands of different dtypes are promoted.
    ///
    /// ```swift
    /// let y = try x.matmul(w)   // [batch, in] × [in, out] → [batch, out]
    /// ```
    ///
    /// - Throws: `TensorError.shapeMismatch` when the inner dimensions differ, naming both shapes.
    /// - Complexity: O(batch · M · N · K).
    public func matmul(_ other: Tensor) throws -> Tensor {
        guard rank >= 1 && other.rank >= 1 else {
            throw TensorError(
                .shapeMismatch, "matmul: operands must have at least one axis, got \(shape) and \(other.shape); use mul for scalars")
        }
        guard dtype != .bool && other.dtype != .bool else {
            throw TensorError(.dtypeMismatch, "matmul: bool operands are not supported (\(dtype), \(other.dtype))")
        }
        var a = rank == 1 ? try unsqueezed(axis: 0) : self
        var b = other.rank == 1 ? try other.unsqueezed(axis: 1) : other
        let k = a.shape[a.rank - 1]
        guard k == b.shape[b.rank - 2] else {
            throw TensorError(
                .shapeMismatch,
                "matmul: inner dimensions differ: \(shape) × \(other.shape) (\(k) ≠ \(b.shape[b.rank - 2])); the last axis of the left operand must equal the second-to-last axis of the right"
            )
        }
        let batchA = Shape(Array(a.shape.dims.dropLast(2)))
        let batchB = Shape(Array(b.shape.dims.dropLast(2)))
        let batch = try Shape.broadcast(batchA, batchB, op: "matmul")
        let m = a.shape[a.rank - 2]
        let n = b.shape[b.rank - 1]
        if a.shape.dims.dropLast(2) != batch.dims[...] {
            a = try a.expanded(to: Shape(batch.dims + [m, k]))
        }
        if b.shape.dims.dropLast(2) != batch.dims[...] {
            b = try b.expanded(to: Shape(batch.dims + [k, n]))
        }
        let common = a.dtype.promoted(with: b.dtype)
        if a.dtype != common { a = try a.cast(to: common) }
        if b.dtype != common { b = try b.cast(to: common) }
        var result = try KernelBackends.current.matmul(a, b)
        if rank == 1 { result = try result.squeezed(axes: [-2]) }
        if other.rank == 1 { result = try result.squeezed(axes: [-1]) }
        return result
    }
}

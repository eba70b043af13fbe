extension Tensor {
    /// The same elements with a new shape; one axis may be `-1` to be inferred.
    ///
    /// A contiguous tensor is reshaped without copying; a strided view is copied first.
    ///
    /// - Throws: `TensorError.shapeMismatch` when the element counts differ or more than one axis is `-1`.
    public func reshaped(_ newShape: Shape) throws -> Tensor {
        var dims = newShape.dims
        let inferred = dims.indices.filter { dims[$0] == -1 }
        guard inferred.count <= 1 else {
            throw TensorError(.shapeMismatch, "reshape: \(newShape) has more than one -1 axis; at most one size can be inferred")
        }
        if let axis = inferred.first {
            var known = 1
            for (i, d) in dims.enumerated() where i != axis {
                let (product, overflow) = known.multipliedReportingOverflow(by: d)
                guard !overflow, d >= 0 else {
                    throw TensorError(.shapeMismatch, "reshape: \(newShape) has negative or overflowing sizes")
                }
                known = product
            }
            guard known > 0, elementCount % known == 0 else {
                throw TensorError(
                    .shapeMismatch,
                    "reshape: cannot infer the -1 axis of \(newShape) for \(elementCount) elements of shape \(shape)")
            }
            dims[axis] = elementCount / known
        }
        let target = try Shape(dims).validated(for: "reshape")
        guard target.elementCount == elementCount else {
            throw TensorError(
                .shapeMismatch,
                "reshape: shape \(shape) (\(elementCount) elements) cannot become \(target) (\(target.elementCount) elements); the counts must match"
            )
        }
        let source = isContiguous ? self : try contiguous()
        return Tensor(storage: source.storage, dtype: dtype, shape: target, strides: target.contiguousStrides, offset: source.offset)
    }

    /// Collapses axes `start...end` into one (all axes by default).
    public func flattened(from start: Int = 0, through end: Int = -1) throws -> Tensor {
        if rank == 0 { return try reshaped([1]) }
        let s = try shape.normalizedAxis(start, op: "flatten")
        let e = try shape.normalizedAxis(end, op: "flatten")
        guard s <= e else {
            throw TensorError(.invalidAxis, "flatten: start axis \(start) comes after end axis \(end) for shape \(shape)")
        }
        let middle = shape.dims[s...e].reduce(1, *)
        return try reshaped(Shape(Array(shape.dims[..<s]) + [middle] + Array(shape.dims[(e + 1)...])))
    }

    /// A view with the axes reordered: output axis `i` is input axis `axes[i]`.
    public func permuted(_ axes: [Int]) throws -> Tensor {
        guard axes.count == rank else {
            throw TensorError(.invalidAxis, "permute: \(axes) names \(axes.count) axes but the tensor of shape \(shape) has \(rank)")
        }
        let normalized = try shape.normalizedAxes(axes, op: "permute")
        guard normalized.count == rank else {
            throw TensorError(.invalidAxis, "permute: \(axes) is not a permutation of 0..<\(rank)")
        }
        let order = try axes.map { (a: Int) throws(TensorError) -> Int in try shape.normalizedAxis(a, op: "permute") }
        return Tensor(
            storage: storage, dtype: dtype, shape: Shape(order.map { shape[$0] }), strides: order.map { strides[$0] },
            offset: offset)
    }

    /// A view with two axes swapped.
    public func transposed(_ a: Int, _ b: Int) throws -> Tensor {
        let x = try shape.normalizedAxis(a, op: "transpose")
        let y = try shape.normalizedAxis(b, op: "transpose")
        var order = Array(0..<rank)
        order.swapAt(x, y)
        return try permuted(order)
    }

    /// A view with the last two axes swapped (the matrix transpose); rank 0 and 1 are unchanged.
    public func transposed() throws -> Tensor {
        rank < 2 ? self : try transposed(-2, -1)
    }

    /// A view of `start..<end` with `step` along `axis`, with Python-style clamping of bounds.
    ///
    /// Negative `start`/`end` count from the end; a negative `step` walks backwards (then the
    /// defaults are the last element and one before the first).
    public func sliced(axis: Int, start: Int? = nil, end: Int? = nil, step: Int = 1) throws -> Tensor {
        let a = try shape.normalizedAxis(axis, op: "slice")
        guard step != 0 else {
            throw TensorError(.invalidArgument, "slice: step must not be 0 (axis \(axis) of shape \(shape))")
        }
        let n = shape[a]
        // A step longer than the axis takes at most one element; clamping keeps the arithmetic in range.
        let step = step > 0 ? Swift.min(step, n + 1) : Swift.max(step, -(n + 1))
        func clamp(_ v: Int, low: Int, high: Int) -> Int { Swift.min(Swift.max(v, low), high) }
        var lo: Int
        var hi: Int
        if step > 0 {
            lo = start.map { $0 < 0 ? Swift.max($0, -n) + n : $0 }.map { clamp($0, low: 0, high: n) } ?? 0
            hi = end.map { $0 < 0 ? Swift.max($0, -n) + n : $0 }.map { clamp($0, low: 0, high: n) } ?? n
        } else {
            lo = start.map { $0 < 0 ? Swift.max($0, -n - 1) + n : $0 }.map { clamp($0, low: -1, high: n - 1) } ?? n - 1
            hi = end.map { $0 < 0 ? Swift.max($0, -n - 1) + n : $0 }.map { clamp($0, low: -1, high: n - 1) } ?? -1
        }
        let count = step > 0 ? Swift.max(0, (hi - lo + step - 1) / step) : Swift.max(0, (lo - hi - step - 1) / -step)
        var newShape = shape
        var newStrides = strides
        newShape[a] = count
        newStrides[a] = strides[a] * step
        let newOffset = count > 0 ? offset + lo * strides[a] : offset
        return Tensor(storage: storage, dtype: dtype, shape: newShape, strides: newStrides, offset: newOffset)
    }

    /// A view broadcast to `target` (NumPy rules): size-1 axes repeat with stride 0.
    public func expanded(to target: Shape) throws -> Tensor {
        guard target.rank >= rank else {
            throw TensorError(.shapeMismatch, "expand: cannot expand shape \(shape) to the lower-rank shape \(target)")
        }
        let lead = target.rank - rank
        var newStrides = [Int](repeating: 0, count: target.rank)
        for i in 0..<target.rank {
            if i < lead { continue }
            let d = shape[i - lead]
            if d == target[i] {
                newStrides[i] = strides[i - lead]
            } else if d == 1 {
                newStrides[i] = 0
            } else {
                throw TensorError(
                    .shapeMismatch,
                    "expand: axis \(i - lead) of shape \(shape) has size \(d) and cannot expand to \(target[i]) in \(target); only size-1 axes expand"
                )
            }
        }
        return Tensor(storage: storage, dtype: dtype, shape: try target.validated(for: "expand"), strides: newStrides, offset: offset)
    }

    /// Removes size-1 axes (all of them, or the listed ones).
    public func squeezed(axes: [Int]? = nil) throws -> Tensor {
        let drop: Set<Int>
        if let axes {
            let normalized = try shape.normalizedAxes(axes, op: "squeeze")
            for a in normalized where shape[a] != 1 {
                throw TensorError(.shapeMismatch, "squeeze: axis \(a) of shape \(shape) has size \(shape[a]), not 1")
            }
            drop = Set(normalized)
        } else {
            drop = Set(shape.indices.filter { shape[$0] == 1 })
        }
        let keep = shape.indices.filter { !drop.contains($0) }
        return Tensor(
            storage: storage, dtype: dtype, shape: Shape(keep.map { shape[$0] }), strides: keep.map { strides[$0] },
            offset: offset)
    }

    /// Inserts a size-1 axis at `axis` (which may be `rank`, or negative counting from `rank + 1`).
    public func unsqueezed(axis: Int) throws -> Tensor {
        let a = axis < 0 ? axis + rank + 1 : axis
        guard a >= 0 && a <= rank else {
            throw TensorError(.invalidAxis, "unsqueeze: axis \(axis) is out of range for shape \(shape); use \(-rank - 1)...\(rank)")
        }
        var dims = shape.dims
        var newStrides = strides
        dims.insert(1, at: a)
        newStrides.insert(a < rank ? strides[a] * shape[a] : 1, at: a)
        return Tensor(storage: storage, dtype: dtype, shape: Shape(dims), strides: newStrides, offset: offset)
    }

    /// This tensor in a dense row-major layout (itself when already contiguous).
    public func contiguous() throws -> Tensor {
        isContiguous ? self : try KernelBackends.current.copy(self)
    }
}

import DeepseekTensor

extension OpenCLBackend {
    /// `x` itself when contiguous, else a dense copy made on the device.
    func dense(_ x: Tensor) throws -> Tensor { x.isContiguous ? x : try copy(x) }

    /// `x` itself when contiguous from element 0 of its storage, else a dense copy: for
    /// parameters that kernels index without an offset argument.
    func packed(_ x: Tensor) throws -> Tensor { x.isContiguous && x.offset == 0 ? x : try copy(x) }

    /// Bytes of one `ACC` value.
    var accumulatorSize: Int { runtime.info.supportsFloat64 ? 8 : 4 }

    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int], keepDims: Bool) throws -> Tensor {
        guard let p = native(x.dtype) else {
            if isHalf(x.dtype) { return try viaFloat32([x]) { try reduce(op, $0[0], axes: axes, keepDims: keepDims) } }
            return try reference.reduce(op, x, axes: axes, keepDims: keepDims)
        }
        let reduced = Set(axes)
        let kept = x.shape.indices.filter { !reduced.contains($0) }
        let outShape = Shape(keepDims ? x.shape.indices.map { reduced.contains($0) ? 1 : x.shape[$0] } : kept.map { x.shape[$0] })
        let rows = outShape.elementCount
        let n = axes.reduce(1) { $0 * x.shape[$1] }
        if rows == 0 { return try Tensor.empty(outShape, dtype: x.dtype) }
        if n == 0 {
            // Empty groups: the sum is 0, the product 1, the mean 0/0 (max/min are refused earlier).
            let value: Double = op == .prod ? 1 : (op == .mean ? .nan : 0)
            return try Tensor.full(outShape, value: value, dtype: x.dtype)
        }
        try x.requireData(op.rawValue)
        let code: Int32 =
            switch op {
            case .sum: 0
            case .mean: 1
            case .max: 2
            case .min: 3
            case .prod: 4
            }
        if let out = try reduceColumns(code, x, axes: axes, kept: kept, outShape: outShape, p) { return out }
        // Reduced axes last, then every output element is one contiguous row.
        let rowsView = try dense(x.permuted(kept + axes))
        let maxParts = max(1, (64 + rows - 1) / rows)
        let wanted = min(maxParts, max(1, n / 16384))
        let length = (n + wanted - 1) / wanted
        let parts = (n + length - 1) / length
        let out = try Tensor.empty(outShape, dtype: x.dtype)
        let input = try DeviceBuffer.input(rowsView, runtime)
        let partial = try DeviceBuffer.scratch(bytes: rows * parts * accumulatorSize, runtime)
        let output = try DeviceBuffer.output(out, runtime)
        try runtime.launch(
            .reduction(p), "reduce_partial", global: [parts, rows],
            [.buffer(partial), .buffer(input), .long(rowsView.offset), .long(n), .long(parts), .long(length), .int(code)])
        try runtime.launch(
            .reduction(p), "reduce_final", global: [rows], [.buffer(output), .buffer(partial), .long(parts), .int(code), .long(n)])
        try output.complete()
        withExtendedLifetime((input, partial)) {}
        return out
    }

    /// Reduces without moving data when the innermost axis is kept and dense: the kernel walks
    /// the reduced axes for runs of consecutive output elements. `nil` when the layout does not
    /// fit (reduced innermost axis, or more than six axes on either side).
    private func reduceColumns(
        _ code: Int32, _ x: Tensor, axes: [Int], kept: [Int], outShape: Shape, _ p: Precision
    ) throws -> Tensor? {
        guard let last = kept.last, last == x.rank - 1, x.strides[last] == 1, x.shape[last] > 1,
            let keptLayout = StridedLayout(Shape(kept.map { x.shape[$0] }), [kept.map { x.strides[$0] }]),
            keptLayout.strides[0][5] == 1,
            let reducedLayout = StridedLayout(Shape(axes.map { x.shape[$0] }), [axes.map { x.strides[$0] }])
        else { return nil }
        let n = axes.reduce(1) { $0 * x.shape[$1] }
        let out = try Tensor.empty(outShape, dtype: x.dtype)
        let input = try DeviceBuffer.input(x, runtime)
        let output = try DeviceBuffer.output(out, runtime)
        let columns = 64  // COLUMNS in the kernel source
        try runtime.launch(
            .reduction(p), "reduce_columns", global: [(keptLayout.inner + columns - 1) / columns, keptLayout.rows],
            [
                .buffer(output), .buffer(input), .long(x.offset), .long8(keptLayout.shape), .long8(keptLayout.strides[0]),
                .long8(reducedLayout.shape), .long8(reducedLayout.strides[0]), .long(n), .int(code),
            ])
        try output.complete()
        withExtendedLifetime(input) {}
        return out
    }

    public func argReduce(_ op: ArgReduceOp, _ x: Tensor, axis: Int, keepDims: Bool, selectLastIndex: Bool) throws -> Tensor {
        guard let p = native(x.dtype) else {
            if isHalf(x.dtype) {
                return try viaFloat32([x]) {
                    try argReduce(op, $0[0], axis: axis, keepDims: keepDims, selectLastIndex: selectLastIndex)
                }
            }
            return try reference.argReduce(op, x, axis: axis, keepDims: keepDims, selectLastIndex: selectLastIndex)
        }
        var dims = x.shape.dims
        if keepDims { dims[axis] = 1 } else { dims.remove(at: axis) }
        let out = try Tensor.empty(Shape(dims), dtype: .int64)
        if out.elementCount == 0 { return out }
        try x.requireData(op.rawValue)
        let source = try dense(x)
        let (outer, n, inner) = split(x.shape, at: axis)
        let input = try DeviceBuffer.input(source, runtime)
        let output = try DeviceBuffer.output(out, runtime)
        try runtime.launch(
            .reduction(p), "arg_reduce", global: [inner, outer],
            [
                .buffer(output), .buffer(input), .long(source.offset), .long(n), .long(inner), .int(op == .argmax ? 1 : 0),
                .int(selectLastIndex ? 1 : 0),
            ])
        try output.complete()
        withExtendedLifetime(input) {}
        return out
    }

    /// (outer, axis, inner) sizes around `axis`.
    func split(_ shape: Shape, at axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape.dims[..<axis].reduce(1, *), shape[axis], shape.dims[(axis + 1)...].reduce(1, *))
    }

    public func softmax(_ x: Tensor, axis: Int, log: Bool) throws -> Tensor {
        guard let p = native(x.dtype) else {
            if isHalf(x.dtype) { return try viaFloat32([x]) { try softmax($0[0], axis: axis, log: log) } }
            return try reference.softmax(x, axis: axis, log: log)
        }
        let out = try Tensor.empty(x.shape, dtype: x.dtype)
        if out.elementCount == 0 { return out }
        try x.requireData("softmax")
        let source = try dense(x)
        let (outer, n, inner) = split(x.shape, at: axis)
        let input = try DeviceBuffer.input(source, runtime)
        let output = try DeviceBuffer.output(out, runtime)
        try runtime.launch(
            .reduction(p), "softmax", global: [inner, outer],
            [.buffer(output), .buffer(input), .long(source.offset), .long(n), .long(inner), .int(log ? 1 : 0)])
        try output.complete()
        withExtendedLifetime(input) {}
        return out
    }

    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, axis: Int, epsilon: Double) throws -> LayerNormResult {
        guard let p = native(x.dtype) else {
            if isHalf(x.dtype) {
                // Statistics stay float32, as the reference keeps them.
                let r = try layerNorm(
                    castFloats(x, to: .float32), weight: weight.map { try castFloats($0, to: .float32) },
                    bias: bias.map { try castFloats($0, to: .float32) }, axis: axis, epsilon: epsilon)
                return LayerNormResult(output: try castFloats(r.output, to: x.dtype), mean: r.mean, inverseStdDev: r.inverseStdDev)
            }
            return try reference.layerNorm(x, weight: weight, bias: bias, axis: axis, epsilon: epsilon)
        }
        let size = x.shape.dims[axis...].reduce(1, *)
        let groups = size == 0 ? 0 : x.elementCount / size
        let statShape = Shape(x.shape.dims[..<axis] + Array(repeating: 1, count: x.rank - axis))
        let out = try Tensor.empty(x.shape, dtype: x.dtype)
        let mean = try Tensor.empty(statShape, dtype: x.dtype)
        let inverse = try Tensor.empty(statShape, dtype: x.dtype)
        if groups == 0 {
            if mean.elementCount > 0 {
                // Empty groups: the reference divides 0 by 0 for the mean and variance.
                let nan = try Tensor.full(statShape, value: .nan, dtype: x.dtype)
                return LayerNormResult(output: out, mean: nan, inverseStdDev: nan)
            }
            return LayerNormResult(output: out, mean: mean, inverseStdDev: inverse)
        }
        try x.requireData("layerNorm")
        let source = try dense(x)
        let input = try DeviceBuffer.input(source, runtime)
        let wBuffer = try weight.map { t throws in try DeviceBuffer.input(try packed(t), runtime) }
        let bBuffer = try bias.map { t throws in try DeviceBuffer.input(try packed(t), runtime) }
        let outputs = try [out, mean, inverse].map { t throws in try DeviceBuffer.output(t, runtime) }
        try runtime.launch(
            .reduction(p), "layer_norm", global: [groups],
            [
                .buffer(outputs[0]), .buffer(outputs[1]), .buffer(outputs[2]), .buffer(input), .long(source.offset),
                .buffer(wBuffer), .buffer(bBuffer), .long(size), accumulator(epsilon),
            ])
        for o in outputs { try o.complete() }
        withExtendedLifetime((input, wBuffer, bBuffer)) {}
        return LayerNormResult(output: out, mean: mean, inverseStdDev: inverse)
    }

    public func batchNorm(
        _ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Double
    ) throws -> Tensor {
        guard let p = native(x.dtype) else {
            if isHalf(x.dtype) {
                return try viaFloat32([x, scale, bias, mean, variance]) {
                    try batchNorm($0[0], scale: $0[1], bias: $0[2], mean: $0[3], variance: $0[4], epsilon: epsilon)
                }
            }
            return try reference.batchNorm(x, scale: scale, bias: bias, mean: mean, variance: variance, epsilon: epsilon)
        }
        let out = try Tensor.empty(x.shape, dtype: x.dtype)
        if out.elementCount == 0 { return out }
        try x.requireData("batchNorm")
        let source = try dense(x)
        // Per-channel parameters are read from element 0: copy views with an offset or strides.
        let parameters = try [scale, bias, mean, variance].map { t throws in try DeviceBuffer.input(try packed(t), runtime) }
        let (outer, channels, inner) = split(x.shape, at: 1)
        let input = try DeviceBuffer.input(source, runtime)
        let output = try DeviceBuffer.output(out, runtime)
        let chunk = StridedLayout.chunk
        try runtime.launch(
            .reduction(p), "batch_norm", global: [(inner + chunk - 1) / chunk, outer * channels],
            [.buffer(output), .buffer(input), .long(source.offset)] + parameters.map { .buffer($0) }
                + [.long(channels), .long(inner), accumulator(epsilon), .long(chunk)])
        try output.complete()
        withExtendedLifetime((input, parameters)) {}
        return out
    }
}

import DeepseekTensor

extension OpenCLBackend {
    public func pool2d(_ kind: PoolKind, _ x: Tensor, parameters: Pool2dParameters) throws -> Tensor {
        guard let p = native(x.dtype) else {
            if isHalf(x.dtype) { return try viaFloat32([x]) { try pool2d(kind, $0[0], parameters: parameters) } }
            return try reference.pool2d(kind, x, parameters: parameters)
        }
        let pr = parameters
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = pr.outputSize(height: h, width: w)
        let out = try Tensor.empty([n, c, oh, ow], dtype: x.dtype)
        if out.elementCount == 0 { return out }
        if x.elementCount == 0 {
            // No input positions at all: max is -inf, an average of nothing is 0 (as the reference).
            return try Tensor.full(out.shape, value: kind == .max ? -.infinity : 0, dtype: x.dtype)
        }
        try requireInt32("pool2d", h * w, oh * ow)
        try x.requireData(kind == .max ? "maxPool2d" : "avgPool2d")
        let source = try dense(x)
        let input = try DeviceBuffer.input(source, runtime)
        let output = try DeviceBuffer.output(out, runtime)
        try runtime.launch(
            .linearAlgebra(p), "pool2d", global: [oh, n * c],
            [
                .buffer(output), .buffer(input), .long(source.offset), .int(h), .int(w), .int(oh), .int(ow), .int(pr.kernel.h),
                .int(pr.kernel.w), .int(pr.stride.h), .int(pr.stride.w), .int(pr.padding.top), .int(pr.padding.left),
                .int(pr.padding.bottom), .int(pr.padding.right), .int(pr.dilation.h), .int(pr.dilation.w),
                .int(kind == .max ? 1 : 0), .int(pr.countIncludePad ? 1 : 0),
            ])
        try output.complete()
        withExtendedLifetime(input) {}
        return out
    }

    /// Runs on the device for every dtype: slices are moved, not computed.
    public func gather(_ x: Tensor, indices: Tensor, axis: Int) throws -> Tensor {
        let (outer, n, inner) = split(x.shape, at: axis)
        let outShape = Shape(Array(x.shape.dims[..<axis]) + indices.shape.dims + Array(x.shape.dims[(axis + 1)...]))
        let out = try Tensor.empty(outShape, dtype: x.dtype)
        if out.elementCount == 0 { return out }
        try x.requireData("gather")
        let index = try Tensor(indices.scalars(as: Int64.self), shape: [indices.elementCount])
        let source = try dense(x)
        let input = try DeviceBuffer.input(source, runtime)
        let indexBuffer = try DeviceBuffer.input(index, runtime)
        let output = try DeviceBuffer.output(out, runtime)
        let chunk = StridedLayout.chunk
        try runtime.launch(
            .movement, "gather\(x.dtype.byteSize)", global: [(inner + chunk - 1) / chunk, index.elementCount, outer],
            [
                .buffer(output), .buffer(input), .long(source.offset), .buffer(indexBuffer), .long(index.elementCount),
                .long(n), .long(inner), .long(chunk),
            ])
        try output.complete()
        withExtendedLifetime((input, indexBuffer)) {}
        return out
    }

    /// Runs on the device for every dtype: each input is copied into its slice of the output.
    public func concat(_ xs: [Tensor], axis: Int) throws -> Tensor {
        var dims = xs[0].shape.dims
        dims[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        let out = try Tensor.empty(Shape(dims), dtype: xs[0].dtype)
        if out.elementCount == 0 { return out }
        let output = try DeviceBuffer.output(out, runtime)
        var inputs: [DeviceBuffer] = []
        var start = 0
        for x in xs {
            if let b = try enqueueCopy(x, into: output, offset: start * out.strides[axis], strides: out.strides) {
                inputs.append(b)
            }
            start += x.shape[axis]
        }
        try output.complete()
        withExtendedLifetime(inputs) {}
        return out
    }
}

import DeepseekCore
import DeepseekTensor

/// The result of a profiled matrix product: the output plus device and wall-clock times.
public struct OpenCLMatmulTiming: Sendable {
    public var output: Tensor
    /// Kernel execution time from OpenCL profiling events (packing included), in seconds.
    public var kernelSeconds: Double
    /// Wall-clock time of the whole call (buffers, launches, synchronisation), in seconds.
    public var wallSeconds: Double
}

extension OpenCLBackend {
    /// Rows of the register tile of the packed gemm kernel (`TM` in the kernel source).
    static let tileRows = 8

    /// Columns of the register tile: two vectors of 16 floats or 8 doubles.
    static func tileColumns(_ p: Precision) -> Int { p == .single ? 32 : 16 }

    public func matmul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        guard let p = native(a.dtype) else {
            if isHalf(a.dtype) { return try viaFloat32([a, b]) { try matmul($0[0], $0[1]) } }
            return try reference.matmul(a, b)
        }
        return try matmulKernels(a, b, p, profile: false).output
    }

    /// Multiplies and reports kernel time (profiling events) and wall time, for benchmarks.
    ///
    /// Uses `matmulKernel`; operands must be float32 (or float64 on fp64 devices) with shapes as
    /// `matmul` takes them.
    public func timedMatmul(_ a: Tensor, _ b: Tensor) throws -> OpenCLMatmulTiming {
        guard let p = native(a.dtype), a.dtype == b.dtype else {
            throw TensorError(.unsupported, "timedMatmul: needs float32 or float64 operands of one dtype, got \(a.dtype) and \(b.dtype)")
        }
        let clock = ContinuousClock()
        let start = clock.now
        let (output, events) = try matmulKernels(a, b, p, profile: true)
        let wall = clock.now - start
        let kernel = try events.reduce(0.0) { total, e throws in total + (try e.seconds()) }
        let seconds = wall.inSeconds
        return OpenCLMatmulTiming(output: output, kernelSeconds: kernel, wallSeconds: seconds)
    }

    /// The batch axes of one or more operands collapsed into `shape.s0...s4` (with `s5` = 1), as
    /// the matrix kernels' `row_offset` expects, or `nil` when more than five axes remain.
    func batchLayout(_ batch: [Int], _ strides: [[Int]]) -> (shape: [Int], strides: [[Int]])? {
        guard let layout = StridedLayout(Shape(batch), strides), layout.shape[0] == 1 else { return nil }
        return (Array(layout.shape.dropFirst()) + [1], layout.strides.map { Array($0.dropFirst()) + [0] })
    }

    func matmulKernels(_ a: Tensor, _ b: Tensor, _ p: Precision, profile: Bool) throws -> (output: Tensor, events: [KernelEvent]) {
        let r = a.rank
        let (m, k, n) = (a.shape[r - 2], a.shape[r - 1], b.shape[r - 1])
        let batchDims = Array(a.shape.dims.dropLast(2))
        let batch = batchDims.reduce(1, *)
        let out = try Tensor.empty(Shape(batchDims + [m, n]), dtype: a.dtype)
        if out.elementCount == 0 { return (out, []) }
        if k == 0 { return (try Tensor.zeros(out.shape, dtype: a.dtype), []) }
        try requireInt32("matmul", m, n, k)
        try a.requireData("matmul")
        try b.requireData("matmul")
        var (x, y) = (a, b)
        var layout = batchLayout(batchDims, [Array(x.strides.dropLast(2)), Array(y.strides.dropLast(2))])
        if layout == nil {
            (x, y) = (try dense(a), try dense(b))
            layout = batchLayout(batchDims, [Array(x.strides.dropLast(2)), Array(y.strides.dropLast(2))])
        }
        guard let layout else { preconditionFailure("dense batch axes always collapse") }
        let inputA = try DeviceBuffer.input(x, runtime)
        let inputB = try DeviceBuffer.input(y, runtime)
        let output = try DeviceBuffer.output(out, runtime)
        var events: [KernelEvent] = []
        let kind = ProgramKind.linearAlgebra(p)
        let (ars, acs, brs, bcs) = (x.strides[r - 2], x.strides[r - 1], y.strides[r - 2], y.strides[r - 1])
        var scratch: [DeviceBuffer] = []
        switch matmulKernel {
        case .naive:
            let e = try runtime.launch(
                kind, "gemm_naive", global: [(n + 15) / 16 * 16, m, batch], local: [16, 1, 1],
                [
                    .buffer(inputA), .long(x.offset), .long(ars), .long(acs), .long8(layout.shape), .long8(layout.strides[0]),
                    .buffer(inputB), .long(y.offset), .long(brs), .long(bcs), .long8(layout.strides[1]),
                    .buffer(output), .int(m), .int(n), .int(k),
                ], profile: profile)
            events += e.map { [$0] } ?? []
        case .registerBlocked:
            let tm = Self.tileRows
            let tn = Self.tileColumns(p)
            let (mBlocks, nBlocks) = ((m + tm - 1) / tm, (n + tn - 1) / tn)
            // An operand broadcast over every batch axis (all strides 0) is packed once.
            let aShared = layout.strides[0].allSatisfy { $0 == 0 }
            let bShared = layout.strides[1].allSatisfy { $0 == 0 }
            let aPanel = mBlocks * k * tm
            let bPanel = nBlocks * k * tn
            let packedA = try DeviceBuffer.scratch(bytes: (aShared ? 1 : batch) * aPanel * p.byteSize, runtime)
            let packedB = try DeviceBuffer.scratch(bytes: (bShared ? 1 : batch) * bPanel * p.byteSize, runtime)
            scratch = [packedA, packedB]
            let e1 = try runtime.launch(
                kind, "pack_a", global: [mBlocks, aShared ? 1 : batch],
                [
                    .buffer(inputA), .long(x.offset), .long(ars), .long(acs), .long8(layout.shape), .long8(layout.strides[0]),
                    .int(m), .int(k), .buffer(packedA), .long(aPanel),
                ], profile: profile)
            let e2 = try runtime.launch(
                kind, "pack_b", global: [nBlocks, bShared ? 1 : batch],
                [
                    .buffer(inputB), .long(y.offset), .long(brs), .long(bcs), .long8(layout.shape), .long8(layout.strides[1]),
                    .int(k), .int(n), .buffer(packedB), .long(bPanel),
                ], profile: profile)
            let e3 = try runtime.launch(
                kind, "gemm", global: [mBlocks, nBlocks, batch],
                [
                    .buffer(packedA), .long(0), .long(aShared ? 0 : aPanel), .buffer(packedB), .long(bShared ? 0 : bPanel),
                    .buffer(output), .long(0), .long(n), .long(m * n), .int(m), .int(n), .int(k),
                ], profile: profile)
            events += [e1, e2, e3].compactMap { $0 }
        }
        try output.complete()
        withExtendedLifetime((inputA, inputB, scratch)) {}
        return (out, events)
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, parameters: Conv2dParameters) throws -> Tensor {
        guard let p = native(x.dtype) else {
            if isHalf(x.dtype) {
                let result = try conv2d(
                    castFloats(x, to: .float32), weight: castFloats(weight, to: .float32),
                    bias: bias.map { try castFloats($0, to: .float32) }, parameters: parameters)
                return try castFloats(result, to: x.dtype)
            }
            return try reference.conv2d(x, weight: weight, bias: bias, parameters: parameters)
        }
        let pr = parameters
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let (oh, ow) = pr.outputSize(height: h, width: w, kernelHeight: kh, kernelWidth: kw)
        let out = try Tensor.empty([n, o, oh, ow], dtype: x.dtype)
        if out.elementCount == 0 { return out }
        let groups = pr.groups
        let og = o / groups
        let kSize = cg * kh * kw
        let l = oh * ow
        if kSize == 0 || h == 0 || w == 0 {
            return try bias.map { try add(bias: $0, to: Tensor.zeros(out.shape, dtype: x.dtype), p) } ?? Tensor.zeros(out.shape, dtype: x.dtype)
        }
        try requireInt32("conv2d", n * c * h * w, o * kSize, n * o * l)
        try x.requireData("conv2d")
        let source = try dense(x)
        let filters = try dense(weight)
        let kind = ProgramKind.linearAlgebra(p)
        let tm = Self.tileRows
        let tn = Self.tileColumns(p)
        let (mBlocks, nBlocks) = ((og + tm - 1) / tm, (l + tn - 1) / tn)
        let input = try DeviceBuffer.input(source, runtime)
        let filterBuffer = try DeviceBuffer.input(filters, runtime)
        let output = try DeviceBuffer.output(out, runtime)
        // Every group's filters packed at once: batch axis = group, stride og·K.
        let aPanel = mBlocks * kSize * tm
        let packedA = try DeviceBuffer.scratch(bytes: groups * aPanel * p.byteSize, runtime)
        try runtime.launch(
            kind, "pack_a", global: [mBlocks, groups],
            [
                .buffer(filterBuffer), .long(filters.offset), .long(kSize), .long(1), .long8([groups, 1, 1, 1, 1, 1]),
                .long8([og * kSize, 0, 0, 0, 0, 0]), .int(og), .int(kSize), .buffer(packedA), .long(aPanel),
            ])
        // Images go through the im2col panels in chunks that keep the scratch near 64 MiB.
        let bPanel = nBlocks * kSize * tn
        let perChunk = max(1, min(n, (64 << 20) / max(1, bPanel * p.byteSize)))
        let packedB = try DeviceBuffer.scratch(bytes: perChunk * bPanel * p.byteSize, runtime)
        for n0 in stride(from: 0, to: n, by: perChunk) {
            let count = min(perChunk, n - n0)
            for g in 0..<groups {
                try runtime.launch(
                    kind, "pack_conv", global: [nBlocks, count],
                    [
                        .buffer(input), .long(source.offset + n0 * c * h * w), .int(c), .int(h), .int(w), .int(cg), .int(kh),
                        .int(kw), .int(pr.stride.h), .int(pr.stride.w), .int(pr.padding.top), .int(pr.padding.left),
                        .int(pr.dilation.h), .int(pr.dilation.w), .int(ow), .int(g), .int(kSize), .int(l),
                        .buffer(packedB), .long(bPanel),
                    ])
                try runtime.launch(
                    kind, "gemm", global: [mBlocks, nBlocks, count],
                    [
                        .buffer(packedA), .long(g * aPanel), .long(0), .buffer(packedB), .long(bPanel), .buffer(output),
                        .long(n0 * o * l + g * og * l), .long(l), .long(o * l), .int(og), .int(l), .int(kSize),
                    ])
            }
        }
        var biasBuffer: DeviceBuffer?
        if let bias {
            let chunk = StridedLayout.chunk
            biasBuffer = try DeviceBuffer.input(try packed(bias), runtime)
            try runtime.launch(
                kind, "add_bias", global: [(l + chunk - 1) / chunk, n * o],
                [.buffer(output), .buffer(biasBuffer), .long(o), .long(l), .long(chunk)])
        }
        try output.complete()
        withExtendedLifetime((input, filterBuffer, packedA, packedB, biasBuffer)) {}
        return out
    }

    /// Throws when a size exceeds the 32-bit `int` the kernels index matrices and images with.
    func requireInt32(_ op: String, _ sizes: Int...) throws {
        if let big = sizes.first(where: { $0 > Int(Int32.max) }) {
            throw TensorError(
                .unsupported, "\(op): size \(big) exceeds the OpenCL kernels' 32-bit indexing; split the operation into smaller ones")
        }
    }

    /// `out[:, c, …] += bias[c]` on a fresh contiguous tensor.
    func add(bias: Tensor, to out: Tensor, _ p: Precision) throws -> Tensor {
        let (outer, channels, inner) = split(out.shape, at: 1)
        if out.elementCount == 0 { return out }
        let chunk = StridedLayout.chunk
        let biasBuffer = try DeviceBuffer.input(try packed(bias), runtime)
        let output = try DeviceBuffer.output(out, runtime, preserving: true)
        try runtime.launch(
            .linearAlgebra(p), "add_bias", global: [(inner + chunk - 1) / chunk, outer * channels],
            [.buffer(output), .buffer(biasBuffer), .long(channels), .long(inner), .long(chunk)])
        try output.complete()
        withExtendedLifetime(biasBuffer) {}
        return out
    }
}

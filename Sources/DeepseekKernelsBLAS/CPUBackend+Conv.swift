public import DeepseekTensor

extension CPUBackend {
    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, parameters: Conv2dParameters) throws -> Tensor {
        switch x.dtype {
        case .float32:
            return try convDense(x, weight, bias, parameters, Float.self, blas.map(Self.sgemm))
        case .float64:
            return try convDense(x, weight, bias, parameters, Double.self, blas.map(Self.dgemm))
        case .float16, .bfloat16:
            let y = try convDense(
                float32Compact(x), float32Compact(weight), bias.map(float32Compact), parameters, Float.self, blas.map(Self.sgemm))
            return try narrowed(y, to: x.dtype)
        default:
            return try reference.conv2d(x, weight: weight, bias: bias, parameters: parameters)
        }
    }

    /// Convolution as GEMM: the input patches of a chunk of images are laid out side by side as
    /// the columns of one matrix (`im2col`, `[C/g·KH·KW, images·OH·OW]`) and multiplied by the
    /// weights `[O/g, C/g·KH·KW]` in a single GEMM per group, whose rows are then scattered into
    /// the NCHW output with the bias added. One wide GEMM keeps OpenBLAS's threads and register
    /// tiles busy where one narrow GEMM per image (N = OH·OW) would not. The patch matrices are
    /// built in parallel, one image per task. A 1×1 kernel with unit stride and no padding skips
    /// `im2col`: each image already is that matrix.
    func convDense<T: BinaryFloatingPoint & SIMDScalar>(
        _ input: Tensor, _ weightInput: Tensor, _ biasInput: Tensor?, _ p: Conv2dParameters, _: T.Type,
        _ gemm: GEMMFunction<T>?
    ) throws -> Tensor {
        try input.requireData("conv2d")
        try weightInput.requireData("conv2d")
        let x = input.isContiguous ? input : try copy(input)
        let weight = weightInput.isContiguous ? weightInput : try copy(weightInput)
        let bias = try biasInput.map { $0.isContiguous ? $0 : try copy($0) }
        let (batch, channels, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (outChannels, groupChannels, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let (oh, ow) = p.outputSize(height: h, width: w, kernelHeight: kh, kernelWidth: kw)
        let out = try Tensor.empty([batch, outChannels, oh, ow], dtype: x.dtype, op: "conv2d")
        if out.elementCount == 0 { return out }
        let groups = p.groups
        let groupOutputs = outChannels / groups
        let patch = groupChannels * kh * kw  // the GEMM's K
        let pixels = oh * ow  // the GEMM's N per image
        let direct =
            kh == 1 && kw == 1 && p.stride == (1, 1) && p.padding == (0, 0, 0, 0) && oh == h && ow == w
        let px = UnsafePointer(x.elementPointer(as: T.self))
        let pw = UnsafePointer(weight.elementPointer(as: T.self))
        let py = out.elementPointer(as: T.self)
        let pbias = bias.map { UnsafePointer($0.elementPointer(as: T.self)) }

        /// Adds `channel`'s bias, if any, to one output row.
        func addBias(_ row: UnsafeMutablePointer<T>, _ channel: Int) {
            guard let pbias else { return }
            let value = pbias[channel]
            for i in 0..<pixels { row[i] += value }
        }

        // Small convolutions (LeNet's: 6×784×25 multiply-adds per image) run one product per
        // image, with the images spread over the threads and BLAS single-threaded: each product
        // writes its image's output rows in place, and BLAS handles the short, wide products
        // far better one image at a time than as one long product over the whole chunk.
        if let gemm, let blas, !direct, groupOutputs * pixels * patch <= Self.perImageConvolutionWork,
            [groupOutputs, pixels, patch].allSatisfy({ $0 <= Int(Int32.max) })
        {
            let parts = Swift.min(parallel.threads, batch)
            let scratch = try Tensor.empty([parts * patch * pixels], dtype: x.dtype, op: "conv2d")
            let columns = scratch.elementPointer(as: T.self)
            BLASThreadScope.singleThreaded(blas) {
                parallel.forEach(parts, parts: parts) { part in
                    let own = columns + part * patch * pixels
                    for image in (batch * part / parts)..<(batch * (part + 1) / parts) {
                        for group in 0..<groups {
                            let source = px + (image * channels + group * groupChannels) * h * w
                            Self.im2col(source, groupChannels, h, w, kh, kw, oh, ow, p, into: own, rowStride: pixels)
                            let first = image * outChannels + group * groupOutputs
                            gemm(false, false, groupOutputs, pixels, patch, pw + group * groupOutputs * patch, patch, own, pixels, py + first * pixels, pixels)
                        }
                        for channel in 0..<outChannels { addBias(py + (image * outChannels + channel) * pixels, channel) }
                    }
                }
            }
            return out
        }
        // Images per GEMM: as many as keep the patch matrix within about one core's L2 (2 MiB).
        // Measured on the reference shape (batch 64, 32→64 channels, 28×28, 3×3): 2 MiB chunks
        // match one image per GEMM at best and larger chunks that spill out of L2 are slower.
        let perImage = Swift.max(1, patch * pixels * MemoryLayout<T>.stride)
        let chunk = direct ? 1 : Swift.max(1, Swift.min(batch, (2 << 20) / perImage))
        let scratch = try Tensor.empty([direct ? 1 : patch * chunk * pixels], dtype: x.dtype, op: "conv2d")
        let product = try Tensor.empty([chunk > 1 ? groupOutputs * chunk * pixels : 1], dtype: x.dtype, op: "conv2d")
        let columns = scratch.elementPointer(as: T.self)
        let staged = product.elementPointer(as: T.self)

        /// C[m×n] = W_group · B[patch×n] with row strides ldb and ldc.
        func multiply(_ group: Int, _ b: UnsafePointer<T>, _ n: Int, _ c: UnsafeMutablePointer<T>, _ ldc: Int) {
            let a = pw + group * groupOutputs * patch
            if let gemm, [groupOutputs, n, patch, ldc].allSatisfy({ $0 <= Int(Int32.max) }) {
                gemm(false, false, groupOutputs, n, patch, a, patch, b, n, c, ldc)
            } else {
                for o in 0..<groupOutputs { (c + o * ldc).update(repeating: 0, count: n) }
                PortableGEMM.multiply(
                    m: groupOutputs, n: n, k: patch, a: .init(base: a, rowStride: patch, colStride: 1),
                    b: .init(base: b, rowStride: n, colStride: 1), c: c, ldc: ldc, parallel: parallel)
            }
        }
        /// Copies `count` images' rows of the staged product into the output, adding the bias.
        func scatter(_ first: Int, _ count: Int, _ group: Int, _ from: UnsafePointer<T>?) {
            parallel.forEach(count * groupOutputs, parts: parallel.parts(for: count * groupOutputs * pixels)) { job in
                let (slot, o) = (job / groupOutputs, job % groupOutputs)
                let channel = group * groupOutputs + o
                let row = py + ((first + slot) * outChannels + channel) * pixels
                if let from { row.update(from: from + o * count * pixels + slot * pixels, count: pixels) }
                addBias(row, channel)
            }
        }

        var first = 0
        while first < batch {
            let count = Swift.min(chunk, batch - first)
            for group in 0..<groups {
                if direct {
                    let image = px + (first * channels + group * groupChannels) * h * w
                    multiply(group, image, pixels, py + (first * outChannels + group * groupOutputs) * pixels, pixels)
                    scatter(first, 1, group, nil)
                    continue
                }
                let ld = count * pixels
                parallel.forEach(count, parts: Swift.min(count, parallel.threads)) { slot in
                    let image = px + ((first + slot) * channels + group * groupChannels) * h * w
                    Self.im2col(image, groupChannels, h, w, kh, kw, oh, ow, p, into: columns + slot * pixels, rowStride: ld)
                }
                if count == 1 {
                    multiply(group, columns, pixels, py + (first * outChannels + group * groupOutputs) * pixels, pixels)
                    scatter(first, 1, group, nil)
                } else {
                    multiply(group, columns, ld, staged, ld)
                    scatter(first, count, group, staged)
                }
            }
            first += count
        }
        return out
    }

    /// The most multiply-adds of one image's product (per group) for which a convolution runs
    /// image by image (see `convDense`).
    static let perImageConvolutionWork = 1 << 22

    /// For kernel column `kx`: the input column of output column 0 (`shift`, ix = ox·sw + shift)
    /// and the output columns `lo..<hi` whose input column lies inside the image, [0, width).
    @inline(__always)
    static func insideColumns(kx: Int, width w: Int, outputWidth ow: Int, _ p: Conv2dParameters) -> (shift: Int, lo: Int, hi: Int) {
        let sw = p.stride.w
        let shift = kx * p.dilation.w - p.padding.left
        let lo = Swift.min(ow, shift >= 0 ? 0 : (-shift + sw - 1) / sw)
        let hi = Swift.max(lo, Swift.min(ow, w - shift <= 0 ? 0 : (w - shift + sw - 1) / sw))
        return (shift, lo, hi)
    }

    /// Lays out the receptive fields of one image's `channels` planes as the columns of a
    /// `[channels·kh·kw, oh·ow]` matrix whose rows lie `rowStride` elements apart, with zeros where
    /// a window reaches into the padding.
    static func im2col<T: BinaryFloatingPoint>(
        _ image: UnsafePointer<T>, _ channels: Int, _ h: Int, _ w: Int, _ kh: Int, _ kw: Int, _ oh: Int, _ ow: Int,
        _ p: Conv2dParameters, into columns: UnsafeMutablePointer<T>, rowStride: Int
    ) {
        let (sh, sw) = (p.stride.h, p.stride.w)
        let dh = p.dilation.h
        let size = MemoryLayout<T>.stride
        var row = columns
        for c in 0..<channels {
            let plane = image + c * h * w
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let (shift, lo, hi) = insideColumns(kx: kx, width: w, outputWidth: ow, p)
                    // Rows are short (LeNet's: 10–28 elements): inline vector moves, not memcpy calls.
                    for oy in 0..<oh {
                        let dst = row + oy * ow
                        let iy = oy * sh - p.padding.top + ky * dh
                        if iy < 0 || iy >= h {
                            clearShortBytes(dst, byteCount: ow * size)
                            continue
                        }
                        let src = plane + iy * w + shift
                        if lo > 0 { clearShortBytes(dst, byteCount: lo * size) }
                        if sw == 1 {
                            if hi > lo { copyShortBytes(to: dst + lo, from: src + lo, byteCount: (hi - lo) * size) }
                        } else {
                            for ox in lo..<hi { dst[ox] = src[ox * sw] }
                        }
                        if hi < ow { clearShortBytes(dst + hi, byteCount: (ow - hi) * size) }
                    }
                    row += rowStride
                }
            }
        }
    }
}

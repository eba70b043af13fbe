import CDeepseekBLAS
public import DeepseekTensor

/// Convolution gradients image by image (see `ConvolutionGradientKernels`): each worker unfolds
/// one image's windows into its own column buffer (LeNet's: 78 KiB and 59 KiB, in L2) and
/// multiplies it at once with single-threaded BLAS, where composing the primitives writes every
/// image's columns to memory and reads them back. `float32` with OpenBLAS and one group;
/// everything else returns `nil` and the caller composes the primitives.
extension CPUBackend: ConvolutionGradientKernels {
    /// Images whose weight-gradient products are accumulated into one partial sum. The partial
    /// sums are added in order afterwards, so the result does not depend on the thread count.
    static let weightGradientBlock = 8

    public func conv2dWeightGradient(_ x: Tensor, gradient: Tensor, kernel: (h: Int, w: Int), parameters p: Conv2dParameters) throws -> Tensor? {
        guard let blas, x.dtype == .float32, gradient.dtype == .float32, p.groups == 1, x.rank == 4, gradient.rank == 4 else { return nil }
        try x.requireData("conv2dWeightGradient")
        try gradient.requireData("conv2dWeightGradient")
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, oh, ow) = (gradient.shape[1], gradient.shape[2], gradient.shape[3])
        let (kh, kw) = kernel
        guard gradient.shape[0] == n, p.outputSize(height: h, width: w, kernelHeight: kh, kernelWidth: kw) == (oh, ow) else { return nil }
        let (patch, pixels) = (c * kh * kw, oh * ow)
        guard [o, patch, pixels].allSatisfy({ $0 <= Int(Int32.max) }) else { return nil }
        let out = try Tensor.empty([o, c, kh, kw], dtype: .float32, op: "conv2dWeightGradient")
        let result = out.elementPointer(as: Float.self)
        let size = o * patch
        if size == 0 { return out }
        guard n > 0, pixels > 0 else {
            result.update(repeating: 0, count: size)
            return out
        }
        let dense = x.isContiguous ? x : try copy(x)
        let upstream = gradient.isContiguous ? gradient : try copy(gradient)
        let px = UnsafePointer(dense.elementPointer(as: Float.self))
        let pg = UnsafePointer(upstream.elementPointer(as: Float.self))
        let block = Self.weightGradientBlock
        let blocks = (n + block - 1) / block
        let parts = Swift.min(parallel.threads, blocks)
        let scratch = try Tensor.empty([parts * patch * pixels + blocks * size], dtype: .float32, op: "conv2dWeightGradient")
        let columns = scratch.elementPointer(as: Float.self)
        let partials = columns + parts * patch * pixels
        BLASThreadScope.singleThreaded(blas) {
            parallel.forEach(parts, parts: parts) { part in
                let own = columns + part * patch * pixels
                for b in (blocks * part / parts)..<(blocks * (part + 1) / parts) {
                    let sum = partials + b * size
                    for image in (b * block)..<Swift.min(n, (b + 1) * block) {
                        Self.im2col(px + image * c * h * w, c, h, w, kh, kw, oh, ow, p, into: own, rowStride: pixels)
                        // sum[o, patch] (+)= g[image] [o, pixels] · columnsᵀ [pixels, patch]
                        blas.sgemm(
                            CDSK_CBLAS_ROW_MAJOR, CDSK_CBLAS_NO_TRANS, CDSK_CBLAS_TRANS, Int32(o), Int32(patch), Int32(pixels), 1,
                            pg + image * o * pixels, Int32(pixels), own, Int32(pixels), image == b * block ? 0 : 1, sum, Int32(patch))
                    }
                }
            }
        }
        result.update(from: partials, count: size)
        for b in 1..<blocks {
            let partial = partials + b * size
            for i in 0..<size { result[i] += partial[i] }
        }
        return out
    }

    public func conv2dInputGradient(_ gradient: Tensor, weight: Tensor, height h: Int, width w: Int, parameters p: Conv2dParameters) throws -> Tensor? {
        guard let blas, gradient.dtype == .float32, weight.dtype == .float32, p.groups == 1, gradient.rank == 4, weight.rank == 4 else { return nil }
        try gradient.requireData("conv2dInputGradient")
        try weight.requireData("conv2dInputGradient")
        let (n, o, oh, ow) = (gradient.shape[0], gradient.shape[1], gradient.shape[2], gradient.shape[3])
        let (c, kh, kw) = (weight.shape[1], weight.shape[2], weight.shape[3])
        guard weight.shape[0] == o, h >= 0, w >= 0, p.outputSize(height: h, width: w, kernelHeight: kh, kernelWidth: kw) == (oh, ow) else {
            return nil
        }
        let (patch, pixels) = (c * kh * kw, oh * ow)
        guard [o, patch, pixels].allSatisfy({ $0 <= Int(Int32.max) }) else { return nil }
        let out = try Tensor.empty([n, c, h, w], dtype: .float32, op: "conv2dInputGradient")
        if out.elementCount == 0 { return out }
        let py = out.elementPointer(as: Float.self)
        guard o > 0, pixels > 0, kh > 0, kw > 0 else {
            py.update(repeating: 0, count: out.elementCount)
            return out
        }
        let upstream = gradient.isContiguous ? gradient : try copy(gradient)
        let kernel = weight.isContiguous ? weight : try copy(weight)
        let pg = UnsafePointer(upstream.elementPointer(as: Float.self))
        let pw = UnsafePointer(kernel.elementPointer(as: Float.self))
        let parts = Swift.min(parallel.threads, n)
        let scratch = try Tensor.empty([parts * patch * pixels], dtype: .float32, op: "conv2dInputGradient")
        let columns = scratch.elementPointer(as: Float.self)
        BLASThreadScope.singleThreaded(blas) {
            parallel.forEach(parts, parts: parts) { part in
                let own = columns + part * patch * pixels
                for image in (n * part / parts)..<(n * (part + 1) / parts) {
                    // columns [patch, pixels] = Wᵀ [patch, o] · g[image] [o, pixels], folded into the image.
                    blas.sgemm(
                        CDSK_CBLAS_ROW_MAJOR, CDSK_CBLAS_TRANS, CDSK_CBLAS_NO_TRANS, Int32(patch), Int32(pixels), Int32(o), 1, pw, Int32(patch),
                        pg + image * o * pixels, Int32(pixels), 0, own, Int32(pixels))
                    Self.col2im(own, c, h, w, kh, kw, oh, ow, p, into: py + image * c * h * w)
                }
            }
        }
        return out
    }

    /// Folds one image's `[channels·kh·kw, oh·ow]` columns back into its `channels` planes (which
    /// it overwrites), adding where windows overlap: the adjoint of `im2col`. Each element's
    /// contributions are added in kernel-row, kernel-column order.
    static func col2im(
        _ columns: UnsafePointer<Float>, _ channels: Int, _ h: Int, _ w: Int, _ kh: Int, _ kw: Int, _ oh: Int, _ ow: Int,
        _ p: Conv2dParameters, into image: UnsafeMutablePointer<Float>
    ) {
        image.update(repeating: 0, count: channels * h * w)
        let (sh, sw) = (p.stride.h, p.stride.w)
        let dh = p.dilation.h
        var row = columns
        for c in 0..<channels {
            let plane = image + c * h * w
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let (shift, lo, hi) = insideColumns(kx: kx, width: w, outputWidth: ow, p)
                    for oy in 0..<oh {
                        let iy = oy * sh - p.padding.top + ky * dh
                        guard iy >= 0 && iy < h, lo < hi else { continue }
                        let src = row + oy * ow
                        if sw == 1 {
                            addShortFloats(src + lo, into: plane + iy * w + shift + lo, count: hi - lo)
                        } else {
                            let dst = plane + iy * w
                            for ox in lo..<hi { dst[ox * sw + shift] += src[ox] }
                        }
                    }
                    row += oh * ow
                }
            }
        }
    }
}

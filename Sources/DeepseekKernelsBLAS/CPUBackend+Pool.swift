public import DeepseekTensor

extension CPUBackend {
    public func pool2d(_ kind: PoolKind, _ x: Tensor, parameters p: Pool2dParameters) throws -> Tensor {
        guard x.dtype == .float32 || Self.isHalf(x.dtype) else { return try reference.pool2d(kind, x, parameters: p) }
        let input = try denseFloat32(x)
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = p.outputSize(height: h, width: w)
        let out = try Tensor.empty([n, c, oh, ow], dtype: .float32, op: kind == .max ? "maxPool2d" : "avgPool2d")
        if out.elementCount == 0 { return try narrowed(out, to: x.dtype) }
        let src = input.elementPointer(as: Float.self)
        let dst = out.elementPointer(as: Float.self)
        // Per output row/column: the kernel taps that land inside the image (a contiguous range,
        // as positions grow with the tap index) and how many land inside image-plus-padding
        // (the countIncludePad divisor; taps beyond the padding never count).
        let (rowsInside, rowsPadded) = p.taps(vertical: true, outputs: oh, size: h)
        let (colsInside, colsPadded) = p.taps(vertical: false, outputs: ow, size: w)
        let (sh, sw, dh, dw) = (p.stride.h, p.stride.w, p.dilation.h, p.dilation.w)
        let (top, left) = (p.padding.top, p.padding.left)
        let isMax = kind == .max
        let includePad = p.countIncludePad
        if isMax && p.isPairwise(height: h, width: w, outputs: (oh, ow)) {
            parallel.forEach(n * c, parts: parallel.parts(for: n * c * oh * ow * 4, grain: 1 << 16)) { plane in
                Self.maxPoolPairs(src + plane * h * w, width: w, into: dst + plane * oh * ow, oh, ow)
            }
            return try narrowed(out, to: x.dtype)
        }
        parallel.forEach(n * c, parts: parallel.parts(for: n * c * oh * ow * p.kernel.h * p.kernel.w, grain: 1 << 16)) { plane in
            let image = src + plane * h * w
            let result = dst + plane * oh * ow
            for oy in 0..<oh {
                let ky = rowsInside[oy]
                for ox in 0..<ow {
                    let kx = colsInside[ox]
                    if isMax {
                        var best = -Float.infinity
                        for ty in ky {
                            let row = image + (oy * sh - top + ty * dh) * w
                            for tx in kx {
                                let e = row[ox * sw - left + tx * dw]
                                // A select for the comparison (its outcome is unpredictable:
                                // a branch there mispredicts about half the time) and a branch
                                // only for the rare NaN, which wins.
                                best = e > best ? e : best
                                if e.isNaN { best = e }
                            }
                        }
                        result[oy * ow + ox] = best
                    } else {
                        var sum = 0.0
                        for ty in ky {
                            let row = image + (oy * sh - top + ty * dh) * w
                            for tx in kx { sum += Double(row[ox * sw - left + tx * dw]) }
                        }
                        let divisor = includePad ? rowsPadded[oy] * colsPadded[ox] : ky.count * kx.count
                        result[oy * ow + ox] = divisor > 0 ? Float(sum / Double(divisor)) : 0
                    }
                }
            }
        }
        return try narrowed(out, to: x.dtype)
    }

    /// 2×2 max pooling with stride 2 over one plane: the common case, written so the compiler
    /// vectorises it (pairs of columns are de-interleaved loads). The same rule as the general
    /// loop: the first largest element, or the last NaN of the window.
    static func maxPoolPairs(_ image: UnsafePointer<Float>, width w: Int, into result: UnsafeMutablePointer<Float>, _ oh: Int, _ ow: Int) {
        for oy in 0..<oh {
            let top = image + 2 * oy * w
            let bottom = top + w
            let row = result + oy * ow
            for ox in 0..<ow {
                let (a, b, c, d) = (top[2 * ox], top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1])
                var m = a
                m = b > m ? b : m
                m = c > m ? c : m
                m = d > m ? d : m
                m = a.isNaN ? a : m
                m = b.isNaN ? b : m
                m = c.isNaN ? c : m
                m = d.isNaN ? d : m
                row[ox] = m
            }
        }
    }

    public func gather(_ x: Tensor, indices: Tensor, axis: Int) throws -> Tensor {
        try x.requireData("gather")
        let source = x.isContiguous ? x : try copy(x)
        let index = try indices.scalars(as: Int64.self)
        let (outer, n, inner) = Self.split(x.shape, at: axis)
        let outShape = Shape(Array(x.shape.dims[..<axis]) + indices.shape.dims + Array(x.shape.dims[(axis + 1)...]))
        let out = try Tensor.empty(outShape, dtype: x.dtype, op: "gather")
        if out.elementCount == 0 { return out }
        let size = x.dtype.byteSize
        let src = UnsafeRawPointer(source.elementPointer(as: UInt8.self))
        let dst = UnsafeMutableRawPointer(out.elementPointer(as: UInt8.self))
        let rowBytes = inner * size
        let count = index.count
        index.withUnsafeBufferPointer { idx in
            let ids = idx.baseAddress!
            parallel.forEach(outer * count, parts: parallel.parts(for: out.elementCount)) { row in
                let o = row / count
                let j = row % count
                let from = src + (o * n + Int(ids[j])) * rowBytes
                (dst + row * rowBytes).copyMemory(from: from, byteCount: rowBytes)
            }
        }
        return out
    }

    public func concat(_ xs: [Tensor], axis: Int) throws -> Tensor {
        var dims = xs[0].shape.dims
        dims[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        for x in xs { try x.requireData("concat") }
        let out = try Tensor.empty(Shape(dims), dtype: xs[0].dtype, op: "concat")
        if out.elementCount == 0 { return out }
        let size = xs[0].dtype.byteSize
        let (outer, total, inner) = Self.split(out.shape, at: axis)
        let dst = UnsafeMutableRawPointer(out.elementPointer(as: UInt8.self))
        var start = 0
        for x in xs {
            let n = x.shape[axis]
            defer { start += n }
            if n * inner == 0 { continue }
            let dense = x.isContiguous ? x : try copy(x)
            let src = UnsafeRawPointer(dense.elementPointer(as: UInt8.self))
            let bytes = n * inner * size
            parallel.forEach(outer, parts: parallel.parts(for: outer * n * inner)) { o in
                (dst + (o * total + start) * inner * size).copyMemory(from: src + o * bytes, byteCount: bytes)
            }
        }
        return out
    }
}

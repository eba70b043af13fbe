#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CDeepseekBLAS
public import DeepseekTensor

extension CPUBackend {
    /// Splits a shape into (outer, axis, inner) sizes around one axis.
    static func split(_ shape: Shape, at axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape.dims[..<axis].reduce(1, *), shape[axis], shape.dims[(axis + 1)...].reduce(1, *))
    }

    public func argReduce(_ op: ArgReduceOp, _ x: Tensor, axis: Int, keepDims: Bool, selectLastIndex: Bool) throws -> Tensor {
        guard x.dtype == .float32 else {
            return try reference.argReduce(op, x, axis: axis, keepDims: keepDims, selectLastIndex: selectLastIndex)
        }
        let input = try denseFloat32(x)
        let (outer, n, inner) = Self.split(x.shape, at: axis)
        var dims = x.shape.dims
        if keepDims { dims[axis] = 1 } else { dims.remove(at: axis) }
        let out = try Tensor.empty(Shape(dims), dtype: .int64, op: op.rawValue)
        if out.elementCount == 0 { return out }
        let src = input.elementPointer(as: Float.self)
        let dst = out.elementPointer(as: Int64.self)
        let isMax = op == .argmax
        // The reference's rule: a candidate wins when strictly better (or equal, with
        // selectLastIndex); NaN is the extreme, so the first NaN wins and ends the scan.
        parallel.forEach(outer, parts: parallel.parts(for: outer * n * inner)) { o in
            for i in 0..<inner {
                let base = src + o * n * inner + i
                var best = base[0]
                var bestIndex = 0
                for k in 1..<Swift.max(n, 1) where !best.isNaN {
                    let e = base[k * inner]
                    let better = e.isNaN || (isMax ? e > best : e < best)
                    if better || (selectLastIndex && e == best) {
                        best = e
                        bestIndex = k
                    }
                }
                dst[o * inner + i] = Int64(bestIndex)
            }
        }
        return out
    }

    public func softmax(_ x: Tensor, axis: Int, log: Bool) throws -> Tensor {
        guard x.dtype == .float32 || Self.isHalf(x.dtype) else { return try reference.softmax(x, axis: axis, log: log) }
        let input = try denseFloat32(x)
        let out = try Tensor.empty(x.shape, dtype: .float32, op: log ? "logSoftmax" : "softmax")
        if out.elementCount == 0 { return try narrowed(out, to: x.dtype) }
        let src = input.elementPointer(as: Float.self)
        let dst = out.elementPointer(as: Float.self)
        let (outer, n, inner) = Self.split(x.shape, at: axis)
        parallel.forEachRange(outer, parts: parallel.parts(for: outer * n * inner, grain: 1 << 15)) { rows in
            if inner == 1 {
                for o in rows { Self.softmaxRow(src + o * n, dst + o * n, n, log: log) }
            } else {
                Self.softmaxStrided(src, dst, rows: rows, n: n, inner: inner, log: log)
            }
        }
        return try narrowed(out, to: x.dtype)
    }

    /// Softmax of one dense row, in float32 vectors: the shifted row, one vectorised `exp` over
    /// it, the sum (float32 blocks folded in `Double`), then one scaling pass. Agrees with the
    /// reference's `Double` evaluation within a few float32 roundings.
    static func softmaxRow(_ s: UnsafePointer<Float>, _ d: UnsafeMutablePointer<Float>, _ n: Int, log: Bool) {
        // Max as the reference takes it (`Swift.max`, which skips NaN; a NaN then poisons the
        // sum and the whole row, as there).
        let m = FloatRows.maximum(s, n)
        for k in 0..<n { d[k] = s[k] - m }
        if log {
            // The shifted row is kept; exp goes to a scratch chunk at a time for the sum.
            var sum = 0.0
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 1024) { buffer in
                let e = buffer.baseAddress!
                var start = 0
                while start < n {
                    let c = Swift.min(1024, n - start)
                    cdsk_f32_exp(d + start, e, c)
                    sum += FloatRows.sum(e, c)
                    start += c
                }
            }
            let shift = Float(Glibc.log(sum))
            for k in 0..<n { d[k] -= shift }
        } else {
            cdsk_f32_exp(d, d, n)
            let scale = Float(1 / FloatRows.sum(d, n))
            for k in 0..<n { d[k] *= scale }
        }
    }

    /// Softmax along an axis that is not the last: `inner` interleaved rows at once, sums in `Double`.
    static func softmaxStrided(
        _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, rows: Range<Int>, n: Int, inner: Int, log: Bool
    ) {
        var maxima = [Float](repeating: 0, count: inner)
        var sums = [Double](repeating: 0, count: inner)
        for o in rows {
            let s = src + o * n * inner
            let d = dst + o * n * inner
            for i in 0..<inner { maxima[i] = -.infinity }
            for k in 0..<n { for i in 0..<inner { maxima[i] = Swift.max(maxima[i], s[k * inner + i]) } }
            for i in 0..<inner { sums[i] = 0 }
            for k in 0..<n {
                for i in 0..<inner {
                    let e = expf(s[k * inner + i] - maxima[i])
                    d[k * inner + i] = e
                    sums[i] += Double(e)
                }
            }
            if log {
                for i in 0..<inner { sums[i] = Glibc.log(sums[i]) }
                for k in 0..<n {
                    for i in 0..<inner { d[k * inner + i] = Float(Double(s[k * inner + i] - maxima[i]) - sums[i]) }
                }
            } else {
                for i in 0..<inner { sums[i] = 1 / sums[i] }
                for k in 0..<n {
                    for i in 0..<inner { d[k * inner + i] = Float(Double(d[k * inner + i]) * sums[i]) }
                }
            }
        }
    }

    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, axis: Int, epsilon: Double) throws -> LayerNormResult {
        guard x.dtype == .float32 || Self.isHalf(x.dtype) else {
            return try reference.layerNorm(x, weight: weight, bias: bias, axis: axis, epsilon: epsilon)
        }
        let input = try denseFloat32(x)
        let w = try weight.map(denseFloat32)
        let b = try bias.map(denseFloat32)
        let groupSize = x.shape.dims[axis...].reduce(1, *)
        let groups = groupSize == 0 ? 0 : x.elementCount / groupSize
        let statShape = Shape(x.shape.dims[..<axis] + Array(repeating: 1, count: x.rank - axis))
        let out = try Tensor.empty(x.shape, dtype: .float32, op: "layerNorm")
        let means = try Tensor.empty(statShape, dtype: .float32, op: "layerNorm")
        let inverse = try Tensor.empty(statShape, dtype: .float32, op: "layerNorm")
        if groups > 0 {
            let src = input.elementPointer(as: Float.self)
            let dst = out.elementPointer(as: Float.self)
            let pm = means.elementPointer(as: Float.self)
            let pi = inverse.elementPointer(as: Float.self)
            let pw = w.map { UnsafePointer($0.elementPointer(as: Float.self)) }
            let pb = b.map { UnsafePointer($0.elementPointer(as: Float.self)) }
            parallel.forEach(groups, parts: parallel.parts(for: x.elementCount, grain: 1 << 16)) { g in
                let s = src + g * groupSize
                let d = dst + g * groupSize
                // Statistics in Double like the reference: the mean is summed in Double (a
                // float32 sum would be off by more than the spread when the mean is large next
                // to it); the centred values are (x − high) − low with the mean split in two
                // floats, as exact as (x − mean) in Double; their squares are non-negative, so
                // float32 blocks keep the sum's relative error small.
                let mean = SumAccumulator().fold(s, groupSize) / Double(groupSize)
                let centre = FloatRows.split(mean)
                let variance = FloatRows.sumOfSquares(s, groupSize, centre: centre) / Double(groupSize)
                let r = 1 / (variance + epsilon).squareRoot()
                pm[g] = Float(mean)
                pi[g] = Float(r)
                let (high, low, scale) = (centre.high, centre.low, Float(r))
                switch (pw, pb) {
                case let (pw?, pb?):
                    for j in 0..<groupSize { d[j] = ((s[j] - high) - low) * scale * pw[j] + pb[j] }
                case let (pw?, nil):
                    for j in 0..<groupSize { d[j] = ((s[j] - high) - low) * scale * pw[j] }
                case let (nil, pb?):
                    for j in 0..<groupSize { d[j] = ((s[j] - high) - low) * scale + pb[j] }
                case (nil, nil):
                    for j in 0..<groupSize { d[j] = ((s[j] - high) - low) * scale }
                }
            }
        }
        return LayerNormResult(output: try narrowed(out, to: x.dtype), mean: means, inverseStdDev: inverse)
    }

    public func batchNorm(_ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) throws -> Tensor {
        guard x.dtype == .float32 || Self.isHalf(x.dtype) else {
            return try reference.batchNorm(x, scale: scale, bias: bias, mean: mean, variance: variance, epsilon: epsilon)
        }
        let input = try denseFloat32(x)
        let (s, b, m, v) = (try denseFloat32(scale), try denseFloat32(bias), try denseFloat32(mean), try denseFloat32(variance))
        let (outer, channels, inner) = Self.split(x.shape, at: 1)
        let out = try Tensor.empty(x.shape, dtype: .float32, op: "batchNorm")
        if out.elementCount == 0 { return try narrowed(out, to: x.dtype) }
        // Per channel: y = (x − mean)·r + bias with r = scale / sqrt(variance + ε) in Double.
        var factor = [Float](repeating: 0, count: channels)
        let (ps, pb, pm, pv) = (s.elementPointer(as: Float.self), b.elementPointer(as: Float.self),
                                m.elementPointer(as: Float.self), v.elementPointer(as: Float.self))
        for c in 0..<channels { factor[c] = Float(Double(ps[c]) / (Double(pv[c]) + epsilon).squareRoot()) }
        let src = input.elementPointer(as: Float.self)
        let dst = out.elementPointer(as: Float.self)
        factor.withUnsafeBufferPointer { f in
            let pf = f.baseAddress!
            parallel.forEach(outer * channels, parts: parallel.parts(for: x.elementCount)) { row in
                let c = row % channels
                let (r, shift, centre) = (pf[c], pb[c], pm[c])
                let from = src + row * inner
                let to = dst + row * inner
                for i in 0..<inner { to[i] = (from[i] - centre) * r + shift }
            }
        }
        return try narrowed(out, to: x.dtype)
    }
}

public import DeepseekTensor

extension CPUBackend {
    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int], keepDims: Bool) throws -> Tensor {
        guard x.dtype == .float32 || Self.isHalf(x.dtype) else { return try reference.reduce(op, x, axes: axes, keepDims: keepDims) }
        try x.requireData("\(op)")
        let reducedSet = Set(axes)
        let keptDims = x.shape.indices.map { reducedSet.contains($0) ? 1 : x.shape[$0] }
        let outShape = Shape(keepDims ? keptDims : x.shape.indices.filter { !reducedSet.contains($0) }.map { x.shape[$0] })
        let outCount = keptDims.reduce(1, *)
        let groupSize = axes.reduce(1) { $0 * x.shape[$1] }
        let out = try Tensor.empty(outShape, dtype: .float32, op: op.rawValue)
        if outCount == 0 { return try narrowed(out, to: x.dtype) }
        let dst = out.elementPointer(as: Float.self)
        let input = try denseFloat32(x)
        let blocks = Self.reductionBlocks(x.shape, reducedSet)
        switch op {
        case .sum, .mean, .prod:
            var acc = [Double](repeating: op == .prod ? 1 : 0, count: outCount)
            acc.withUnsafeMutableBufferPointer { a in
                if op == .prod {
                    reduceBlocks(input, blocks, a.baseAddress!, outCount, ProductAccumulator())
                } else {
                    reduceBlocks(input, blocks, a.baseAddress!, outCount, SumAccumulator())
                }
            }
            // Dividing (rather than multiplying by 1/n) matches the reference's rounding.
            for i in 0..<outCount { dst[i] = Float(op == .mean ? acc[i] / Double(groupSize) : acc[i]) }
        case .max, .min:
            var acc = [Float](repeating: op == .max ? -.infinity : .infinity, count: outCount)
            acc.withUnsafeMutableBufferPointer { a in
                if op == .max {
                    reduceBlocks(input, blocks, a.baseAddress!, outCount, MaxAccumulator())
                } else {
                    reduceBlocks(input, blocks, a.baseAddress!, outCount, MinAccumulator())
                }
            }
            dst.update(from: acc, count: outCount)
        }
        return try narrowed(out, to: x.dtype)
    }

    /// `x` as dense float32 (itself when it already is); throws for a meta tensor.
    func denseFloat32(_ x: Tensor) throws -> Tensor {
        try x.requireData("cpu kernel")
        if x.dtype == .float32 && x.isContiguous { return x }
        let dense = try Tensor.empty(x.shape, dtype: .float32, op: "float32")
        if dense.elementCount > 0 { copyAsFloat32(x, into: dense.elementPointer(as: Float.self)) }
        return dense
    }

    /// The axes of a dense tensor with size-1 axes dropped and neighbours of the same kind
    /// (reduced or kept) merged: `[N, C, H, W]` over `(0, 2, 3)` becomes reduced N, kept C,
    /// reduced H·W.
    static func reductionBlocks(_ shape: Shape, _ reduced: Set<Int>) -> [(size: Int, reduced: Bool)] {
        var blocks: [(size: Int, reduced: Bool)] = []
        for axis in shape.indices where shape[axis] != 1 {
            let r = reduced.contains(axis)
            if let last = blocks.last, last.reduced == r {
                blocks[blocks.count - 1].size *= shape[axis]
            } else {
                blocks.append((shape[axis], r))
            }
        }
        return blocks
    }

    /// Folds every element of the dense tensor into its output slot.
    ///
    /// The tensor is walked as rows of its innermost block. A reduced innermost block folds each
    /// row to one value (a vectorised row reduction); a kept one folds the row element-wise into
    /// a row of accumulators. Rows are split over the cores, each part with private accumulators
    /// that are combined in order afterwards.
    private func reduceBlocks<A: Accumulator>(
        _ x: Tensor, _ blocks: [(size: Int, reduced: Bool)], _ acc: UnsafeMutablePointer<A.Value>, _ outCount: Int, _ kind: A
    ) {
        let src = x.elementPointer(as: Float.self)
        let count = x.elementCount
        if count == 0 { return }
        let inner = blocks.last ?? (1, true)
        let rowLength = inner.size
        let rows = count / rowLength
        let prefix = Array(blocks.dropLast())
        let parts = parallel.parts(for: count)
        let scratch = UnsafeMutablePointer<A.Value>.allocate(capacity: parts > 1 ? parts * outCount : 0)
        defer { scratch.deallocate() }
        parallel.forEach(parts, parts: parts) { part in
            let target = parts > 1 ? scratch + part * outCount : acc
            if parts > 1 { target.update(repeating: kind.identity, count: outCount) }
            let lo = rows * part / parts
            let hi = rows * (part + 1) / parts
            if lo >= hi { return }
            // Odometer over the prefix blocks, tracking the output slot of each row.
            var index = [Int](repeating: 0, count: prefix.count)
            var rest = lo
            for b in stride(from: prefix.count - 1, through: 0, by: -1) {
                index[b] = rest % prefix[b].size
                rest /= prefix[b].size
            }
            func slot() -> Int {
                var s = 0
                for b in prefix.indices where !prefix[b].reduced { s = s * prefix[b].size + index[b] }
                return s
            }
            var base = slot()
            for row in lo..<hi {
                let p = src + row * rowLength
                if inner.reduced {
                    target[base] = kind.combine(target[base], kind.fold(p, rowLength))
                } else {
                    kind.accumulate(p, into: target + base * rowLength, rowLength)
                }
                var b = prefix.count - 1
                while b >= 0 {
                    index[b] += 1
                    if index[b] < prefix[b].size { break }
                    index[b] = 0
                    b -= 1
                }
                base = slot()
            }
        }
        if parts > 1 {
            for part in 0..<parts {
                let partial = scratch + part * outCount
                for i in 0..<outCount { acc[i] = kind.combine(acc[i], partial[i]) }
            }
        }
    }
}

/// How one reduction folds float32 elements into accumulators.
protocol Accumulator {
    associatedtype Value
    var identity: Value { get }
    /// Folds a dense row to one value.
    func fold(_ p: UnsafePointer<Float>, _ n: Int) -> Value
    /// Folds a dense row element-wise into `acc[0..<n]`.
    func accumulate(_ p: UnsafePointer<Float>, into acc: UnsafeMutablePointer<Value>, _ n: Int)
    func combine(_ a: Value, _ b: Value) -> Value
}

/// Sums in `Double`, like the reference, with four independent accumulators so the row sum is
/// not bound by the latency of one chain of additions.
struct SumAccumulator: Accumulator {
    var identity: Double { 0 }
    @inline(__always) func combine(_ a: Double, _ b: Double) -> Double { a + b }
    func fold(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var (s0, s1, s2, s3) = (0.0, 0.0, 0.0, 0.0)
        var i = 0
        while i + 4 <= n {
            s0 += Double(p[i])
            s1 += Double(p[i + 1])
            s2 += Double(p[i + 2])
            s3 += Double(p[i + 3])
            i += 4
        }
        while i < n {
            s0 += Double(p[i])
            i += 1
        }
        return (s0 + s1) + (s2 + s3)
    }
    func accumulate(_ p: UnsafePointer<Float>, into acc: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { acc[i] += Double(p[i]) }
    }
}

struct ProductAccumulator: Accumulator {
    var identity: Double { 1 }
    @inline(__always) func combine(_ a: Double, _ b: Double) -> Double { a * b }
    func fold(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var s = 1.0
        for i in 0..<n { s *= Double(p[i]) }
        return s
    }
    func accumulate(_ p: UnsafePointer<Float>, into acc: UnsafeMutablePointer<Double>, _ n: Int) {
        for i in 0..<n { acc[i] *= Double(p[i]) }
    }
}

/// The maximum, NaN-propagating: once a NaN is seen the result is NaN.
struct MaxAccumulator: Accumulator {
    var identity: Float { -.infinity }
    @inline(__always) func combine(_ a: Float, _ b: Float) -> Float { b > a || b.isNaN ? b : a }
    func fold(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: -.infinity)
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 8 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            lanes.replace(with: v, where: (v .> lanes) .| (v .!= v))
            i += 8
        }
        var m = identity
        for l in 0..<8 { m = combine(m, lanes[l]) }
        while i < n {
            m = combine(m, p[i])
            i += 1
        }
        return m
    }
    func accumulate(_ p: UnsafePointer<Float>, into acc: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { acc[i] = combine(acc[i], p[i]) }
    }
}

/// The minimum, NaN-propagating.
struct MinAccumulator: Accumulator {
    var identity: Float { .infinity }
    @inline(__always) func combine(_ a: Float, _ b: Float) -> Float { b < a || b.isNaN ? b : a }
    func fold(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var lanes = SIMD8<Float>(repeating: .infinity)
        let raw = UnsafeRawPointer(p)
        var i = 0
        while i + 8 <= n {
            let v = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
            lanes.replace(with: v, where: (v .< lanes) .| (v .!= v))
            i += 8
        }
        var m = identity
        for l in 0..<8 { m = combine(m, lanes[l]) }
        while i < n {
            m = combine(m, p[i])
            i += 1
        }
        return m
    }
    func accumulate(_ p: UnsafePointer<Float>, into acc: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { acc[i] = combine(acc[i], p[i]) }
    }
}

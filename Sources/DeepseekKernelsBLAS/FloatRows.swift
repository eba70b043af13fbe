/// Vectorised statistics of one dense float32 row, for softmax and layer normalisation.
///
/// The rows these kernels see are short (128 attention scores, 384 hidden features) and many,
/// so per-element conversions to `Double` dominated them. These helpers work in float32
/// vectors of 8 and fold into `Double` only once per block, which keeps the rounding error of
/// a sum near that of a `Double` sum for any row length.
enum FloatRows {
    typealias Vector = SIMD8<Float>

    /// Elements summed in float32 before the partial sum is added in `Double`: a block's error
    /// is then at most 32 float32 roundings of its own magnitude, whatever the row length.
    static let block = 256

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> Vector {
        UnsafeRawPointer(p).loadUnaligned(as: Vector.self)
    }

    /// The largest element, skipping NaN like `Swift.max` (`b >= a ? b : a`); −∞ for an empty
    /// row or one of NaN only.
    static func maximum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
        var i = 0
        var result = -Float.infinity
        if n >= 8 {
            var acc = Vector(repeating: -.infinity)
            while i + 8 <= n {
                let v = load(p + i)
                acc.replace(with: v, where: v .>= acc)
                i += 8
            }
            for lane in 0..<8 { result = Swift.max(result, acc[lane]) }
        }
        while i < n {
            result = Swift.max(result, p[i])
            i += 1
        }
        return result
    }

    /// `Σ p[i]`, within a few float32 roundings of the sum's own magnitude when the elements
    /// share one sign (softmax's exponentials). Not for a mean whose spread matters: elements
    /// of 1000 ± 0.01 lose the spread to the rounding of the partial sums; sum those in `Double`.
    static func sum(_ p: UnsafePointer<Float>, _ n: Int) -> Double {
        var total = 0.0
        var start = 0
        while start < n {
            let end = Swift.min(n, start + block)
            var acc = Vector(repeating: 0)
            var i = start
            while i + 8 <= end {
                acc += load(p + i)
                i += 8
            }
            var partial = acc.sum()
            while i < end {
                partial += p[i]
                i += 1
            }
            total += Double(partial)
            start = end
        }
        // A float32 partial sum can overflow where the Double sum would not (elements near
        // 10³⁸); then, and for rows holding ±∞ or NaN, the sum is redone in Double.
        return total.isFinite ? total : SumAccumulator().fold(p, n)
    }

    /// `Σ ((p[i] − centre.high) − centre.low)²`, where `centre` is a `Double` split into two
    /// floats so the differences keep the precision of a `Double` subtraction.
    static func sumOfSquares(_ p: UnsafePointer<Float>, _ n: Int, centre: (high: Float, low: Float)) -> Double {
        var total = 0.0
        var start = 0
        let (hv, lv) = (Vector(repeating: centre.high), Vector(repeating: centre.low))
        while start < n {
            let end = Swift.min(n, start + block)
            var acc = Vector(repeating: 0)
            var i = start
            while i + 8 <= end {
                let d = (load(p + i) - hv) - lv
                acc += d * d
                i += 8
            }
            var partial = acc.sum()
            while i < end {
                let d = (p[i] - centre.high) - centre.low
                partial += d * d
                i += 1
            }
            total += Double(partial)
            start = end
        }
        guard !total.isFinite else { return total }
        // Squares overflow float32 from about 1.8·10¹⁹; redo such rows in Double.
        let mean = Double(centre.high) + Double(centre.low)
        var exact = 0.0
        for i in 0..<n {
            let d = Double(p[i]) - mean
            exact += d * d
        }
        return exact
    }

    /// `value` as a float32 pair whose sum is `value` to about 48 bits.
    @inline(__always) static func split(_ value: Double) -> (high: Float, low: Float) {
        let high = Float(value)
        return (high, Float(value - Double(high)))
    }
}

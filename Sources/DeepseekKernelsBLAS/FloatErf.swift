import CDeepseekBLAS

/// `erf` and the exact GELU `x·Φ(x) = ½·x·(1 + erf(x/√2))` in float32, vectorisable, within
/// 8 ulp (5·10⁻⁷ relative) of the exact values wherever the result is a normal float32.
///
/// Evaluating the reference's `Double` definition through libm cost about 18 ns an element on
/// one core, which made GELU a tenth of a BERT forward pass; this costs under 3 ns (measured on
/// [4096, 1536], the MiniLM intermediate layer).
///
/// - `erfc(t) = e^(−t²)·F(v)` with `t = |z|`, `v = 1/(1 + t/2)` and `F` of degree 10 in `v`,
///   fitted on `t ∈ [0, 9.5]`; beyond 9.5 `erfc` is below the smallest normal float32 and is
///   taken as 0. For GELU, `1 + erf(z)` is then `2 − erfc(t)` for positive `z` and `erfc(t)`
///   itself for negative `z`: never `1 + erf` of a negative `erf` near −1, which would cancel.
/// - `erf = ±(1 − erfc)` for `|z| ≥ ½`; below, where that would cancel, `erf(z) = z·P(z²)`
///   with `P` of degree 4.
/// - `e^(−t²)` is `e^(−h²)·e^(−(t−h)(t+h))` with `h` the leading 12 bits of `t`, so `h²` is exact
///   and rounding `t²` cannot cost relative accuracy (a plain `exp(−t·t)` is tens of ulp off from
///   `t ≈ 4`). For GELU the split is taken on `x` itself (`t² = x²/2`), so the rounding of
///   `x/√2` does not enter the exponent either. Both exponentials are one call of the C shim's
///   vectorised `exp` over a chunk.
///
/// The coefficients are weighted least-squares fits (iterated towards minimax) of the exact
/// functions computed with 40-digit arithmetic; before rounding to float32 their relative errors
/// are 1.4·10⁻⁹ (`P`) and 4.9·10⁻⁹ (`F`). The bound above is measured over a dense grid of
/// float32 inputs (`FloatKernelTests`).
enum FloatErf {
    /// Elements per chunk: the exponent arguments of one chunk stay in the L1 cache.
    static let chunk = 256

    // erf(z)/z as a polynomial in z², on z ∈ [0, ½].
    static let p0: Float = 1.1283791065216064
    static let p1: Float = -0.37612608075141907
    static let p2: Float = 0.11282822489738464
    static let p3: Float = -0.02675718441605568
    static let p4: Float = 0.0047179898247122765

    // eᵗ²·erfc(t) as a polynomial in v = 1/(1 + t/2), on t ∈ [0, 9.5].
    static let q0: Float = 9.768821655598003e-06
    static let q1: Float = 0.2818150818347931
    static let q2: Float = 0.28559428453445435
    static let q3: Float = 0.22163721919059753
    static let q4: Float = 0.29185304045677185
    static let q5: Float = -0.26811090111732483
    static let q6: Float = 0.7110507488250732
    static let q7: Float = -0.9962949752807617
    static let q8: Float = 0.6614797711372375
    static let q9: Float = -0.218247190117836
    static let q10: Float = 0.029213126748800278

    /// Below this `|z|` the odd polynomial is used.
    static let smallLimit: Float = 0.5
    /// From this `t` on, `erfc(t)` is taken as 0.
    static let tailLimit: Float = 9.5

    typealias Vector = SIMD8<Float>
    typealias Bits = SIMD8<UInt32>

    @inline(__always) static func small(_ z: Vector) -> Vector {
        let s = z * z
        return z * ((((p4 * s + p3) * s + p2) * s + p1) * s + p0)
    }

    /// `F(v)`; multiplied by `e^(−t²)` it gives `erfc(t)`. Estrin's scheme (pairs of terms
    /// combined by v², v⁴, v⁸) rather than Horner's: a chain of 4 multiply-adds instead of 10,
    /// which was the loop's bottleneck.
    @inline(__always) static func tail(_ t: Vector) -> Vector {
        let v = 1 / (1 + 0.5 * t)
        let v2 = v * v
        let v4 = v2 * v2
        let v8 = v4 * v4
        let low = (q0 + q1 * v) + v2 * (q2 + q3 * v)
        let middle = (q4 + q5 * v) + v2 * (q6 + q7 * v)
        let high = (q8 + q9 * v) + v2 * q10
        return (low + v4 * middle) + v8 * high
    }

    /// `|v|` (the sign bit cleared, so −0 and NaN are handled like the other values).
    @inline(__always) static func magnitude(_ v: Vector) -> Vector {
        unsafeBitCast(unsafeBitCast(v, to: Bits.self) & 0x7FFF_FFFF, to: Vector.self)
    }

    /// `t` with all but its leading 12 significant bits cleared: its square is exact in float32.
    @inline(__always) static func leading(_ t: Vector) -> Vector {
        unsafeBitCast(unsafeBitCast(t, to: Bits.self) & 0xFFFF_F000, to: Vector.self)
    }

    /// Eight elements from `p`, or the `count < 8` there and zeros.
    @inline(__always) static func load(_ p: UnsafePointer<Float>, _ count: Int) -> Vector {
        if count >= 8 { return UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }
        var v = Vector(repeating: 0)
        for j in 0..<count { v[j] = p[j] }
        return v
    }

    /// Stores the first `min(count, 8)` lanes of `v` at `p`.
    @inline(__always) static func store(_ v: Vector, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        if count >= 8 {
            UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self)
        } else {
            for j in 0..<count { p[j] = v[j] }
        }
    }

    /// `e[i] = exp(e[i])` and `e[chunk + i] = exp(e[chunk + i])` for `i < c`: one call of the
    /// shim when the chunk is full (the two halves are then contiguous).
    @inline(__always) static func exponentials(_ e: UnsafeMutablePointer<Float>, _ c: Int) {
        if c == chunk {
            cdsk_f32_exp(e, e, 2 * chunk)
        } else {
            cdsk_f32_exp(e, e, c)
            cdsk_f32_exp(e + chunk, e + chunk, c)
        }
    }

    /// Runs `y = f(x)` over `n` elements a chunk at a time: `arguments` writes the two exponent
    /// arguments of eight elements, the exponentials are taken over the chunk, and `finish`
    /// combines each eight elements with their two exponentials. Written with explicit vectors:
    /// the compiler keeps the selects of a plain loop as branches and runs it element by element.
    @inline(__always) static func chunked(
        _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int,
        arguments: (Vector) -> (Vector, Vector), finish: (Vector, Vector, Vector) -> Vector
    ) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * chunk) { buffer in
            let e = buffer.baseAddress!
            var start = 0
            while start < n {
                let c = Swift.min(chunk, n - start)
                let padded = (c + 7) & ~7
                var i = 0
                while i < c {
                    let (a1, a2) = arguments(load(x + start + i, c - i))
                    store(a1, e + i, 8)
                    store(a2, e + chunk + i, 8)
                    i += 8
                }
                exponentials(e, padded)
                i = 0
                while i < c {
                    let v = load(x + start + i, c - i)
                    store(finish(v, load(e + i, 8), load(e + chunk + i, 8)), y + start + i, c - i)
                    i += 8
                }
                start += c
            }
        }
    }

    /// `y[i] = erf(x[i])` for `n` dense elements; `y` may be `x`.
    static func erf(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        chunked(
            x, y, n,
            arguments: { z in
                let t = magnitude(z)
                let h = leading(t)
                return (-(h * h), -((t - h) * (t + h)))
            },
            finish: { z, e1, e2 in
                let t = magnitude(z)
                let erfc = (e1 * e2 * tail(t)).replacing(with: 0, where: t .>= tailLimit)
                let large = 1 - erfc
                let signed = large.replacing(with: -large, where: z .< 0)
                // NaN fails both comparisons and keeps `small`, which is NaN.
                return small(z).replacing(with: signed, where: t .>= smallLimit)
            })
    }

    /// `y[i] = ½·x[i]·(1 + erf(x[i]/√2))` for `n` dense elements; `y` may be `x`.
    static func gelu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        let inverseSquareRootOfTwo: Float = 0.70710678118654752
        chunked(
            x, y, n,
            arguments: { v in
                // t² = x²/2, split on x so that h² is exact.
                let a = magnitude(v)
                let h = leading(a)
                return (-0.5 * (h * h), -0.5 * ((a - h) * (a + h)))
            },
            finish: { v, e1, e2 in
                let z = v * inverseSquareRootOfTwo
                let t = magnitude(z)
                let erfc = (e1 * e2 * tail(t)).replacing(with: 0, where: t .>= tailLimit)
                // 1 + erf(z) without cancellation: 2 − erfc(z) above 0, erfc(−z) below. With
                // erfc ∈ (0, 1] above 0 no branch is needed near 0, unlike erf itself.
                return 0.5 * v * erfc.replacing(with: 2 - erfc, where: z .> 0)
            })
    }
}

/// `erf` or the exact GELU through `FloatErf` (dense runs at a time).
struct FloatErfKernel: FloatUnaryKernel {
    enum Function { case erf, gelu }
    let function: Function

    var isExpensive: Bool { true }
    var runsDense: Bool { true }

    func run(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        switch function {
        case .erf: FloatErf.erf(x, y, n)
        case .gelu: FloatErf.gelu(x, y, n)
        }
    }

    func callAsFunction(_ x: Float) -> Float {
        var (input, output) = (x, Float(0))
        run(&input, &output, 1)
        return output
    }
}

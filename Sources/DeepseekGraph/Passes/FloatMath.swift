#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DeepseekTensor

/// A run of float32 operand elements: `pointer[i * stride]` for `i` in the run. Stride 1 is a
/// dense run, stride 0 one value repeated (a scalar or a broadcast axis).
struct FloatRun {
    var pointer: UnsafePointer<Float>
    var stride: Int
}

/// Float32 element functions for the fused kernels, one formula per op.
///
/// The formulas are those of the CPU backend's float32 kernels, which in turn mirror
/// `ReferenceBackend.unaryFunction`/`binaryFunction`: the same NaN rules for relu, maximum and
/// minimum, round-half-to-even, Python's `%`. Ops whose float32 formula would cancel (`erf`,
/// both GELUs, `elu`) evaluate the `Double` definition and round once, as the CPU backend does.
/// Each `apply…` switches on the op once and then runs a tight loop the compiler can
/// specialise for dense and repeated operands.
enum FloatMath {
    static let inverseSquareRootOfTwo = 1 / 2.0.squareRoot()
    static let squareRootOfTwoOverPi = (2.0 / Double.pi).squareRoot()

    @inline(__always) static func geluExact(_ x: Float) -> Float {
        let d = Double(x)
        return Float(0.5 * d * (1 + erf(d * inverseSquareRootOfTwo)))
    }

    @inline(__always) static func geluTanh(_ x: Float) -> Float {
        let d = Double(x)
        return Float(0.5 * d * (1 + tanh(squareRootOfTwoOverPi * (d + 0.044715 * d * d * d))))
    }

    @inline(__always) static func elu(_ x: Float, _ alpha: Float) -> Float {
        let d = Double(x)
        return Float(d >= 0 ? d : Double(alpha) * (exp(d) - 1))
    }

    @inline(__always) static func relu(_ x: Float) -> Float { x > 0 || x.isNaN ? x : 0 }
    @inline(__always) static func sigmoid(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
    @inline(__always) static func silu(_ x: Float) -> Float { x / (1 + expf(-x)) }
    @inline(__always) static func softplus(_ x: Float) -> Float { x > 20 ? x : log1pf(expf(x)) }

    /// `dst[i] = f(a[i])` for a run of `n`.
    ///
    /// In-place runs (`a` is `dst`) get a loop over one pointer: with two pointers the compiler
    /// guards its vector loop with an overlap check, which an exact overlap fails, and the
    /// scalar fallback is several times slower (branchy relu, for one).
    @inline(__always)
    static func map(_ n: Int, _ a: FloatRun, _ dst: UnsafeMutablePointer<Float>, _ f: (Float) -> Float) {
        if a.stride == 1 {
            if a.pointer == UnsafePointer(dst) {
                for i in 0..<n { dst[i] = f(dst[i]) }
            } else {
                let p = a.pointer
                for i in 0..<n { dst[i] = f(p[i]) }
            }
        } else if a.stride == 0 {
            dst.update(repeating: f(a.pointer[0]), count: n)
        } else {
            for i in 0..<n { dst[i] = f(a.pointer[i &* a.stride]) }
        }
    }

    /// `dst[i] = f(a[i], b[i])` for a run of `n`, with loops for each dense/repeated pairing
    /// and for results written over a dense operand.
    @inline(__always)
    static func map(_ n: Int, _ a: FloatRun, _ b: FloatRun, _ dst: UnsafeMutablePointer<Float>, _ f: (Float, Float) -> Float) {
        let (pa, pb) = (a.pointer, b.pointer)
        let d = UnsafePointer(dst)
        switch (a.stride, b.stride) {
        case (1, 1):
            if pa == d {
                for i in 0..<n { dst[i] = f(dst[i], pb[i]) }
            } else if pb == d {
                for i in 0..<n { dst[i] = f(pa[i], dst[i]) }
            } else {
                for i in 0..<n { dst[i] = f(pa[i], pb[i]) }
            }
        case (1, 0):
            let v = pb[0]
            if pa == d {
                for i in 0..<n { dst[i] = f(dst[i], v) }
            } else {
                for i in 0..<n { dst[i] = f(pa[i], v) }
            }
        case (0, 1):
            let u = pa[0]
            if pb == d {
                for i in 0..<n { dst[i] = f(u, dst[i]) }
            } else {
                for i in 0..<n { dst[i] = f(u, pb[i]) }
            }
        case (0, 0): dst.update(repeating: f(pa[0], pb[0]), count: n)
        default: for i in 0..<n { dst[i] = f(pa[i &* a.stride], pb[i &* b.stride]) }
        }
    }

    /// Applies a unary op to a run.
    static func apply(_ op: UnaryOp, _ n: Int, _ a: FloatRun, _ dst: UnsafeMutablePointer<Float>) {
        switch op {
        case .neg: map(n, a, dst) { -$0 }
        case .abs: map(n, a, dst) { Swift.abs($0) }
        case .exp: map(n, a, dst) { expf($0) }
        case .log: map(n, a, dst) { logf($0) }
        case .sqrt: map(n, a, dst) { $0.squareRoot() }
        case .rsqrt: map(n, a, dst) { 1 / $0.squareRoot() }
        case .reciprocal: map(n, a, dst) { 1 / $0 }
        case .square: map(n, a, dst) { $0 * $0 }
        case .tanh: map(n, a, dst) { tanhf($0) }
        case .sigmoid: map(n, a, dst) { sigmoid($0) }
        case .relu: map(n, a, dst) { relu($0) }
        case .silu: map(n, a, dst) { silu($0) }
        case .softplus: map(n, a, dst) { softplus($0) }
        case .erf: map(n, a, dst) { Float(erf(Double($0))) }
        case .geluExact: map(n, a, dst) { geluExact($0) }
        case .geluTanh: map(n, a, dst) { geluTanh($0) }
        case .leakyRelu(let alpha): map(n, a, dst) { $0 >= 0 ? $0 : alpha * $0 }
        case .elu(let alpha): map(n, a, dst) { elu($0, alpha) }
        case .floor: map(n, a, dst) { $0.rounded(.down) }
        case .ceil: map(n, a, dst) { $0.rounded(.up) }
        case .round: map(n, a, dst) { $0.rounded(.toNearestOrEven) }
        case .sign: map(n, a, dst) { $0 > 0 ? 1 : ($0 < 0 ? -1 : $0) }
        case .sin: map(n, a, dst) { sinf($0) }
        case .cos: map(n, a, dst) { cosf($0) }
        // Bool registers hold 0 or 1.
        case .logicalNot: map(n, a, dst) { $0 == 0 ? 1 : 0 }
        }
    }

    /// Applies a binary op to two runs; comparisons and logical ops write 0 or 1.
    static func apply(_ op: BinaryOp, _ n: Int, _ a: FloatRun, _ b: FloatRun, _ dst: UnsafeMutablePointer<Float>) {
        switch op {
        case .add: map(n, a, b, dst) { $0 + $1 }
        case .sub: map(n, a, b, dst) { $0 - $1 }
        case .mul: map(n, a, b, dst) { $0 * $1 }
        case .div: map(n, a, b, dst) { $0 / $1 }
        case .pow: map(n, a, b, dst) { powf($0, $1) }
        case .maximum: map(n, a, b, dst) { x, y in x.isNaN || y.isNaN ? .nan : Swift.max(x, y) }
        case .minimum: map(n, a, b, dst) { x, y in x.isNaN || y.isNaN ? .nan : Swift.min(x, y) }
        case .mod:
            map(n, a, b, dst) { x, y in
                let r = fmodf(x, y)
                return r != 0 && ((r < 0) != (y < 0)) ? r + y : r
            }
        case .equal: map(n, a, b, dst) { $0 == $1 ? 1 : 0 }
        case .notEqual: map(n, a, b, dst) { $0 != $1 ? 1 : 0 }
        case .less: map(n, a, b, dst) { $0 < $1 ? 1 : 0 }
        case .lessEqual: map(n, a, b, dst) { $0 <= $1 ? 1 : 0 }
        case .greater: map(n, a, b, dst) { $0 > $1 ? 1 : 0 }
        case .greaterEqual: map(n, a, b, dst) { $0 >= $1 ? 1 : 0 }
        case .logicalAnd: map(n, a, b, dst) { $0 != 0 && $1 != 0 ? 1 : 0 }
        case .logicalOr: map(n, a, b, dst) { $0 != 0 || $1 != 0 ? 1 : 0 }
        case .logicalXor: map(n, a, b, dst) { ($0 != 0) != ($1 != 0) ? 1 : 0 }
        }
    }

    /// `dst[i] = c[i] != 0 ? a[i] : b[i]`.
    static func select(_ n: Int, _ c: FloatRun, _ a: FloatRun, _ b: FloatRun, _ dst: UnsafeMutablePointer<Float>) {
        let (pc, pa, pb) = (c.pointer, a.pointer, b.pointer)
        if c.stride == 1 && a.stride == 1 && b.stride == 1 {
            for i in 0..<n { dst[i] = pc[i] != 0 ? pa[i] : pb[i] }
        } else {
            for i in 0..<n { dst[i] = pc[i &* c.stride] != 0 ? pa[i &* a.stride] : pb[i &* b.stride] }
        }
    }

    /// A cast between the two types the float kernel holds: to `bool` gives 1 for any non-zero
    /// value (NaN included, as the reference cast does); to `float32` keeps the value.
    static func cast(to dtype: DType, _ n: Int, _ a: FloatRun, _ dst: UnsafeMutablePointer<Float>) {
        if dtype == .bool {
            map(n, a, dst) { $0 != 0 ? 1 : 0 }
        } else {
            map(n, a, dst) { $0 }
        }
    }

    /// Applies an activation in place to `count` elements.
    static func activate(_ op: UnaryOp, _ p: UnsafeMutablePointer<Float>, _ count: Int) {
        apply(op, count, FloatRun(pointer: UnsafePointer(p), stride: 1), p)
    }
}

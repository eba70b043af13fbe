#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CDeepseekBLAS
import DeepseekTensor

/// A float32 function of one element. Each op is its own type so the generic loops specialise
/// into one tight (and, for the simple ops, vectorised) loop per op.
protocol FloatUnaryKernel {
    /// Whether the op calls into libm (then smaller tensors are already worth splitting).
    var isExpensive: Bool { get }
    /// Whether the C shim's streaming ReLU computes this op (for very large outputs).
    var streamsAsRelu: Bool { get }
    /// Whether the C shim's vectorised `exp` computes this op on dense runs.
    var isVectorExp: Bool { get }
    /// Whether `run` is faster than the element function (it works on a whole run at once);
    /// strided runs are then gathered into the output and transformed in place.
    var runsDense: Bool { get }
    func callAsFunction(_ x: Float) -> Float
    /// `y[i] = f(x[i])` for `n` dense elements; `y` may be `x`.
    func run(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int)
}

extension FloatUnaryKernel {
    var isExpensive: Bool { false }
    var streamsAsRelu: Bool { false }
    var isVectorExp: Bool { false }
    var runsDense: Bool { false }
    @inline(__always) func run(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int) {
        for i in 0..<n { y[i] = self(x[i]) }
    }
}

/// A float32 function of two elements, giving float32 or a bool byte.
protocol FloatBinaryKernel {
    associatedtype Output
    /// The C shim's streaming kernel for this op (for very large outputs), if it has one.
    var streamingOp: Int32? { get }
    func callAsFunction(_ a: Float, _ b: Float) -> Output
}

extension FloatBinaryKernel {
    var streamingOp: Int32? { nil }
}

// MARK: - Unary ops (definitions mirror ReferenceBackend.unaryFunction)

struct NegKernel: FloatUnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { -x } }
struct AbsKernel: FloatUnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.abs(x) } }
struct SqrtKernel: FloatUnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() } }
struct RsqrtKernel: FloatUnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / x.squareRoot() } }
struct ReciprocalKernel: FloatUnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / x } }
struct SquareKernel: FloatUnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x } }
/// ReLU keeps NaN (a NaN is not > 0 but is not replaced by 0 either).
struct ReluKernel: FloatUnaryKernel {
    var streamsAsRelu: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 || x.isNaN ? x : 0 }
}
struct LeakyReluKernel: FloatUnaryKernel {
    let alpha: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x >= 0 ? x : alpha * x }
}
struct FloorKernel: FloatUnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { x.rounded(.down) } }
struct CeilKernel: FloatUnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { x.rounded(.up) } }
struct RoundKernel: FloatUnaryKernel { @inline(__always) func callAsFunction(_ x: Float) -> Float { x.rounded(.toNearestOrEven) } }
/// Sign keeps ±0 and NaN as they are.
struct SignKernel: FloatUnaryKernel {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? 1 : (x < 0 ? -1 : x) }
}
struct ExpKernel: FloatUnaryKernel {
    var isExpensive: Bool { true }
    var isVectorExp: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { expf(x) }
}
struct LogKernel: FloatUnaryKernel {
    var isExpensive: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { logf(x) }
}
struct TanhKernel: FloatUnaryKernel {
    var isExpensive: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { tanhf(x) }
}
struct SigmoidKernel: FloatUnaryKernel {
    var isExpensive: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
}
struct SiluKernel: FloatUnaryKernel {
    var isExpensive: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x / (1 + expf(-x)) }
}
struct SoftplusKernel: FloatUnaryKernel {
    var isExpensive: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 20 ? x : log1pf(expf(x)) }
}
struct SinKernel: FloatUnaryKernel {
    var isExpensive: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { sinf(x) }
}
struct CosKernel: FloatUnaryKernel {
    var isExpensive: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { cosf(x) }
}
/// Ops whose float32 formula would cancel (`1 + tanh(·)` of GELU's tanh form for negative x,
/// `exp(x) - 1` near 0): they evaluate the reference's `Double` definition and round once.
/// (`erf` and the exact GELU have their own float32 evaluation, `FloatErf`.)
struct DoublePrecisionKernel: FloatUnaryKernel {
    let function: @Sendable (Double) -> Double
    var isExpensive: Bool { true }
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Float(function(Double(x))) }
}

// MARK: - Binary ops (definitions mirror ReferenceBackend.binaryFunction)

struct AddKernel: FloatBinaryKernel {
    var streamingOp: Int32? { CDSK_STREAM_ADD }
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b }
}
struct SubKernel: FloatBinaryKernel {
    var streamingOp: Int32? { CDSK_STREAM_SUB }
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b }
}
struct MulKernel: FloatBinaryKernel {
    var streamingOp: Int32? { CDSK_STREAM_MUL }
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b }
}
struct DivKernel: FloatBinaryKernel {
    var streamingOp: Int32? { CDSK_STREAM_DIV }
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b }
}
struct PowKernel: FloatBinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { powf(a, b) } }
/// Maximum and minimum return NaN when either operand is NaN.
struct MaximumKernel: FloatBinaryKernel {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }
}
struct MinimumKernel: FloatBinaryKernel {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }
}
/// The remainder with the divisor's sign (Python's `%`); `fmod` is exact in any precision.
struct ModKernel: FloatBinaryKernel {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float {
        let r = fmodf(a, b)
        return r != 0 && ((r < 0) != (b < 0)) ? r + b : r
    }
}
struct EqualKernel: FloatBinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> UInt8 { a == b ? 1 : 0 } }
struct NotEqualKernel: FloatBinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> UInt8 { a != b ? 1 : 0 } }
struct LessKernel: FloatBinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> UInt8 { a < b ? 1 : 0 } }
struct LessEqualKernel: FloatBinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> UInt8 { a <= b ? 1 : 0 } }
struct GreaterKernel: FloatBinaryKernel { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> UInt8 { a > b ? 1 : 0 } }
struct GreaterEqualKernel: FloatBinaryKernel {
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> UInt8 { a >= b ? 1 : 0 }
}

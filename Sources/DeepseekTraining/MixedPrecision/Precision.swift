public import DeepseekTensor

/// The floating-point type a training step computes in, with float32 master weights.
///
/// Mixed precision keeps every parameter in float32 (what the optimizer updates) and casts it to
/// the compute dtype where the graph reads it: `GraphTracer(parameterCast:)` records the cast, and
/// the gradient flows back through it to the float32 master. `fp16` needs loss scaling
/// (`DynamicLossScaler`) because its exponent range is narrow: gradients below 2⁻²⁴ become zero.
/// `bf16` has float32's exponent range and needs none; it trades mantissa bits instead.
///
/// ```swift
/// let tracer = GraphTracer(parameterCast: Precision.fp16.parameterCast())
/// ```
public enum Precision: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Everything in float32: parameters are used as stored.
    case fp32
    /// Compute in IEEE half precision (5 exponent bits, 10 mantissa bits).
    case fp16
    /// Compute in bfloat16 (8 exponent bits, 7 mantissa bits).
    case bf16

    /// The dtype parameters are cast to when traced.
    public var computeDType: DType {
        switch self {
        case .fp32: .float32
        case .fp16: .float16
        case .bf16: .bfloat16
        }
    }

    /// Whether gradients need loss scaling to stay out of the subnormal range (only `fp16`).
    public var needsLossScaling: Bool { self == .fp16 }

    /// The smallest positive normal value of the compute dtype: below it values lose precision
    /// (subnormals), and below its subnormal range they become zero.
    public var smallestNormal: Double {
        switch self {
        case .fp32, .bf16: Double(Float.leastNormalMagnitude)  // 2⁻¹²⁶: bfloat16 shares float32's exponent
        case .fp16: Double(Float16.leastNormalMagnitude)  // 2⁻¹⁴
        }
    }

    public var description: String { rawValue }

    /// The closure for `GraphTracer(parameterCast:)`: floating-point parameters are cast to the
    /// compute dtype, except the parameters of `float32Layers`, which are cast to (or kept in)
    /// float32.
    ///
    /// A layer is a parameter name up to its last dot (`AdaptivePrecisionSwitch.layer(of:)`), so
    /// `["0"]` keeps `0.weight` and `0.bias` in float32. With `fp32` every parameter is used as
    /// stored. The tracer never casts integer parameters, whatever the closure returns.
    public func parameterCast(float32Layers: Set<String> = []) -> @Sendable (String) -> DType? {
        guard self != .fp32 else { return { _ in nil } }
        let compute = computeDType
        if float32Layers.isEmpty { return { _ in compute } }
        return { name in float32Layers.contains(AdaptivePrecisionSwitch.layer(of: name)) ? .float32 : compute }
    }
}

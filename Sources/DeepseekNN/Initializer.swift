public import DeepseekCore
public import DeepseekTensor

/// How a layer fills a new parameter tensor.
///
/// Every random initialiser draws from an explicit `SeededRandom`, so a model built twice from the
/// same seed has bit-identical weights. Fans follow PyTorch: for a weight `[out, in, k…]`,
/// `fanIn = in·∏k` and `fanOut = out·∏k`.
///
/// ```swift
/// var rng = SeededRandom(seed: 1)
/// let w = try Initializer.xavierUniform().make([256, 784], rng: &rng)
/// ```
public enum Initializer: Sendable {
    case zeros
    case ones
    case constant(Double)
    case uniform(low: Double, high: Double)
    case normal(mean: Double = 0, std: Double = 1)
    /// He uniform: bound `gain·√(3/fan)`.
    case kaimingUniform(gain: Double = 2.0.squareRoot(), mode: FanMode = .fanIn)
    /// He normal: std `gain/√fan`.
    case kaimingNormal(gain: Double = 2.0.squareRoot(), mode: FanMode = .fanIn)
    /// Glorot uniform: bound `gain·√(6/(fanIn+fanOut))`.
    case xavierUniform(gain: Double = 1)
    /// Glorot normal: std `gain·√(2/(fanIn+fanOut))`.
    case xavierNormal(gain: Double = 1)

    /// PyTorch's default for `Linear` and `Conv2d` weights: Kaiming uniform with `a = √5`, which
    /// works out to `U(−1/√fanIn, 1/√fanIn)`.
    public static let torchDefault = Initializer.kaimingUniform(gain: (1.0 / 3.0).squareRoot(), mode: .fanIn)

    /// PyTorch's default for `Linear` and `Conv2d` biases: `U(−1/√fanIn, 1/√fanIn)` with the weight's fan-in.
    public static func torchBias(fanIn: Int) -> Initializer {
        let bound = fanIn > 0 ? 1 / Double(fanIn).squareRoot() : 0
        return .uniform(low: -bound, high: bound)
    }

    /// A new tensor of `shape` filled by this initialiser.
    ///
    /// - Throws: `TensorError` when the shape is invalid or a fan-based initialiser gets a weight of rank < 2.
    public func make(_ shape: Shape, dtype: DType = .float32, rng: inout SeededRandom) throws -> Tensor {
        switch self {
        case .zeros: try Tensor.zeros(shape, dtype: dtype)
        case .ones: try Tensor.ones(shape, dtype: dtype)
        case .constant(let v): try Tensor.full(shape, value: v, dtype: dtype)
        case .uniform(let low, let high): try Tensor.uniform(shape, low: low, high: high, dtype: dtype, rng: &rng)
        case .normal(let mean, let std): try Tensor.normal(shape, mean: mean, std: std, dtype: dtype, rng: &rng)
        case .kaimingUniform(let gain, let mode): try Tensor.kaimingUniform(shape, mode: mode, gain: gain, dtype: dtype, rng: &rng)
        case .kaimingNormal(let gain, let mode): try Tensor.kaimingNormal(shape, mode: mode, gain: gain, dtype: dtype, rng: &rng)
        case .xavierUniform(let gain): try Tensor.xavierUniform(shape, gain: gain, dtype: dtype, rng: &rng)
        case .xavierNormal(let gain): try Tensor.xavierNormal(shape, gain: gain, dtype: dtype, rng: &rng)
        }
    }
}

/// Throws unless every size is positive; layers call it so a bad constructor argument reads as
/// the layer's own mistake rather than a tensor allocation failure.
func requirePositive(_ layer: String, _ sizes: KeyValuePairs<String, Int>) throws {
    for (name, value) in sizes where value <= 0 {
        throw NNError(.invalidArgument, "\(layer): \(name) must be positive, got \(value)")
    }
}

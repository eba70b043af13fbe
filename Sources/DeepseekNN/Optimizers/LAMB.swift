public import DeepseekTensor

/// LAMB: Adam's direction plus decoupled weight decay, rescaled per parameter tensor by a trust
/// ratio (You et al., "Large Batch Optimization for Deep Learning").
///
/// Per parameter tensor `w` with gradient `g`, on its `t`-th update:
/// ```
/// m = β₁·m + (1 − β₁)·g,   v = β₂·v + (1 − β₂)·g²
/// r = m̂ / (√v̂ + ε) + weightDecay·w            (m̂, v̂ bias-corrected as in Adam)
/// ratio = ‖w‖ / ‖r‖, or 1 when either norm is 0
/// w = w − lr · ratio · r
/// ```
/// The ratio makes each layer's step proportional to its weights' size, which keeps very large
/// batches (and learning rates) stable. A parameter that is all zeros (a fresh bias) takes a
/// plain Adam-sized step, ratio 1.
///
/// Norms are reduced on the current backend and read back to the host (one scalar each, two per
/// tensor per step); half-precision tensors are squared in `float32` so the sum cannot overflow.
public struct LAMB: Optimizer {
    public var learningRate: Double
    /// Decay of the gradient's moving average.
    public let beta1: Double
    /// Decay of the squared gradient's moving average.
    public let beta2: Double
    /// Added to `√v̂` so the division stays finite.
    public let epsilon: Double
    /// Coefficient of `w` added to the update before the trust ratio.
    public let weightDecay: Double
    /// Whether the moments are divided by `1 − βᵗ`.
    public let biasCorrection: Bool
    var moments = AdaptiveMoments()
    /// The trust ratio each parameter took on its last update, by name (for monitoring).
    public private(set) var trustRatios: [String: Double] = [:]

    /// - Throws: `NNError.invalidArgument` for a negative or non-finite rate, ε or decay, or a
    ///   β outside `[0, 1)`.
    public init(
        learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-6,
        weightDecay: Double = 0, biasCorrection: Bool = true
    ) throws {
        try checkAdamSettings("LAMB", learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.biasCorrection = biasCorrection
    }

    /// The moving average of each parameter's gradient, by parameter name.
    public var firstMoments: [String: Tensor] { moments.first }
    /// The moving average of each parameter's squared gradient, by parameter name.
    public var secondMoments: [String: Tensor] { moments.second }
    /// How many updates each parameter has had, by name.
    public var updateCounts: [String: Int] { moments.counts }
    /// Calls to `step` so far.
    public var steps: Int { moments.steps }

    public mutating func step(_ parameters: [Parameter], gradients: [String: Tensor]) throws {
        try checkLearningRate("LAMB", learningRate)
        let pairs = try matchGradients(parameters, gradients)
        try moments.prepare(pairs, optimizer: "LAMB")
        for (p, g) in pairs {
            let value = p.value
            let (m, v, t) = try moments.update(p.name, gradient: g, beta1: beta1, beta2: beta2)
            let (direction, divisor) = try AdaptiveMoments.direction(
                m: m, v: v, t: t, beta1: beta1, beta2: beta2, epsilon: epsilon, biasCorrection: biasCorrection)
            var update = divisor == 1 ? direction : try direction / divisor
            if weightDecay != 0 { update = try update + value * weightDecay }
            let weightNorm = try l2Norm(value)
            let updateNorm = try l2Norm(update)
            let ratio = weightNorm > 0 && updateNorm > 0 ? weightNorm / updateNorm : 1
            trustRatios[p.name] = ratio
            p.value = try value - update * (learningRate * ratio)
        }
        moments.steps += 1
    }

    /// Kind `lamb`: tensors `m.<name>`, `v.<name>`; scalars `learningRate`, `step.<name>`.
    public var state: OptimizerState { moments.state(kind: "lamb", learningRate: learningRate) }

    public mutating func restore(_ state: OptimizerState) throws {
        let (restored, rate) = try AdaptiveMoments.restoring(state, kind: "lamb")
        moments = restored
        trustRatios = [:]
        if let rate { learningRate = rate }
    }
}

public import DeepseekTensor

/// Adam with L2 weight decay added to the gradient — PyTorch's `torch.optim.Adam`
/// (without AMSGrad).
///
/// Per parameter `p` with gradient `g`, on its `t`-th update (t = 1, 2, …):
/// ```
/// g = g + weightDecay·p
/// m = β₁·m + (1 − β₁)·g
/// v = β₂·v + (1 − β₂)·g²
/// p = p − lr · m̂ / (√v̂ + ε)      where m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)
/// ```
/// With `biasCorrection: false`, `m̂ = m` and `v̂ = v` — the update ONNX's `Adam` operator
/// applies when its count `T` is 0.
///
/// The moments have the parameter's dtype and every operation runs on the current kernel
/// backend. Update counts are kept per parameter, so a parameter that first gets a gradient late
/// starts its bias correction from 1.
///
/// ```swift
/// var adam = try Adam(learningRate: 1e-3)
/// try adam.step(model.parameters, gradients: gradients)
/// ```
public struct Adam: Optimizer {
    public var learningRate: Double
    /// Decay of the gradient's moving average.
    public let beta1: Double
    /// Decay of the squared gradient's moving average.
    public let beta2: Double
    /// Added to `√v̂` so the division stays finite.
    public let epsilon: Double
    /// L2 penalty coefficient, added to the gradient as `weightDecay·p` (coupled decay).
    public let weightDecay: Double
    /// Whether the moments are divided by `1 − βᵗ` (on in PyTorch; off in ONNX's `T = 0` case).
    public let biasCorrection: Bool
    var moments = AdaptiveMoments()

    /// - Throws: `NNError.invalidArgument` for a negative or non-finite rate, ε or decay, or a
    ///   β outside `[0, 1)`.
    public init(
        learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        weightDecay: Double = 0, biasCorrection: Bool = true
    ) throws {
        try checkAdamSettings("Adam", learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
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
        try checkLearningRate("Adam", learningRate)
        let pairs = try matchGradients(parameters, gradients)
        try moments.prepare(pairs, optimizer: "Adam")
        try moments.adamStep(
            pairs, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, biasCorrection: biasCorrection,
            weightDecay: weightDecay, decoupled: false)
    }

    /// Kind `adam`: tensors `m.<name>`, `v.<name>`; scalars `learningRate`, `step.<name>`.
    public var state: OptimizerState { moments.state(kind: "adam", learningRate: learningRate) }

    public mutating func restore(_ state: OptimizerState) throws {
        let (restored, rate) = try AdaptiveMoments.restoring(state, kind: "adam")
        moments = restored
        if let rate { learningRate = rate }
    }
}

/// Adam with decoupled weight decay — PyTorch's `torch.optim.AdamW` (without AMSGrad).
///
/// The decay shrinks the parameter directly instead of entering the moments, so it is not
/// rescaled by `1/√v̂` (Loshchilov & Hutter):
/// ```
/// p = p · (1 − lr·weightDecay)
/// m = β₁·m + (1 − β₁)·g,   v = β₂·v + (1 − β₂)·g²
/// p = p − lr · m̂ / (√v̂ + ε)
/// ```
/// With `weightDecay: 0` it is exactly `Adam`. The default decay is PyTorch's, 0.01.
public struct AdamW: Optimizer {
    public var learningRate: Double
    /// Decay of the gradient's moving average.
    public let beta1: Double
    /// Decay of the squared gradient's moving average.
    public let beta2: Double
    /// Added to `√v̂` so the division stays finite.
    public let epsilon: Double
    /// Decoupled decay: each step multiplies the parameter by `1 − learningRate·weightDecay`.
    public let weightDecay: Double
    /// Whether the moments are divided by `1 − βᵗ` (on in PyTorch).
    public let biasCorrection: Bool
    var moments = AdaptiveMoments()

    /// - Throws: `NNError.invalidArgument` for a negative or non-finite rate, ε or decay, or a
    ///   β outside `[0, 1)`.
    public init(
        learningRate: Double = 1e-3, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
        weightDecay: Double = 0.01, biasCorrection: Bool = true
    ) throws {
        try checkAdamSettings("AdamW", learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
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
        try checkLearningRate("AdamW", learningRate)
        let pairs = try matchGradients(parameters, gradients)
        try moments.prepare(pairs, optimizer: "AdamW")
        try moments.adamStep(
            pairs, learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, biasCorrection: biasCorrection,
            weightDecay: weightDecay, decoupled: true)
    }

    /// Kind `adamw`: tensors `m.<name>`, `v.<name>`; scalars `learningRate`, `step.<name>`.
    public var state: OptimizerState { moments.state(kind: "adamw", learningRate: learningRate) }

    public mutating func restore(_ state: OptimizerState) throws {
        let (restored, rate) = try AdaptiveMoments.restoring(state, kind: "adamw")
        moments = restored
        if let rate { learningRate = rate }
    }
}

extension AdaptiveMoments {
    /// One Adam or AdamW update of every pair. L2 decay (`decoupled: false`, Adam) adds
    /// `weightDecay·w` to the gradient; decoupled decay (AdamW) shrinks the weight first.
    mutating func adamStep(
        _ pairs: [(parameter: Parameter, gradient: Tensor)], learningRate: Double, beta1: Double, beta2: Double, epsilon: Double,
        biasCorrection: Bool, weightDecay: Double, decoupled: Bool
    ) throws {
        for (p, gradient) in pairs {
            var value = p.value
            var g = gradient
            if weightDecay != 0 {
                if decoupled { value = try value * (1 - learningRate * weightDecay) } else { g = try gradient + value * weightDecay }
            }
            let (m, v, t) = try update(p.name, gradient: g, beta1: beta1, beta2: beta2)
            let (direction, divisor) = try AdaptiveMoments.direction(
                m: m, v: v, t: t, beta1: beta1, beta2: beta2, epsilon: epsilon, biasCorrection: biasCorrection)
            p.value = try value - direction * (learningRate / divisor)
        }
        steps += 1
    }
}

public import DeepseekTensor

/// Dynamic loss scaling for float16 training: multiply the loss by a large scale so small
/// gradients survive half precision, divide the gradients by it before the optimizer step, and
/// adapt the scale to the largest value that does not overflow.
///
/// The rule (PyTorch's `GradScaler` defaults):
/// - Start at `initialScale` (65536 = 2¹⁶).
/// - When any gradient holds an infinity or a NaN, the step is **skipped** (the optimizer must not
///   see it) and the scale is halved, but never below `minimumScale` (1: below it scaling would
///   shrink gradients, and an overflow at scale 1 comes from the model, not from the scale).
/// - After `growthInterval` (2000) consecutive clean steps the scale doubles, but never above
///   `maximumScale` (2²⁴). The cap matters for layers whose gradients are all zero: they never
///   overflow, so without a cap the scale would double until it is itself infinite; 2²⁴ is also
///   where consecutive integers stop being exact in float32.
///
/// The scaler is a value with no I/O: the training loop reports whether the gradients were finite
/// and acts on the decision.
///
/// ```swift
/// var scaler = DynamicLossScaler()
/// let scaledLoss = loss * scaler.scale                       // before the backward pass
/// let unscaled = try scaler.unscale(gradients)               // float32, divided by the scale
/// if scaler.update(gradientsFinite: unscaled.isFinite) == .apply {
///     try optimizer.step(model.parameters, gradients: unscaled.gradients)
/// }
/// ```
public struct DynamicLossScaler: Sendable, Hashable {
    /// How the scale starts and moves.
    public struct Settings: Sendable, Hashable {
        public var initialScale: Double
        /// The factor applied after `growthInterval` clean steps.
        public var growthFactor: Double
        /// The factor applied after an overflow.
        public var backoffFactor: Double
        /// Consecutive clean steps before the scale grows.
        public var growthInterval: Int
        public var minimumScale: Double
        public var maximumScale: Double

        /// Keep the factors and bounds powers of two: the scale then stays a power of two and
        /// unscaling is exact.
        public init(
            initialScale: Double = 65536, growthFactor: Double = 2, backoffFactor: Double = 0.5, growthInterval: Int = 2000,
            minimumScale: Double = 1, maximumScale: Double = 16_777_216
        ) {
            self.initialScale = initialScale
            self.growthFactor = growthFactor
            self.backoffFactor = backoffFactor
            self.growthInterval = growthInterval
            self.minimumScale = minimumScale
            self.maximumScale = maximumScale
        }

        /// Throws unless the settings describe a scale that can move within its bounds.
        public func validate() throws(MixedPrecisionError) {
            guard minimumScale > 0, minimumScale <= maximumScale, maximumScale.isFinite,
                initialScale >= minimumScale, initialScale <= maximumScale,
                growthFactor >= 1, growthFactor.isFinite, backoffFactor > 0, backoffFactor < 1, growthInterval >= 1
            else {
                throw MixedPrecisionError(
                    .invalidArgument,
                    "DynamicLossScaler: settings need 0 < minimumScale ≤ initialScale ≤ maximumScale (finite), growthFactor ≥ 1, 0 < backoffFactor < 1 and growthInterval ≥ 1; got \(self)")
            }
        }
    }

    /// What the training loop does with this step's gradients.
    public enum Decision: Sendable, Hashable {
        /// The gradients are finite: unscale them and let the optimizer step.
        case apply
        /// A gradient overflowed: drop this step's gradients (the scale has been lowered).
        case skip
    }

    /// Everything the scaler carries between steps, for checkpoints.
    public struct State: Sendable, Hashable {
        public var scale: Double
        /// Clean steps since the scale last changed or overflowed.
        public var cleanSteps: Int
        /// Steps skipped in a row up to now (a run that never stops skipping is diverging).
        public var consecutiveSkips: Int
        /// Steps skipped in total.
        public var skippedSteps: Int

        public init(scale: Double, cleanSteps: Int = 0, consecutiveSkips: Int = 0, skippedSteps: Int = 0) {
            self.scale = scale
            self.cleanSteps = cleanSteps
            self.consecutiveSkips = consecutiveSkips
            self.skippedSteps = skippedSteps
        }
    }

    public let settings: Settings
    /// The current state.
    public private(set) var state: State

    /// The factor the loss is multiplied by for the current step.
    public var scale: Double { state.scale }

    /// A scaler with the default settings: 65536 to start, ×2 after 2000 clean steps, ×½ on
    /// overflow, within [1, 2²⁴].
    public init() {
        self.settings = Settings()
        self.state = State(scale: settings.initialScale)
    }

    /// A scaler at `settings.initialScale`.
    /// - Throws: `MixedPrecisionError.invalidArgument` for settings that cannot work (see `Settings.validate`).
    public init(settings: Settings) throws(MixedPrecisionError) {
        try settings.validate()
        self.settings = settings
        self.state = State(scale: settings.initialScale)
    }

    /// A scaler continuing from a checkpointed state.
    /// - Throws: `MixedPrecisionError.incompatibleState` when the state's scale lies outside the settings' bounds.
    public init(restoring state: State, settings: Settings = Settings()) throws(MixedPrecisionError) {
        try settings.validate()
        guard state.scale >= settings.minimumScale, state.scale <= settings.maximumScale, state.cleanSteps >= 0,
            state.consecutiveSkips >= 0, state.skippedSteps >= 0
        else {
            throw MixedPrecisionError(
                .incompatibleState,
                "DynamicLossScaler: the saved scale \(state.scale) (clean steps \(state.cleanSteps)) lies outside [\(settings.minimumScale), \(settings.maximumScale)]; restore with the settings it was saved with")
        }
        self.settings = settings
        self.state = state
    }

    /// Records one step and says whether to apply it.
    ///
    /// Call once per step, after checking the gradients (`unscale` reports whether they are finite).
    public mutating func update(gradientsFinite: Bool) -> Decision {
        guard gradientsFinite else {
            state.scale = max(state.scale * settings.backoffFactor, settings.minimumScale)
            state.cleanSteps = 0
            state.consecutiveSkips += 1
            state.skippedSteps += 1
            return .skip
        }
        state.consecutiveSkips = 0
        state.cleanSteps += 1
        if state.cleanSteps >= settings.growthInterval {
            state.scale = min(state.scale * settings.growthFactor, settings.maximumScale)
            state.cleanSteps = 0
        }
        return .apply
    }

    /// Gradients divided by the current scale, in float32, with what the scaler and the
    /// adaptive precision switch need to know about them.
    public func unscale(_ gradients: [String: Tensor]) throws -> UnscaledGradients {
        try UnscaledGradients(gradients, scale: state.scale)
    }
}

/// Gradients divided by a loss scale and converted to float32, with a check for non-finite
/// values and each gradient's largest magnitude.
///
/// Dividing by a power of two is exact in float32 unless the result falls into the subnormal
/// range, so with the scaler's default settings unscaling loses nothing that float32 can hold.
public struct UnscaledGradients: Sendable {
    /// The unscaled gradients (float32), by parameter name.
    public var gradients: [String: Tensor]
    /// Names of the gradients that hold an infinity or a NaN, sorted.
    public var nonFinite: [String]
    /// The largest absolute value of each gradient after unscaling (infinite or NaN for the
    /// gradients in `nonFinite`).
    public var maxAbs: [String: Double]

    /// Whether every gradient is finite (the step may be applied).
    public var isFinite: Bool { nonFinite.isEmpty }

    /// Converts `gradients` to float32 and divides them by `scale`.
    ///
    /// - Throws: `MixedPrecisionError.invalidArgument` for a scale that is not positive and finite;
    ///   `TensorError` for a gradient with no values (a meta tensor).
    public init(_ gradients: [String: Tensor], scale: Double) throws {
        guard scale > 0, scale.isFinite else {
            throw MixedPrecisionError(.invalidArgument, "unscale: the loss scale must be positive and finite, got \(scale)")
        }
        let divisor = Float(scale)
        var out: [String: Tensor] = [:]
        var nonFinite: [String] = []
        var maxAbs: [String: Double] = [:]
        for (name, g) in gradients {
            // A float64 gradient beyond float32's range becomes infinite here, as it would in any
            // float32 optimizer step: it is reported, not hidden.
            var values = try g.scalars(as: Float.self)
            var largest: Float = 0
            var finite = true
            for i in values.indices {
                let v = values[i] / divisor
                values[i] = v
                if !v.isFinite {
                    finite = false
                    largest = v.isNaN ? .nan : (largest.isNaN ? largest : .infinity)
                } else if largest.isFinite, abs(v) > largest {
                    largest = abs(v)
                }
            }
            if !finite { nonFinite.append(name) }
            maxAbs[name] = Double(largest)
            out[name] = try Tensor(values, shape: g.shape)
        }
        self.gradients = out
        self.nonFinite = nonFinite.sorted()
        self.maxAbs = maxAbs
    }
}

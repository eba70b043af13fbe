public import DeepseekTensor

/// Moves a layer to float32 for a while when its gradients become too small for the compute
/// dtype, then moves it back — a state machine with gradient statistics in and the set of
/// float32 layers out.
///
/// **The rule.** A layer is a parameter name up to its last dot (`0.weight` → `0`,
/// `encoder.attn.q.bias` → `encoder.attn.q`, a name without a dot is the root layer `""`). Its
/// magnitude at a step is the largest absolute unscaled gradient over its parameters. During the
/// backward pass the compute dtype held that value times the loss scale, so when
///
/// ```
/// magnitude × lossScale < smallestNormal(compute dtype) × margin
/// ```
///
/// even the layer's largest gradient is within `margin` (default 2¹⁰, ten binary orders) of the
/// subnormal range, and most of its smaller entries have lost precision or flushed to zero. The
/// layer then runs in float32 for the next `cooldownSteps` steps. A small magnitude observed
/// while it is in float32 restarts the cooldown (the measurement is reliable there: float32
/// does not underflow at these sizes), so a layer returns to the compute dtype only after
/// `cooldownSteps` steps in a row with healthy gradients. For float16 the threshold is
/// 2⁻¹⁴ × 1024 = 2⁻⁴; bfloat16 shares float32's exponent range, so its threshold (2⁻¹¹⁶) is met
/// only by gradients that are practically zero; with `fp32` the switch never acts.
///
/// Feed it the statistics of applied steps only: a skipped (overflowed) step's magnitudes are
/// infinite or NaN and are ignored anyway.
///
/// ```swift
/// var precisionSwitch = try AdaptivePrecisionSwitch(settings: .init(precision: .fp16))
/// let unscaled = try scaler.unscale(gradients)
/// if scaler.update(gradientsFinite: unscaled.isFinite) == .apply {
///     precisionSwitch.record(maxAbs: unscaled.maxAbs, lossScale: scaleUsedThisStep)
/// }
/// let tracer = GraphTracer(parameterCast: precisionSwitch.parameterCast())   // next step
/// ```
public struct AdaptivePrecisionSwitch: Sendable, Hashable {
    /// The compute precision and how eagerly layers move to float32.
    public struct Settings: Sendable, Hashable {
        public var precision: Precision
        /// Steps a layer stays in float32 after its last small gradient.
        public var cooldownSteps: Int
        /// How far above the smallest normal value a layer's largest scaled gradient must stay.
        public var margin: Double

        public init(precision: Precision, cooldownSteps: Int = 100, margin: Double = 1024) {
            self.precision = precision
            self.cooldownSteps = cooldownSteps
            self.margin = margin
        }

        /// The scaled magnitude below which a layer moves to float32 (0 for `fp32`: never).
        public var threshold: Double { precision == .fp32 ? 0 : precision.smallestNormal * margin }
    }

    /// Everything the switch carries between steps, for checkpoints.
    public struct State: Sendable, Hashable {
        /// Steps recorded so far.
        public var step: Int
        /// The layers in float32 and how many more steps each stays there.
        public var float32Layers: [String: Int]

        public init(step: Int = 0, float32Layers: [String: Int] = [:]) {
            self.step = step
            self.float32Layers = float32Layers
        }
    }

    /// What changed at a step, and the layers that run in float32 at the next one.
    public struct Decision: Sendable, Hashable {
        public var float32Layers: Set<String>
        /// Layers that moved to float32 at this step, sorted.
        public var entered: [String]
        /// Layers that went back to the compute dtype at this step, sorted.
        public var left: [String]
    }

    public let settings: Settings
    public private(set) var state: State

    /// - Throws: `MixedPrecisionError.invalidArgument` for a cooldown below 1 or a margin that is
    ///   not positive and finite.
    public init(settings: Settings) throws(MixedPrecisionError) {
        guard settings.cooldownSteps >= 1, settings.margin > 0, settings.margin.isFinite else {
            throw MixedPrecisionError(
                .invalidArgument,
                "AdaptivePrecisionSwitch: cooldownSteps must be ≥ 1 and margin positive and finite, got \(settings.cooldownSteps) and \(settings.margin)")
        }
        self.settings = settings
        self.state = State()
    }

    /// A switch continuing from a checkpointed state.
    /// - Throws: `MixedPrecisionError` for invalid settings or a state with negative counts.
    public init(restoring state: State, settings: Settings) throws(MixedPrecisionError) {
        try self.init(settings: settings)
        guard state.step >= 0, state.float32Layers.values.allSatisfy({ $0 >= 1 }) else {
            throw MixedPrecisionError(
                .incompatibleState, "AdaptivePrecisionSwitch: the saved state has a negative step or a layer with no steps left: \(state)")
        }
        // A layer saved with more steps left than the cooldown now allows waits the new cooldown.
        self.state = State(step: state.step, float32Layers: state.float32Layers.mapValues { min($0, settings.cooldownSteps) })
    }

    /// The layers that run in float32 now.
    public var float32Layers: Set<String> { Set(state.float32Layers.keys) }

    /// The layer a parameter belongs to: its name up to the last dot (`""` for a name without one).
    public static func layer(of parameter: String) -> String {
        guard let dot = parameter.lastIndex(of: ".") else { return "" }
        return String(parameter[..<dot])
    }

    /// The largest magnitude per layer from per-parameter magnitudes; non-finite values are left out.
    public static func layerMagnitudes(_ maxAbs: [String: Double]) -> [String: Double] {
        var result: [String: Double] = [:]
        for (name, value) in maxAbs where value.isFinite {
            let layer = layer(of: name)
            result[layer] = max(result[layer] ?? 0, abs(value))
        }
        return result
    }

    /// Records one step's gradient statistics and returns the layers in float32 for the next step.
    ///
    /// - Parameters:
    ///   - maxAbs: the largest absolute unscaled gradient of each parameter
    ///     (`UnscaledGradients.maxAbs`); layers with no entry keep their state.
    ///   - lossScale: the scale the loss was multiplied by in this step (1 without scaling).
    @discardableResult
    public mutating func record(maxAbs: [String: Double], lossScale: Double = 1) -> Decision {
        state.step += 1
        let before = float32Layers
        // The step just recorded ran these layers in float32: one step of their cooldown is spent.
        for (layer, left) in state.float32Layers { state.float32Layers[layer] = left - 1 }
        let threshold = settings.threshold
        if threshold > 0 {
            for (layer, magnitude) in Self.layerMagnitudes(maxAbs) where magnitude * lossScale < threshold {
                state.float32Layers[layer] = settings.cooldownSteps
            }
        }
        state.float32Layers = state.float32Layers.filter { $0.value > 0 }
        let after = float32Layers
        return Decision(float32Layers: after, entered: after.subtracting(before).sorted(), left: before.subtracting(after).sorted())
    }

    /// The closure for `GraphTracer(parameterCast:)` at the next step: the compute dtype, except
    /// float32 for the layers the switch holds there now.
    public func parameterCast() -> @Sendable (String) -> DType? {
        settings.precision.parameterCast(float32Layers: float32Layers)
    }
}

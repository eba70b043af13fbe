#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A learning rate as a function of the step number.
///
/// Step 0 is the first optimizer step. A training loop sets the optimizer's rate before each
/// step; schedules are values, so a checkpoint only needs the step number to resume one:
///
/// ```swift
/// let schedule = try LinearWarmup(steps: 500, then: CosineDecay(base: 3e-4, totalSteps: 9_500))
/// for step in 0..<10_000 {
///     optimizer.learningRate = schedule.learningRate(atStep: step)
///     try optimizer.step(model.parameters, gradients: gradients(step))
/// }
/// ```
///
/// Schedules compose: `LinearWarmup` and `SequentialSchedule` wrap others and start each wrapped
/// schedule's count at 0 when it takes over. A negative step is treated as step 0.
public protocol LearningRateSchedule: Sendable {
    /// The rate for the optimizer step numbered `step` (0-based).
    func learningRate(atStep step: Int) -> Double
}

/// Throws unless `value` is finite and ≥ 0 (a learning rate or a bound on one).
func checkRate(_ schedule: String, _ name: String, _ value: Double) throws {
    guard value >= 0 && value.isFinite else {
        throw NNError(.invalidArgument, "\(schedule): \(name) must be finite and ≥ 0, got \(value)")
    }
}

/// The same rate at every step.
public struct ConstantSchedule: LearningRateSchedule {
    /// The rate.
    public let base: Double

    /// - Throws: `NNError.invalidArgument` for a negative or non-finite rate.
    public init(base: Double) throws {
        try checkRate("ConstantSchedule", "base", base)
        self.base = base
    }

    public func learningRate(atStep step: Int) -> Double { base }
}

/// Half a cosine from `base` down to `floor` over `totalSteps` steps, then `floor` — PyTorch's
/// `CosineAnnealingLR` (one half period, no restarts).
///
/// `rate(t) = floor + (base − floor) · (1 + cos(π · t / totalSteps)) / 2` for `t < totalSteps`;
/// `base` at step 0, the midpoint `(base + floor) / 2` at `totalSteps / 2`, `floor` from
/// `totalSteps` on.
public struct CosineDecay: LearningRateSchedule {
    /// The rate at step 0.
    public let base: Double
    /// Steps from `base` to `floor`.
    public let totalSteps: Int
    /// The rate at the end and after it.
    public let floor: Double

    /// - Throws: `NNError.invalidArgument` unless `0 ≤ floor ≤ base` (finite) and `totalSteps ≥ 1`.
    public init(base: Double, totalSteps: Int, floor: Double = 0) throws {
        try checkRate("CosineDecay", "base", base)
        try checkRate("CosineDecay", "floor", floor)
        guard floor <= base else {
            throw NNError(.invalidArgument, "CosineDecay: floor (\(floor)) must not exceed base (\(base))")
        }
        guard totalSteps >= 1 else {
            throw NNError(.invalidArgument, "CosineDecay: totalSteps must be ≥ 1, got \(totalSteps)")
        }
        self.base = base
        self.totalSteps = totalSteps
        self.floor = floor
    }

    public func learningRate(atStep step: Int) -> Double {
        let t = Swift.min(Swift.max(step, 0), totalSteps)
        if t == totalSteps { return floor }
        return floor + (base - floor) * (1 + cos(Double.pi * Double(t) / Double(totalSteps))) / 2
    }
}

/// `base` multiplied by `gamma` every `stepSize` steps — PyTorch's `StepLR`.
///
/// `rate(t) = base · gamma^⌊t / stepSize⌋`: `base` for steps `0..<stepSize`, `base·gamma` for the
/// next `stepSize` steps, and so on.
public struct StepDecay: LearningRateSchedule {
    /// The rate for the first `stepSize` steps.
    public let base: Double
    /// Steps between two decays.
    public let stepSize: Int
    /// The factor applied at each decay.
    public let gamma: Double

    /// - Throws: `NNError.invalidArgument` for a negative or non-finite base, `stepSize < 1`, or
    ///   a `gamma` that is not finite and `> 0`.
    public init(base: Double, stepSize: Int, gamma: Double) throws {
        try checkRate("StepDecay", "base", base)
        guard stepSize >= 1 else {
            throw NNError(.invalidArgument, "StepDecay: stepSize must be ≥ 1, got \(stepSize)")
        }
        guard gamma > 0 && gamma.isFinite else {
            throw NNError(.invalidArgument, "StepDecay: gamma must be finite and > 0, got \(gamma)")
        }
        self.base = base
        self.stepSize = stepSize
        self.gamma = gamma
    }

    public func learningRate(atStep step: Int) -> Double {
        let decays = Swift.max(step, 0) / stepSize
        // Repeated products match PyTorch's recursive form up to rounding; pow keeps it O(1).
        return base * pow(gamma, Double(decays))
    }
}

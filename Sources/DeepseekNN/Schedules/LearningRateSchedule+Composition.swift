/// A linear ramp up to another schedule, which then takes over.
///
/// For `step < steps` the rate is `target · (startFactor + (1 − startFactor) · step / steps)`
/// with `target = then.learningRate(atStep: 0)`; from `steps` on it is
/// `then.learningRate(atStep: step − steps)`. The wrapped schedule starts counting when the
/// warm-up ends, so for a run of `total` steps give a cosine `totalSteps: total − steps`:
///
/// ```swift
/// // 10 000 steps: 500 of warm-up, then a cosine from 3e-4 to 3e-5.
/// let schedule = try LinearWarmup(steps: 500, then: CosineDecay(base: 3e-4, totalSteps: 9_500, floor: 3e-5))
/// ```
///
/// With the default `startFactor` 0 the first step has rate 0 (as in Hugging Face's linear
/// warm-up); a small factor such as `1 / steps` makes the first step count.
public struct LinearWarmup: LearningRateSchedule {
    /// Steps of warm-up; 0 means none.
    public let steps: Int
    /// The fraction of the target rate at step 0, in `[0, 1]`.
    public let startFactor: Double
    /// The schedule after warm-up; its step-0 rate is the warm-up's target.
    public let then: any LearningRateSchedule

    /// - Throws: `NNError.invalidArgument` for `steps < 0` or `startFactor` outside `[0, 1]`.
    public init(steps: Int, startFactor: Double = 0, then: any LearningRateSchedule) throws {
        guard steps >= 0 else {
            throw NNError(.invalidArgument, "LinearWarmup: steps must be ≥ 0, got \(steps)")
        }
        guard startFactor >= 0 && startFactor <= 1 else {
            throw NNError(.invalidArgument, "LinearWarmup: startFactor must be in [0, 1], got \(startFactor)")
        }
        self.steps = steps
        self.startFactor = startFactor
        self.then = then
    }

    public func learningRate(atStep step: Int) -> Double {
        let step = Swift.max(step, 0)
        guard step < steps else { return then.learningRate(atStep: step - steps) }
        let factor = startFactor + (1 - startFactor) * Double(step) / Double(steps)
        return then.learningRate(atStep: 0) * factor
    }
}

/// Schedules run one after another, switching at given steps — PyTorch's `SequentialLR`.
///
/// With `boundaries = [b₁, b₂, …]`, `schedules[0]` runs for steps `0..<b₁`, `schedules[1]` for
/// `b₁..<b₂` (seeing its own steps `0, 1, …`), and the last one from the last boundary on.
///
/// ```swift
/// // Constant for 1000 steps, then a step decay restarting its count at 1000.
/// let schedule = try SequentialSchedule(
///     [ConstantSchedule(base: 0.1), StepDecay(base: 0.1, stepSize: 500, gamma: 0.5)], boundaries: [1000])
/// ```
public struct SequentialSchedule: LearningRateSchedule {
    /// The schedules in the order they run.
    public let schedules: [any LearningRateSchedule]
    /// The step at which each schedule after the first takes over.
    public let boundaries: [Int]

    /// - Throws: `NNError.invalidArgument` unless there is one schedule more than boundaries and
    ///   the boundaries are strictly increasing and > 0.
    public init(_ schedules: [any LearningRateSchedule], boundaries: [Int]) throws {
        guard !schedules.isEmpty else {
            throw NNError(.invalidArgument, "SequentialSchedule: needs at least one schedule")
        }
        guard boundaries.count == schedules.count - 1 else {
            throw NNError(
                .invalidArgument,
                "SequentialSchedule: \(schedules.count) schedules need \(schedules.count - 1) boundaries (the steps where the next one takes over), got \(boundaries.count)")
        }
        var previous = 0
        for b in boundaries {
            guard b > previous else {
                throw NNError(.invalidArgument, "SequentialSchedule: boundaries must be > 0 and strictly increasing, got \(boundaries)")
            }
            previous = b
        }
        self.schedules = schedules
        self.boundaries = boundaries
    }

    public func learningRate(atStep step: Int) -> Double {
        let step = Swift.max(step, 0)
        // Boundaries are few (a handful of phases), so a linear scan is the clearest choice.
        let index = boundaries.firstIndex { step < $0 } ?? boundaries.count
        let start = index == 0 ? 0 : boundaries[index - 1]
        return schedules[index].learningRate(atStep: step - start)
    }
}

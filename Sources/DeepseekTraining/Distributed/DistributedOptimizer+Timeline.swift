/// When the parts of one distributed step happened, measured from its start (`beginStep`):
/// shows how much of the gradient reduction ran while backward was still running.
public struct StepTimeline: Sendable, Hashable {
    /// When each bucket's reduction started, by bucket index (`nil`: it did not run).
    public var reductionStarted: [Duration?]
    /// When each bucket's reduction finished, by bucket index.
    public var reductionFinished: [Duration?]
    /// When the caller's backward pass produced its last gradient, as it reported
    /// (`backwardFinished(at:)`).
    public var backwardFinished: Duration?
    /// When `finishStep` had applied the update and gathered the parameters.
    public var finished: Duration?

    public init(buckets: Int) {
        reductionStarted = Array(repeating: nil, count: buckets)
        reductionFinished = Array(repeating: nil, count: buckets)
    }

    /// The buckets in the order their reductions started.
    public var startOrder: [Int] {
        reductionStarted.indices.filter { reductionStarted[$0] != nil }.sorted { reductionStarted[$0]! < reductionStarted[$1]! }
    }

    /// Reduction time spent while backward still ran, summed over buckets (zero when the
    /// gradients were handed over after backward).
    public var overlapped: Duration {
        guard let end = backwardFinished else { return .zero }
        var total = Duration.zero
        for (start, finish) in zip(reductionStarted, reductionFinished) {
            guard let start, start < end else { continue }
            total += min(finish ?? end, end) - start
        }
        return total
    }
}

extension DistributedOptimizer {
    /// Records that the caller's backward pass produced its last gradient at `instant` (for
    /// `lastStepTimeline`).
    public func backwardFinished(at instant: ContinuousClock.Instant = .now) {
        timeline.backwardFinished = instant - stepStarted
    }

    func reductionFinished(_ b: Int) {
        timeline.reductionFinished[b] = ContinuousClock.now - stepStarted
    }
}

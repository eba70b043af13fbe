/// What to read ahead, from the schedule the graph engine announces.
///
/// The schedule is a list of steps, each the tensors that step needs (for a training step:
/// the parameters and optimizer state of one layer after another). The planner knows the step
/// in progress and looks `lookahead` steps ahead; with `cyclic`, the schedule repeats (training
/// runs the same steps every iteration), so the first steps follow the last. A value type
/// without I/O.
///
/// ```swift
/// var planner = PrefetchPlanner(schedule: [["w1", "m.w1"], ["w2", "m.w2"]], lookahead: 1)
/// planner.advance(to: 0)
/// planner.upcoming()        // ["w2", "m.w2"]
/// ```
public struct PrefetchPlanner: Sendable {
    /// The tensors of each step, in order.
    public private(set) var schedule: [[StorageKey]]
    /// Steps to look ahead of the current one.
    public var lookahead: Int
    /// Whether the schedule repeats after its last step.
    public var cyclic: Bool
    /// The step in progress (`nil` before the first `advance`).
    public private(set) var position: Int?

    public init(schedule: [[StorageKey]] = [], lookahead: Int = 2, cyclic: Bool = true) {
        precondition(lookahead >= 0, "PrefetchPlanner: lookahead must be ≥ 0")
        self.schedule = schedule
        self.lookahead = lookahead
        self.cyclic = cyclic
    }

    /// Replaces the schedule; the position starts over.
    public mutating func setSchedule(_ steps: [[StorageKey]]) {
        schedule = steps
        position = nil
    }

    /// Marks `step` as the one in progress.
    public mutating func advance(to step: Int) {
        precondition(step >= 0, "PrefetchPlanner: steps are numbered from 0")
        position = step
    }

    /// The index into `schedule` of the step `ahead` steps after the current one, if there is one.
    func stepIndex(ahead: Int) -> Int? {
        guard !schedule.isEmpty else { return nil }
        let current = position ?? -1
        let target = current + ahead
        if target < 0 { return nil }
        if cyclic { return target % schedule.count }
        return target < schedule.count ? target : nil
    }

    /// The tensors the next `lookahead` steps need and the current one does not, in the order
    /// they are needed, each once.
    public func upcoming() -> [StorageKey] {
        let now = Set(position == nil ? [] : stepIndex(ahead: 0).map { schedule[$0] } ?? [])
        var seen = now
        var keys: [StorageKey] = []
        for ahead in stride(from: 1, through: lookahead, by: 1) {
            guard let i = stepIndex(ahead: ahead) else { break }
            for key in schedule[i] where seen.insert(key).inserted { keys.append(key) }
        }
        return keys
    }

    /// Steps until each tensor within the window (the current step and `lookahead` after it) is
    /// needed: 0 for the current step.
    public func nextUse() -> [StorageKey: Int] {
        var distance: [StorageKey: Int] = [:]
        for ahead in 0...lookahead {
            guard let i = stepIndex(ahead: ahead) else { continue }
            if ahead == 0 && position == nil { continue }
            for key in schedule[i] where distance[key] == nil { distance[key] = ahead }
        }
        return distance
    }
}

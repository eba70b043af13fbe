/// A set of parameters synchronised at its own frequency, with a bound on staleness.
///
/// Between synchronisations every rank accumulates the group's gradients locally and applies
/// nothing, so replicas stay identical; when the group synchronises, the accumulated gradient
/// is reduced and applied at once. Important groups — those whose last update moved the weights
/// by at least `importanceThreshold` relative to their size (‖Δw‖/‖w‖) — synchronise every step.
/// The decision uses only values every replica shares, so all ranks agree without a message.
public struct SyncGroup: Sendable {
    public var name: String
    /// Whether a parameter (by name) belongs to this group; the first matching group wins.
    public var contains: @Sendable (String) -> Bool
    /// Synchronise at least every `every` steps.
    public var every: Int
    /// Never leave more than this many steps of gradients unsent (caps `every`).
    public var maxStaleness: Int
    /// An update-to-weight ratio at or above which the group synchronises every step (`nil`: fixed cadence).
    public var importanceThreshold: Double?

    public init(
        _ name: String, every: Int, maxStaleness: Int? = nil, importanceThreshold: Double? = nil, contains: @escaping @Sendable (String) -> Bool
    ) {
        precondition(every >= 1 && (maxStaleness ?? every) >= 1, "SyncGroup \(name): every and maxStaleness must be ≥ 1")
        self.name = name
        self.every = every
        self.maxStaleness = maxStaleness ?? every
        self.importanceThreshold = importanceThreshold
        self.contains = contains
    }

    /// Parameters whose names start with one of `prefixes`.
    public static func prefixes(_ name: String, _ prefixes: [String], every: Int, maxStaleness: Int? = nil, importanceThreshold: Double? = nil) -> SyncGroup {
        SyncGroup(name, every: every, maxStaleness: maxStaleness, importanceThreshold: importanceThreshold) { n in prefixes.contains { n.hasPrefix($0) } }
    }
}

/// Decides, step by step, which sync groups synchronise: events in (a step begins, a group's
/// update-to-weight ratio), decisions out. No I/O.
public struct SyncSchedule: Sendable {
    public let groups: [SyncGroup]
    /// Steps of gradients each group holds unsent.
    public private(set) var pendingSteps: [Int]
    /// The last update-to-weight ratio of each group.
    public private(set) var lastRatio: [Double?]
    /// The most steps any group's applied gradients were ever delayed.
    public private(set) var worstStaleness = 0

    public init(groups: [SyncGroup]) {
        self.groups = groups
        pendingSteps = Array(repeating: 0, count: groups.count)
        lastRatio = Array(repeating: nil, count: groups.count)
    }

    /// Which groups synchronise this step; counts the others' gradients as pending.
    public mutating func plan() -> [Bool] {
        groups.indices.map { g in
            let group = groups[g]
            let important = group.importanceThreshold.map { t in (lastRatio[g] ?? .infinity) >= t } ?? false
            let due = important || pendingSteps[g] + 1 >= min(group.every, group.maxStaleness)
            if due {
                worstStaleness = max(worstStaleness, pendingSteps[g])
                pendingSteps[g] = 0
            } else {
                pendingSteps[g] += 1
            }
            return due
        }
    }

    /// Records group `g`'s update-to-weight ratio after it synchronised.
    public mutating func record(ratio: Double, group g: Int) { lastRatio[g] = ratio }
}

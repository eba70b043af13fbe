public import DeepseekTracing

/// What changed between two runs: event and message counts, total duration, per-operator
/// counts and time, per-actor busy time. Two traces of the same simulation seed give an empty
/// diff.
///
/// Counts are compared exactly; times are reported when they differ by more than `tolerance`
/// (relative), so real runs, whose timings always jitter, can be compared at e.g. 5 %.
public struct TraceDiff: Sendable {
    /// One difference.
    public struct Change: Sendable, Hashable, CustomStringConvertible {
        /// What was measured: `"operator matmul: total time"`.
        public var subject: String
        /// The values in the first and the second run, formatted.
        public var before: String
        public var after: String

        public var description: String { "\(subject): \(before) → \(after)" }
    }

    /// The differences, in a stable order.
    public var changes: [Change]
    /// Whether the runs match.
    public var isEmpty: Bool { changes.isEmpty }

    /// Compares two event lists.
    ///
    /// - Parameter tolerance: relative difference below which times count as equal (0: exact).
    public init(_ first: [TraceEvent], _ second: [TraceEvent], tolerance: Double = 0) {
        self.init(TraceSummary(first), TraceSummary(second), firstEvents: first, secondEvents: second, tolerance: tolerance)
    }

    init(_ a: TraceSummary, _ b: TraceSummary, firstEvents: [TraceEvent], secondEvents: [TraceEvent], tolerance: Double) {
        var changes: [Change] = []
        func count(_ subject: String, _ x: Int, _ y: Int) {
            if x != y { changes.append(Change(subject: subject, before: String(x), after: String(y))) }
        }
        func time(_ subject: String, _ x: UInt64, _ y: UInt64) {
            guard x != y else { return }
            let relative = Double(max(x, y) - min(x, y)) / Double(max(max(x, y), 1))
            if relative > tolerance {
                changes.append(Change(subject: subject, before: formatDuration(x), after: formatDuration(y)))
            }
        }
        count("events", a.eventCount, b.eventCount)
        count("messages", a.messageCount, b.messageCount)
        time("duration", a.duration, b.duration)
        time("critical path", a.criticalPath.length, b.criticalPath.length)
        time("exposed communication", a.overlap.exposedCommunication, b.overlap.exposedCommunication)
        let kindsA = Self.kindCounts(firstEvents)
        let kindsB = Self.kindCounts(secondEvents)
        for kind in Set(kindsA.keys).union(kindsB.keys).sorted() {
            count("\(kind) events", kindsA[kind] ?? 0, kindsB[kind] ?? 0)
        }
        let operatorsA = Self.operators(firstEvents)
        let operatorsB = Self.operators(secondEvents)
        for name in Set(operatorsA.keys).union(operatorsB.keys).sorted() {
            let x = operatorsA[name] ?? TraceSummary.Operator(name: name, count: 0, total: 0, maximum: 0)
            let y = operatorsB[name] ?? TraceSummary.Operator(name: name, count: 0, total: 0, maximum: 0)
            count("operator \(name): count", x.count, y.count)
            time("operator \(name): total time", x.total, y.total)
        }
        let busyA = Dictionary(a.tracks.map { ("\($0.track.name) (node \($0.track.node))", $0.busy) }, uniquingKeysWith: +)
        let busyB = Dictionary(b.tracks.map { ("\($0.track.name) (node \($0.track.node))", $0.busy) }, uniquingKeysWith: +)
        for track in Set(busyA.keys).union(busyB.keys).sorted() {
            if busyA[track] == nil || busyB[track] == nil {
                changes.append(Change(subject: "track \(track)", before: busyA[track] == nil ? "absent" : "present",
                                      after: busyB[track] == nil ? "absent" : "present"))
            } else {
                time("track \(track): busy time", busyA[track]!, busyB[track]!)
            }
        }
        self.changes = changes
    }

    static func kindCounts(_ events: [TraceEvent]) -> [String: Int] {
        var counts: [String: Int] = [:]
        for event in events {
            let kind: String
            switch event.kind {
            case .spanBegin: kind = "spanBegin"
            case .spanEnd: kind = "spanEnd"
            case .complete: kind = "complete"
            case .instant: kind = "instant"
            case .counter: kind = "counter"
            case .flow(_, let step): kind = "flow " + ChromeTraceWriter.stepName(step)
            case .kernel: kind = "kernel"
            case .transfer: kind = "transfer"
            case .storage: kind = "storage"
            }
            counts[kind, default: 0] += 1
        }
        return counts
    }

    /// Every operator, not only the slowest few.
    static func operators(_ events: [TraceEvent]) -> [String: TraceSummary.Operator] {
        var result: [String: TraceSummary.Operator] = [:]
        for slice in TraceIndex(events).slices where slice.end > slice.start {
            var entry = result[slice.name] ?? TraceSummary.Operator(name: slice.name, count: 0, total: 0, maximum: 0)
            entry.count += 1
            entry.total += slice.duration
            entry.maximum = max(entry.maximum, slice.duration)
            result[slice.name] = entry
        }
        return result
    }

    /// The diff as text, as `deepseek trace diff` prints it.
    public var text: String {
        if changes.isEmpty { return "No differences.\n" }
        return "\(changes.count) differences:\n" + changes.map { "  \($0)" }.joined(separator: "\n") + "\n"
    }
}

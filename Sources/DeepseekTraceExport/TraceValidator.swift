/// Checks a Chrome JSON trace for exactly the problems Perfetto UI and chrome://tracing report
/// on import, plus causality:
///
/// - `unmatchedEnd`: an `E` with no open `B` on its thread; `unmatchedBegin`: a `B` never closed.
/// - `misnestedSlice`: two slices on one thread that overlap without one containing the other.
/// - `flowWithoutSlice`: an `s`/`t`/`f` event with no slice on its thread to bind to (the
///   enclosing slice, or for an `f` without `"bp":"e"` the next one).
/// - `flowStepWithoutStart`: a `t`/`f` with no earlier `s` of the same category, name and id;
///   `duplicateFlowStart`: an `s` for a flow that is already open.
/// - `backwardFlow`: a message step (Deepseek's `args.ds.step`) earlier in time than the step
///   before it — an arrow pointing backwards.
///
/// Events are examined in timestamp order (file order among equal timestamps), as viewers do.
public struct TraceValidation: Sendable {
    /// One problem found in the trace.
    public struct Issue: Sendable, Hashable, CustomStringConvertible {
        /// What is wrong; compare against the static members.
        public struct Kind: Hashable, Sendable, CustomStringConvertible {
            let name: String
            private init(_ name: String) { self.name = name }
            public var description: String { name }
            public static let unmatchedBegin = Kind("unmatchedBegin")
            public static let unmatchedEnd = Kind("unmatchedEnd")
            public static let misnestedSlice = Kind("misnestedSlice")
            public static let flowWithoutSlice = Kind("flowWithoutSlice")
            public static let flowStepWithoutStart = Kind("flowStepWithoutStart")
            public static let duplicateFlowStart = Kind("duplicateFlowStart")
            public static let backwardFlow = Kind("backwardFlow")
        }

        /// What is wrong.
        public var kind: Kind
        /// Which event and why.
        public var message: String
        /// Where the offending event starts in the file.
        public var byteOffset: Int

        public var description: String { "\(kind) at byte \(byteOffset): \(message)" }
    }

    /// The first issues found (at most `issueLimit`), in the order checked.
    public var issues: [Issue] = []
    /// How many issues of each kind were found, including those beyond the limit.
    public var counts: [Issue.Kind: Int] = [:]
    /// Events examined.
    public var eventCount = 0
    /// Issues kept in `issues`.
    public static let issueLimit = 200

    /// `true` when no issue was found.
    public var isValid: Bool { counts.isEmpty }

    mutating func report(_ kind: Issue.Kind, _ message: String, at offset: Int) {
        counts[kind, default: 0] += 1
        if issues.count < Self.issueLimit { issues.append(Issue(kind: kind, message: message, byteOffset: offset)) }
    }

    /// Validates the trace at `path`.
    ///
    /// - Throws: `TraceExportError.malformedTrace` when the file is not a readable trace at all.
    public static func validate(path: String) throws -> TraceValidation {
        try validate(JSONScanner(path: path))
    }

    /// Validates a trace held in memory.
    public static func validate(bytes: [UInt8], name: String = "trace") throws -> TraceValidation {
        try validate(JSONScanner(bytes: bytes, name: name))
    }

    static func validate(_ scanner: JSONScanner) throws -> TraceValidation {
        var checker = Checker()
        try scanner.forEachEvent { object, offset in
            let event = try RawEvent(object, offset: offset, scanner: scanner)
            checker.add(event)
        }
        return checker.finish()
    }
}

/// The bookkeeping behind `TraceValidation`.
private struct Checker {
    struct Thread: Hashable {
        var pid: UInt32
        var tid: UInt64
    }

    struct Mark {
        var timestamp: UInt64
        var index: Int
        var offset: Int
        var isBegin: Bool
        var name: String
    }

    struct Interval {
        var start: UInt64
        var end: UInt64
        var index: Int
        var offset: Int
        var name: String
    }

    struct Flow {
        var timestamp: UInt64
        var index: Int
        var offset: Int
        var phase: String
        var key: String
        var thread: Thread
        var bindsEnclosing: Bool
    }

    struct Step {
        var timestamp: UInt64
        var rank: Int
        var offset: Int
        var name: String
    }

    var result = TraceValidation()
    var marks: [Thread: [Mark]] = [:]
    var intervals: [Thread: [Interval]] = [:]
    var flows: [Flow] = []
    var steps: [String: [Step]] = [:]
    var index = 0

    mutating func add(_ event: RawEvent) {
        result.eventCount += 1
        index += 1
        let thread = Thread(pid: event.pid, tid: event.tid)
        switch event.phase {
        case "B", "E":
            marks[thread, default: []].append(
                Mark(timestamp: event.timestamp, index: index, offset: event.offset, isBegin: event.phase == "B", name: event.name))
        case "X":
            intervals[thread, default: []].append(
                Interval(
                    start: event.timestamp, end: event.timestamp + (event.duration ?? 0), index: index,
                    offset: event.offset, name: event.name))
        case "s", "t", "f":
            let id = event.object["id"]?.string ?? event.object["id"]?.numberText ?? event.object["bind_id"]?.string ?? "?"
            let bindsEnclosing = event.phase != "f" || event.object["bp"]?.string == "e"
            flows.append(
                Flow(
                    timestamp: event.timestamp, index: index, offset: event.offset, phase: event.phase,
                    key: "\(event.category)\u{0}\(event.name)\u{0}\(id)", thread: thread, bindsEnclosing: bindsEnclosing))
        default: break
        }
        if let ds = event.ds, let flow = ds["flow"]?.string, let step = ds["step"]?.string {
            let rank = ["send": 0, "receive": 1, "handlerBegin": 2, "handlerEnd": 3][step] ?? 0
            steps[flow, default: []].append(Step(timestamp: event.timestamp, rank: rank, offset: event.offset, name: event.name))
        }
    }

    mutating func finish() -> TraceValidation {
        for thread in marks.keys.sorted(by: { ($0.pid, $0.tid) < ($1.pid, $1.tid) }) {
            var stack: [Mark] = []
            for mark in marks[thread]!.sorted(by: { ($0.timestamp, $0.index) < ($1.timestamp, $1.index) }) {
                if mark.isBegin {
                    stack.append(mark)
                } else if let begin = stack.popLast() {
                    intervals[thread, default: []].append(
                        Interval(start: begin.timestamp, end: mark.timestamp, index: begin.index, offset: begin.offset, name: begin.name))
                } else {
                    result.report(.unmatchedEnd, "'E' (\(mark.name)) on pid \(thread.pid) tid \(thread.tid) closes no open 'B'", at: mark.offset)
                }
            }
            for begin in stack {
                result.report(.unmatchedBegin, "'B' \"\(begin.name)\" on pid \(thread.pid) tid \(thread.tid) is never closed", at: begin.offset)
            }
        }
        var sortedIntervals: [Thread: (list: [Interval], maxEnd: [UInt64])] = [:]
        for (thread, list) in intervals {
            let sorted = list.sorted { ($0.start, UInt64.max - $0.end, $0.index) < ($1.start, UInt64.max - $1.end, $1.index) }
            var stack: [Interval] = []
            for interval in sorted {
                while let top = stack.last, top.end <= interval.start, !(top.end == interval.start && interval.end == interval.start) {
                    stack.removeLast()
                }
                if let top = stack.last, interval.end > top.end {
                    result.report(
                        .misnestedSlice,
                        "\"\(interval.name)\" overlaps \"\(top.name)\" on pid \(thread.pid) tid \(thread.tid) without nesting in it",
                        at: interval.offset)
                }
                stack.append(interval)
            }
            var maxEnd: [UInt64] = []
            var running: UInt64 = 0
            for interval in sorted {
                running = max(running, interval.end)
                maxEnd.append(running)
            }
            sortedIntervals[thread] = (sorted, maxEnd)
        }
        var open = Set<String>()
        for flow in flows.sorted(by: { ($0.timestamp, $0.index) < ($1.timestamp, $1.index) }) {
            let slices = sortedIntervals[flow.thread]
            let bound: Bool
            if flow.bindsEnclosing {
                // The last slice starting at or before the flow event, and any earlier one still open.
                var low = 0
                var high = slices?.list.count ?? 0
                while low < high {
                    let mid = (low + high) / 2
                    if slices!.list[mid].start <= flow.timestamp { low = mid + 1 } else { high = mid }
                }
                bound = low > 0 && slices!.maxEnd[low - 1] >= flow.timestamp
            } else {
                bound = slices?.list.contains { $0.start >= flow.timestamp } ?? false
            }
            if !bound {
                result.report(
                    .flowWithoutSlice,
                    "'\(flow.phase)' on pid \(flow.thread.pid) tid \(flow.thread.tid) has no slice to bind to", at: flow.offset)
            }
            switch flow.phase {
            case "s":
                if !open.insert(flow.key).inserted {
                    result.report(.duplicateFlowStart, "'s' starts a flow that is already open", at: flow.offset)
                }
            default:
                if !open.contains(flow.key) {
                    result.report(.flowStepWithoutStart, "'\(flow.phase)' has no earlier 's' with the same id", at: flow.offset)
                }
                if flow.phase == "f" { open.remove(flow.key) }
            }
        }
        for (flow, list) in steps.sorted(by: { $0.key < $1.key }) {
            let ordered = list.sorted { $0.rank < $1.rank }
            for (earlier, later) in zip(ordered, ordered.dropFirst()) where later.timestamp < earlier.timestamp {
                result.report(
                    .backwardFlow,
                    "flow \(flow): \"\(later.name)\" at \(later.timestamp) ns comes before the earlier step \"\(earlier.name)\" at \(earlier.timestamp) ns",
                    at: later.offset)
            }
        }
        return result
    }
}

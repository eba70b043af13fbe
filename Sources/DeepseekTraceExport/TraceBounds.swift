import DeepseekCore
public import DeepseekTracing

/// Ways to keep a trace small enough for a browser, none of which breaks a begin/end pair or a
/// message flow.
///
/// - `keepLast`: only the last N nanoseconds of the run; a span that ends inside the window is
///   kept whole, and a message with any step inside the window keeps all its steps.
/// - `sampleOneIn`: one in k units, chosen deterministically: a message (all its steps and its
///   handler), a span (begin and end together), or an event of the same track and name
///   (every k-th).
/// - `aggregateRepeats`: consecutive identical events on one track (same name, category, kind
///   and arguments) become one event with a `count` argument, stretched over the run of them;
///   repeated counter samples with an unchanged value are dropped (a counter holds its value).
///
/// ```swift
/// let bounded = TraceBounds(keepLast: 5_000_000_000, sampleOneIn: 10).apply(to: events)
/// ```
public struct TraceBounds: Sendable, Hashable {
    /// Keep only events within this many nanoseconds of the end of the trace.
    public var keepLast: UInt64?
    /// Keep one unit in this many (1: keep everything).
    public var sampleOneIn: Int
    /// Merge runs of identical events.
    public var aggregateRepeats: Bool

    /// Creates bounds; the defaults keep everything.
    public init(keepLast: UInt64? = nil, sampleOneIn: Int = 1, aggregateRepeats: Bool = false) {
        precondition(sampleOneIn >= 1, "TraceBounds.sampleOneIn must be at least 1, got \(sampleOneIn)")
        self.keepLast = keepLast
        self.sampleOneIn = sampleOneIn
        self.aggregateRepeats = aggregateRepeats
    }

    /// Bounds that keep everything.
    public static let none = TraceBounds()

    /// The events that remain, in the same order.
    public func apply(to events: [TraceEvent]) -> [TraceEvent] {
        var result = events
        if let keepLast { result = Self.window(result, keepLast) }
        if sampleOneIn > 1 { result = Self.sample(result, sampleOneIn) }
        if aggregateRepeats { result = Self.aggregate(result) }
        return result
    }

    struct TrackKey: Hashable {
        var node: UInt32
        var thread: UInt64
        init(_ track: TraceTrack) {
            node = track.node
            thread = track.thread
        }
    }

    static func window(_ events: [TraceEvent], _ length: UInt64) -> [TraceEvent] {
        guard let end = events.map(\.end.nanoseconds).max() else { return events }
        let start = end > length ? end - length : 0
        var keep = events.map { $0.end.nanoseconds >= start }
        // Begin/end pairs: keep both when the end is kept (the span reaches into the window).
        var stacks: [TrackKey: [Int]] = [:]
        for (position, event) in events.enumerated() {
            switch event.kind {
            case .spanBegin, .flow(_, .handlerBegin): stacks[TrackKey(event.track), default: []].append(position)
            case .spanEnd, .flow(_, .handlerEnd):
                if let begin = stacks[TrackKey(event.track)]?.popLast() {
                    keep[begin] = keep[position]
                } else {
                    keep[position] = false
                }
            default: break
            }
        }
        for stack in stacks.values { for begin in stack { keep[begin] = true } }  // still open at the end
        // Flows: all steps of a message with any kept step.
        var keptFlows = Set<FlowID>()
        for (position, event) in events.enumerated() where keep[position] {
            if case .flow(let id, _) = event.kind { keptFlows.insert(id) }
        }
        for (position, event) in events.enumerated() where !keep[position] {
            if case .flow(let id, _) = event.kind, keptFlows.contains(id) { keep[position] = true }
        }
        return Self.balanced(events, keep)
    }

    static func sample(_ events: [TraceEvent], _ k: Int) -> [TraceEvent] {
        var keep = [Bool](repeating: false, count: events.count)
        var sequence: [String: Int] = [:]
        var stacks: [TrackKey: [Bool]] = [:]
        for (position, event) in events.enumerated() {
            let key = TrackKey(event.track)
            switch event.kind {
            case .flow(let id, _):
                // A message is kept or dropped as a whole; mixing the bits spreads sequential IDs.
                var bits = id.rawValue &* 0x9E37_79B9_7F4A_7C15
                bits ^= bits >> 29
                keep[position] = bits % UInt64(k) == 0
            case .spanBegin:
                let name = "\(key.node)/\(key.thread)/\(event.name)"
                let count = sequence[name, default: 0]
                sequence[name] = count + 1
                keep[position] = count % k == 0
                stacks[key, default: []].append(keep[position])
            case .spanEnd:
                keep[position] = stacks[key]?.popLast() ?? false
            default:
                let name = "\(key.node)/\(key.thread)/\(event.name)"
                let count = sequence[name, default: 0]
                sequence[name] = count + 1
                keep[position] = count % k == 0
            }
        }
        return Self.balanced(events, keep)
    }

    /// Drops handler ends whose begin was dropped (and the reverse), so every kept span closes.
    static func balanced(_ events: [TraceEvent], _ keep: [Bool]) -> [TraceEvent] {
        var keep = keep
        var stacks: [TrackKey: [Int]] = [:]
        for (position, event) in events.enumerated() where keep[position] {
            switch event.kind {
            case .spanBegin, .flow(_, .handlerBegin): stacks[TrackKey(event.track), default: []].append(position)
            case .spanEnd, .flow(_, .handlerEnd):
                if stacks[TrackKey(event.track)]?.popLast() == nil { keep[position] = false }
            default: break
            }
        }
        return zip(events, keep).compactMap { $1 ? $0 : nil }
    }

    static func aggregate(_ events: [TraceEvent]) -> [TraceEvent] {
        var output: [TraceEvent?] = []
        output.reserveCapacity(events.count)
        // Per track: the position in `output` of the pending run and how many events it holds.
        var runs: [TrackKey: (position: Int, count: Int, end: UInt64)] = [:]
        var lastCounter: [String: Double] = [:]
        for event in events {
            let key = TrackKey(event.track)
            switch event.kind {
            case .counter(let value):
                let name = "\(key.node)/\(key.thread)/\(event.name)"
                if lastCounter[name] == value { continue }
                lastCounter[name] = value
                output.append(event)
                continue
            case .instant, .complete, .kernel, .storage:
                if let run = runs[key], let pending = output[run.position], Self.repeats(pending, event) {
                    runs[key] = (run.position, run.count + 1, max(run.end, event.end.nanoseconds))
                    continue
                }
                if let run = runs[key] { output[run.position] = Self.closed(output[run.position]!, run) }
                runs[key] = (output.count, 1, event.end.nanoseconds)
                output.append(event)
            default:
                if let run = runs.removeValue(forKey: key) { output[run.position] = Self.closed(output[run.position]!, run) }
                output.append(event)
            }
        }
        for run in runs.values { output[run.position] = Self.closed(output[run.position]!, run) }
        return output.compactMap { $0 }
    }

    static func repeats(_ a: TraceEvent, _ b: TraceEvent) -> Bool {
        guard a.name == b.name, a.category == b.category, a.arguments == b.arguments, !a.arguments.isFull else { return false }
        switch (a.kind, b.kind) {
        case (.instant, .instant), (.complete, .complete): return true
        case (.kernel(let x), .kernel(let y)): return x.flops == y.flops && x.bytes == y.bytes
        case (.storage(let x), .storage(let y)): return x.direction == y.direction && x.bytes == y.bytes
        default: return false
        }
    }

    /// The first event of a run, stretched to the run's end and marked with its count.
    static func closed(_ first: TraceEvent, _ run: (position: Int, count: Int, end: UInt64)) -> TraceEvent {
        guard run.count > 1 else { return first }
        var event = first
        let duration = run.end - first.timestamp.nanoseconds
        switch event.kind {
        case .complete: event.kind = .complete(duration: duration)
        case .kernel(var kernel):
            kernel.duration = duration
            event.kind = .kernel(kernel)
        case .storage(var access):
            access.duration = duration
            event.kind = .storage(access)
        default: break
        }
        event.arguments.append("count", .int(Int64(run.count)))
        return event
    }
}

import DeepseekCore
public import DeepseekTracing

/// The structure the analyses share, built once from a list of events: tracks, slices (spans,
/// handler executions, kernels, transfers, storage accesses) and messages (the steps of each
/// flow).
///
/// The event contract the analyses rely on (what the runtime records):
/// - a message is one `FlowID`; `.send` on the sender's track, `.receive` and
///   `.handlerBegin`/`.handlerEnd` on the receiver's track (track = actor);
/// - `.send` may carry a `"to"` argument naming the receiver's track, so a message that was
///   never received still has a known destination;
/// - spans (`spanBegin`/`spanEnd`, `handlerBegin`/`handlerEnd`) nest on their track.
public struct TraceIndex: Sendable {
    /// One interval of activity on a track.
    public struct Slice: Sendable, Hashable {
        /// What kind of activity the slice is.
        public enum Kind: Sendable, Hashable {
            case span, complete, handler(FlowID), kernel, transfer, storage
        }

        /// Index into `tracks`.
        public var track: Int
        public var name: String
        public var category: String
        public var start: UInt64
        /// The end; for a slice that never ended, the end of the trace.
        public var end: UInt64
        public var kind: Kind
        /// Whether the slice never ended within the trace.
        public var isOpen: Bool
        /// Nesting depth on its track (0: top level).
        public var depth: Int

        public var duration: UInt64 { end - start }
    }

    /// One message: the steps recorded for one flow.
    public struct Message: Sendable, Hashable {
        public var id: FlowID
        public var name: String
        /// Track index and time of each step seen.
        public var send: (track: Int, time: UInt64)?
        public var receive: (track: Int, time: UInt64)?
        public var handlerBegin: (track: Int, time: UInt64)?
        public var handlerEnd: (track: Int, time: UInt64)?
        /// The receiver named by the send's `"to"` argument, if any.
        public var declaredReceiver: String?

        /// The track that received or handled the message, if any step says so.
        /// The track of the actor that handles the message: its handler's row when it started
        /// (a transport may record the receive on a row of its own), else the receive's row.
        public var receiver: Int? { handlerBegin?.track ?? handlerEnd?.track ?? receive?.track }

        public static func == (a: Message, b: Message) -> Bool { a.id == b.id }
        public func hash(into hasher: inout Hasher) { hasher.combine(id) }
    }

    /// Every track that has an event, in order of first appearance.
    public var tracks: [TraceTrack] = []
    /// Slices ordered by start (then longest first).
    public var slices: [Slice] = []
    /// Messages ordered by flow ID.
    public var messages: [Message] = []
    /// Counter samples.
    public var counters: [TraceEvent] = []
    /// The first timestamp in the trace.
    public var start: UInt64 = 0
    /// The last end time in the trace.
    public var end: UInt64 = 0
    /// Events the index was built from.
    public var eventCount = 0

    struct TrackKey: Hashable {
        var node: UInt32
        var thread: UInt64
    }

    /// Builds the index.
    public init(_ events: [TraceEvent]) {
        eventCount = events.count
        guard let first = events.first else { return }
        start = events.map(\.timestamp.nanoseconds).min() ?? first.timestamp.nanoseconds
        end = events.map(\.end.nanoseconds).max() ?? start
        var trackIndex: [TrackKey: Int] = [:]
        var open: [Int: [(name: String, category: String, start: UInt64, kind: Slice.Kind)]] = [:]
        var messages: [FlowID: Message] = [:]
        for event in events {
            let key = TrackKey(node: event.track.node, thread: event.track.thread)
            let track: Int
            if let known = trackIndex[key] {
                track = known
            } else {
                track = tracks.count
                trackIndex[key] = track
                tracks.append(event.track)
            }
            let time = event.timestamp.nanoseconds
            func add(_ kind: Slice.Kind, _ duration: UInt64) {
                slices.append(
                    Slice(track: track, name: event.name, category: event.category.name, start: time,
                          end: time + duration, kind: kind, isOpen: false, depth: 0))
            }
            switch event.kind {
            case .spanBegin: open[track, default: []].append((event.name, event.category.name, time, .span))
            case .spanEnd, .flow(_, .handlerEnd):
                if case .flow(let id, _) = event.kind {
                    var message = messages[id] ?? Message(id: id, name: event.name)
                    message.handlerEnd = (track, time)
                    messages[id] = message
                }
                if let begin = open[track]?.popLast() {
                    slices.append(
                        Slice(track: track, name: begin.name, category: begin.category, start: begin.start, end: time,
                              kind: begin.kind, isOpen: false, depth: 0))
                }
            case .complete(let duration): add(.complete, duration)
            case .kernel(let kernel): add(.kernel, kernel.duration)
            case .transfer(let transfer): add(.transfer, transfer.duration)
            case .storage(let access): add(.storage, access.duration)
            case .counter: counters.append(event)
            case .instant: break
            case .flow(let id, let step):
                var message = messages[id] ?? Message(id: id, name: event.name)
                switch step {
                case .send:
                    message.send = (track, time)
                    message.name = event.name
                    if case .string(let to)? = event.arguments["to"] { message.declaredReceiver = to }
                case .receive: message.receive = (track, time)
                case .handlerBegin:
                    message.handlerBegin = (track, time)
                    open[track, default: []].append((event.name, event.category.name, time, .handler(id)))
                case .handlerEnd: break  // handled with the span ends above
                }
                messages[id] = message
            }
        }
        for (track, stack) in open {
            for begin in stack {
                slices.append(
                    Slice(track: track, name: begin.name, category: begin.category, start: begin.start, end: end,
                          kind: begin.kind, isOpen: true, depth: 0))
            }
        }
        slices.sort { ($0.start, UInt64.max - $0.end, $0.track) < ($1.start, UInt64.max - $1.end, $1.track) }
        var stacks: [Int: [UInt64]] = [:]
        for index in slices.indices {
            let slice = slices[index]
            var stack = stacks[slice.track] ?? []
            while let top = stack.last, top <= slice.start, !(top == slice.start && slice.end == slice.start) { stack.removeLast() }
            slices[index].depth = stack.count
            stack.append(slice.end)
            stacks[slice.track] = stack
        }
        self.messages = messages.values.sorted { $0.id < $1.id }
    }

    /// A track's display name with its node: `"OperatorActor matmul#12 (node 0)"`.
    public func label(_ track: Int) -> String { "\(tracks[track].name) (node \(tracks[track].node))" }

    /// The track whose name is `name`, if exactly one matches.
    public func track(named name: String) -> Int? {
        let matches = tracks.indices.filter { tracks[$0].name == name }
        return matches.count == 1 ? matches[0] : nil
    }

    /// The total length of the union of `intervals`.
    static func unionLength(_ intervals: [(UInt64, UInt64)]) -> UInt64 {
        var total: UInt64 = 0
        var current: (UInt64, UInt64)?
        for interval in intervals.sorted(by: { $0.0 < $1.0 }) {
            if let open = current, interval.0 <= open.1 {
                current = (open.0, max(open.1, interval.1))
            } else {
                if let open = current { total += open.1 - open.0 }
                current = interval
            }
        }
        if let open = current { total += open.1 - open.0 }
        return total
    }
}

/// Formats nanoseconds for people: `950 ns`, `12.5 µs`, `3.20 ms`, `1.50 s`.
func formatDuration(_ nanoseconds: UInt64) -> String {
    let value = Double(nanoseconds)
    func fixed(_ x: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (x * scale).rounded() / scale
        var text = String(rounded)
        if let dot = text.firstIndex(of: ".") {
            let decimals = text.distance(from: dot, to: text.endIndex) - 1
            if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
        }
        return text
    }
    if nanoseconds < 1_000 { return "\(nanoseconds) ns" }
    if nanoseconds < 1_000_000 { return fixed(value / 1e3, 1) + " µs" }
    if nanoseconds < 1_000_000_000 { return fixed(value / 1e6, 2) + " ms" }
    return fixed(value / 1e9, 2) + " s"
}

import DeepseekCore
public import DeepseekTracing

/// Streams trace events in Perfetto's native protobuf format (`Trace` of `TracePacket`s with
/// `TrackDescriptor`s and `TrackEvent`s), several times smaller than JSON and the better choice
/// for large traces.
///
/// One sequence carries everything: a process track per node, a thread track per actor track,
/// a counter track per counter name and track. Event names, categories and argument names are
/// interned (sent once, then referred to by number) up to `internLimit` distinct strings, after
/// which they are sent inline so memory stays bounded. Message steps are zero-length slices
/// with `flow_ids`; the handler slice carries `terminating_flow_ids`. Output is deterministic.
///
/// ```swift
/// let writer = try PerfettoTraceWriter(path: "run.perfetto-trace")
/// try writer.write(events)
/// try writer.finish()
/// ```
public final class PerfettoTraceWriter {
    /// Strings interned per kind before the writer falls back to inline strings.
    public static let internLimit = 1 << 16

    private enum Field {
        static let tracePacket = 1
        static let timestamp = 8, sequenceID = 10, trackEvent = 11, internedData = 12, sequenceFlags = 13
        static let trackDescriptor = 60
    }

    enum EventType: UInt64 {
        case sliceBegin = 1, sliceEnd = 2, instant = 3, counter = 4
    }

    struct TrackKey: Hashable {
        var node: UInt32
        var thread: UInt64
    }

    private let output: TraceOutput
    private var processTracks: [UInt32: UInt64] = [:]
    private var threadTracks: [TrackKey: UInt64] = [:]
    private var counterTracks: [String: UInt64] = [:]
    private var nextUUID: UInt64 = 1
    private var names: [String: UInt64] = [:]
    private var categories: [String: UInt64] = [:]
    private var annotationNames: [String: UInt64] = [:]
    private var openSpans: [TrackKey: Int] = [:]
    private var startedFlows = Set<UInt64>()
    private var lastTimestamp: UInt64 = 0
    private var firstPacket = true
    private var isFinished = false
    /// `spanEnd`/`handlerEnd` events with no open span on their track, left out.
    public private(set) var unmatchedEndsDropped = 0
    /// Events passed to `write`.
    public private(set) var eventCount = 0

    /// Creates the file at `path`.
    public convenience init(path: String) throws {
        try self.init(output: TraceOutput(path: path))
    }

    /// Writes to `output`.
    public init(output: TraceOutput) throws {
        self.output = output
    }

    /// Renders `events` to a complete protobuf trace in memory.
    public static func render(_ events: some Sequence<TraceEvent>) throws -> [UInt8] {
        let output = TraceOutput()
        let writer = try PerfettoTraceWriter(output: output)
        try writer.write(events)
        try writer.finish()
        return output.bytes
    }

    /// Writes events in order.
    public func write(_ events: some Sequence<TraceEvent>) throws {
        for event in events { try write(event) }
    }

    /// Writes one event.
    public func write(_ event: TraceEvent) throws {
        guard !isFinished else { throw TraceExportError(.finished, "PerfettoTraceWriter.write called after finish()") }
        eventCount += 1
        let key = TrackKey(node: event.track.node, thread: event.track.thread)
        let track = try threadTrack(event.track, key)
        let time = event.timestamp.nanoseconds
        lastTimestamp = max(lastTimestamp, event.end.nanoseconds)
        var annotations: [(String, TraceValue)] = event.arguments.map { ($0.key, $0.value) }
        switch event.kind {
        case .spanBegin:
            openSpans[key, default: 0] += 1
            try trackEvent(.sliceBegin, time, track, event, annotations)
        case .spanEnd, .flow(_, .handlerEnd):
            guard openSpans[key, default: 0] > 0 else {
                unmatchedEndsDropped += 1
                return
            }
            openSpans[key]! -= 1
            try trackEvent(.sliceEnd, time, track, event, [])
        case .complete(let duration):
            try slice(time, duration, track, event, annotations)
        case .kernel(let kernel):
            annotations += [("flops", .int(kernel.flops)), ("bytes", .int(kernel.bytes))]
            try slice(time, kernel.duration, track, event, annotations)
        case .transfer(let transfer):
            annotations += [("bytes", .int(transfer.bytes)), ("src", .int(Int64(transfer.source))),
                            ("dst", .int(Int64(transfer.destination)))]
            try slice(time, transfer.duration, track, event, annotations)
        case .storage(let access):
            annotations += [("bytes", .int(access.bytes)), ("direction", .string(access.direction == .read ? "read" : "write"))]
            try slice(time, access.duration, track, event, annotations)
        case .instant:
            try trackEvent(.instant, time, track, event, annotations)
        case .counter(let value):
            let counter = try counterTrack(event, key)
            try packet(time) { packet in
                packet.message(Field.trackEvent) { trackEvent in
                    trackEvent.uint(9, EventType.counter.rawValue)
                    trackEvent.uint(11, counter)
                    trackEvent.double(44, value)
                }
            }
        case .flow(let id, let step):
            annotations.insert(("flow", .string(ChromeTraceWriter.hex(id.rawValue))), at: 0)
            if step == .handlerBegin {
                openSpans[key, default: 0] += 1
                let terminating = startedFlows.remove(id.rawValue) != nil ? [id.rawValue] : []
                try trackEvent(.sliceBegin, time, track, event, annotations, terminatingFlows: terminating)
            } else {
                startedFlows.insert(id.rawValue)
                try trackEvent(.instant, time, track, event, annotations, flows: [id.rawValue])
            }
        }
    }

    /// Closes spans still open at the last timestamp, flushes and closes the output.
    public func finish() throws {
        guard !isFinished else { return }
        for key in openSpans.keys.sorted(by: { ($0.node, $0.thread) < ($1.node, $1.thread) }) {
            for _ in 0..<(openSpans[key] ?? 0) {
                let track = threadTracks[key]!
                try packet(lastTimestamp) { packet in
                    packet.message(Field.trackEvent) { trackEvent in
                        trackEvent.uint(9, EventType.sliceEnd.rawValue)
                        trackEvent.uint(11, track)
                    }
                }
            }
        }
        openSpans.removeAll()
        try output.close()
        isFinished = true
    }

    /// Bytes written so far.
    public var byteCount: Int { output.totalBytes }

    private func slice(_ time: UInt64, _ duration: UInt64, _ track: UInt64, _ event: TraceEvent, _ annotations: [(String, TraceValue)]) throws {
        try trackEvent(.sliceBegin, time, track, event, annotations)
        try trackEvent(.sliceEnd, time + duration, track, event, [])
    }

    private func trackEvent(
        _ type: EventType, _ time: UInt64, _ track: UInt64, _ event: TraceEvent, _ annotations: [(String, TraceValue)],
        flows: [UInt64] = [], terminatingFlows: [UInt64] = []
    ) throws {
        var interned = ProtoWriter()
        let name = type == .sliceEnd ? nil : intern(event.name, in: &names, field: 2, into: &interned)
        let category = type == .sliceEnd ? nil : intern(event.category.name, in: &categories, field: 1, into: &interned)
        let keys = annotations.map { intern($0.0, in: &annotationNames, field: 3, into: &interned) }
        try packet(time, interned: interned.bytes) { packet in
            packet.message(Field.trackEvent) { trackEvent in
                if let category {
                    if let iid = category.iid { trackEvent.uint(3, iid) } else { trackEvent.string(22, event.category.name) }
                }
                for (index, annotation) in annotations.enumerated() {
                    trackEvent.message(4) { debug in
                        if let iid = keys[index].iid { debug.uint(1, iid) } else { debug.string(10, annotation.0) }
                        switch annotation.1 {
                        case .int(let value): debug.int(4, value)
                        case .double(let value): debug.double(5, value)
                        case .string(let value): debug.string(6, value)
                        }
                    }
                }
                trackEvent.uint(9, type.rawValue)
                if let name {
                    if let iid = name.iid { trackEvent.uint(10, iid) } else { trackEvent.string(23, event.name) }
                }
                trackEvent.uint(11, track)
                for flow in flows { trackEvent.fixed64(47, flow) }
                for flow in terminatingFlows { trackEvent.fixed64(48, flow) }
            }
        }
    }

    /// The interning id of `text`, adding it to `interned` when new; `nil` iid once the table is full.
    private func intern(_ text: String, in table: inout [String: UInt64], field: Int, into interned: inout ProtoWriter) -> (iid: UInt64?, Void) {
        if let iid = table[text] { return (iid, ()) }
        guard table.count < Self.internLimit else { return (nil, ()) }
        let iid = UInt64(table.count + 1)
        table[text] = iid
        interned.message(field) { entry in
            entry.uint(1, iid)
            entry.string(2, text)
        }
        return (iid, ())
    }

    private func packet(_ time: UInt64?, interned: [UInt8] = [], _ body: (inout ProtoWriter) -> Void) throws {
        var packet = ProtoWriter()
        if let time { packet.uint(Field.timestamp, time) }
        packet.uint(Field.sequenceID, 1)
        // The first packet clears the sequence's interning state; every later one depends on it.
        packet.uint(Field.sequenceFlags, firstPacket ? 3 : 2)
        firstPacket = false
        if !interned.isEmpty {
            packet.tag(Field.internedData, .lengthDelimited)
            packet.varint(UInt64(interned.count))
            packet.bytes.append(contentsOf: interned)
        }
        body(&packet)
        var framed = ProtoWriter()
        framed.tag(Field.tracePacket, .lengthDelimited)
        framed.varint(UInt64(packet.bytes.count))
        try output.append(framed.bytes)
        try output.append(packet.bytes)
    }

    /// Process and thread ids are shifted by one: Perfetto reserves pid 0 and tid 0 for the
    /// kernel's idle task, and node 0 / thread 0 are common here.
    static func pid(_ node: UInt32) -> Int64 { Int64(Int32(truncatingIfNeeded: node &+ 1)) }

    private func processTrack(_ node: UInt32) throws -> UInt64 {
        if let uuid = processTracks[node] { return uuid }
        let uuid = nextUUID
        nextUUID += 1
        processTracks[node] = uuid
        try packet(nil) { packet in
            packet.message(Field.trackDescriptor) { descriptor in
                descriptor.uint(1, uuid)
                descriptor.message(3) { process in
                    process.int(1, Self.pid(node))
                    process.string(6, "node \(node)")
                }
            }
        }
        return uuid
    }

    private func threadTrack(_ track: TraceTrack, _ key: TrackKey) throws -> UInt64 {
        if let uuid = threadTracks[key] { return uuid }
        let parent = try processTrack(track.node)
        let uuid = nextUUID
        nextUUID += 1
        threadTracks[key] = uuid
        try packet(nil) { packet in
            packet.message(Field.trackDescriptor) { descriptor in
                descriptor.uint(1, uuid)
                descriptor.uint(5, parent)
                if track.thread < UInt64(Int32.max) {
                    descriptor.message(4) { thread in
                        thread.int(1, Self.pid(track.node))
                        thread.int(2, Int64(track.thread) + 1)
                        thread.string(5, track.name)
                    }
                } else {
                    descriptor.string(2, track.name)
                }
            }
        }
        return uuid
    }

    private func counterTrack(_ event: TraceEvent, _ key: TrackKey) throws -> UInt64 {
        let name = "\(key.node)/\(key.thread)/\(event.name)"
        if let uuid = counterTracks[name] { return uuid }
        let parent = try processTrack(event.track.node)
        let uuid = nextUUID
        nextUUID += 1
        counterTracks[name] = uuid
        let label = event.track.thread == 0 ? event.name : "\(event.track.name) \(event.name)"
        try packet(nil) { packet in
            packet.message(Field.trackDescriptor) { descriptor in
                descriptor.uint(1, uuid)
                descriptor.uint(5, parent)
                descriptor.string(2, label)
                descriptor.message(8) { _ in }
            }
        }
        return uuid
    }
}

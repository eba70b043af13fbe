import DeepseekCore
public import DeepseekTracing

/// Streams trace events to a file in the Chrome Trace Event format (JSON object form), which
/// Perfetto UI and chrome://tracing both open.
///
/// Layout: a process per node (`pid` = node, named by `M` metadata events), a thread per track
/// (`tid` = the track's thread, named by the track name, e.g. `"OperatorActor matmul#12"`).
/// Spans become `B`/`E`, complete spans, kernels, transfers and storage accesses `X`, instants
/// `i`, counters `C`. Each message flow step becomes a zero-length slice carrying the flow ID
/// (`args.ds`) plus a flow event bound to it — `s` at the first step seen, `t` for later steps,
/// `f` with `"bp":"e"` at the handler slice (`handlerBegin` opens a `B` slice that
/// `handlerEnd` closes) — so every arrow starts and ends on a slice.
///
/// Memory stays constant over the run: events are rendered into a fixed buffer and flushed; the
/// writer keeps only the open spans per track, the flows that have not reached a handler, and
/// the events of the current timestamp (reordered so enclosing slices come before the slices
/// they enclose). Output is deterministic: equal event sequences give byte-identical files.
/// Timestamps are microseconds with exact nanosecond fractions.
///
/// Give it events ordered by timestamp, as `RingBufferRecorder.drain()` returns them.
///
/// ```swift
/// let writer = try ChromeTraceWriter(path: "run.json")
/// try writer.write(ring.drain())
/// try writer.finish()
/// ```
public final class ChromeTraceWriter {
    /// Options for a Chrome trace file.
    public struct Settings: Sendable {
        /// Names for the process rows; nodes not listed are called `"node N"`.
        public var processNames: [UInt32: String]
        /// Key/value pairs written to the file's `otherData` object (run id, seed, command line).
        public var metadata: [String: String]

        /// Creates settings.
        public init(processNames: [UInt32: String] = [:], metadata: [String: String] = [:]) {
            self.processNames = processNames
            self.metadata = metadata
        }
    }

    /// What the writer did with the events it was given.
    public struct Statistics: Sendable, Hashable {
        /// Events passed to `write`.
        public var events = 0
        /// `spanEnd`/`handlerEnd` events with no open span on their track, left out.
        public var unmatchedEndsDropped = 0
        /// Spans still open at `finish()`, closed at the last timestamp and marked `ds.open`.
        public var openSpansClosed = 0
        /// Bytes in the file.
        public var bytes = 0
    }

    struct TrackKey: Hashable, Comparable {
        var node: UInt32
        var thread: UInt64
        static func < (a: TrackKey, b: TrackKey) -> Bool { (a.node, a.thread) < (b.node, b.thread) }
    }

    struct OpenSpan {
        var name: String
        var category: String
    }

    let output: TraceOutput
    let settings: Settings
    /// What the writer did so far.
    public internal(set) var statistics = Statistics()
    private var seenProcesses = Set<UInt32>()
    private var seenTracks = Set<TrackKey>()
    var openSpans: [TrackKey: [OpenSpan]] = [:]
    var startedFlows = Set<UInt64>()
    private var batch: [TraceEvent] = []
    var lastTimestamp: UInt64 = 0
    private var wroteEvent = false
    private var isFinished = false

    /// Creates the file at `path` and writes the header.
    ///
    /// - Throws: `TraceExportError.io` when the file cannot be created.
    public convenience init(path: String, settings: Settings = Settings()) throws {
        try self.init(output: TraceOutput(path: path), settings: settings)
    }

    /// Writes to `output` (a file or memory).
    public init(output: TraceOutput, settings: Settings = Settings()) throws {
        self.output = output
        self.settings = settings
        try output.append("{\"traceEvents\":[\n")
    }

    /// Renders `events` to a complete trace file in memory.
    public static func render(_ events: some Sequence<TraceEvent>, settings: Settings = Settings()) throws -> [UInt8] {
        let output = TraceOutput()
        let writer = try ChromeTraceWriter(output: output, settings: settings)
        try writer.write(events)
        try writer.finish()
        return output.bytes
    }

    /// Writes one event.
    ///
    /// - Throws: `TraceExportError.io` when the file cannot be written, `.finished` after `finish()`.
    public func write(_ event: TraceEvent) throws {
        guard !isFinished else { throw TraceExportError(.finished, "ChromeTraceWriter.write called after finish()") }
        statistics.events += 1
        if let first = batch.first, first.timestamp != event.timestamp { try flushBatch() }
        batch.append(event)
    }

    /// Writes events in order.
    public func write(_ events: some Sequence<TraceEvent>) throws {
        for event in events { try write(event) }
    }

    /// Closes spans still open, ends the JSON document, flushes and closes the file.
    ///
    /// - Parameter metadata: extra `otherData` entries known only at the end (drop counts).
    public func finish(metadata: [String: String] = [:]) throws {
        guard !isFinished else { return }
        try flushBatch()
        for key in openSpans.keys.sorted() {
            for span in (openSpans[key] ?? []).reversed() {
                var out = beginRecord()
                JSONText.append("{\"ph\":\"E\"", to: &out)
                appendPlace(node: key.node, thread: key.thread, timestamp: lastTimestamp, to: &out)
                appendNameAndCategory(name: span.name, category: span.category, to: &out)
                JSONText.append(",\"args\":{\"ds\":{\"open\":true}}}", to: &out)
                try endRecord(out)
                statistics.openSpansClosed += 1
            }
        }
        openSpans.removeAll()
        var out: [UInt8] = []
        JSONText.append("\n],\"displayTimeUnit\":\"ns\",\"otherData\":{", to: &out)
        var entries = settings.metadata.merging(metadata) { _, new in new }
        entries["producer"] = entries["producer"] ?? "deepseek"
        for (index, key) in entries.keys.sorted().enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONText.appendString(key, to: &out)
            out.append(UInt8(ascii: ":"))
            JSONText.appendString(entries[key]!, to: &out)
        }
        JSONText.append("}}\n", to: &out)
        try output.append(out)
        try output.close()
        statistics.bytes = output.totalBytes
        isFinished = true
    }

    /// Writes the events of one timestamp: spans that open or close first (their order is kept),
    /// then complete slices longest first (so an enclosing slice precedes the slices it
    /// encloses), then zero-length markers, instants and counters.
    private func flushBatch() throws {
        guard !batch.isEmpty else { return }
        if batch.count > 1 {
            let ranked = batch.enumerated().map { (rank: Self.rank($0.element), index: $0.offset, event: $0.element) }
            batch = ranked.sorted { a, b in
                if a.rank.0 != b.rank.0 { return a.rank.0 < b.rank.0 }
                if a.rank.1 != b.rank.1 { return a.rank.1 > b.rank.1 }
                return a.index < b.index
            }.map(\.event)
        }
        for event in batch { try render(event) }
        batch.removeAll(keepingCapacity: true)
    }

    private static func rank(_ event: TraceEvent) -> (Int, UInt64) {
        switch event.kind {
        case .spanBegin, .spanEnd: (0, 0)
        case .flow(_, .handlerBegin), .flow(_, .handlerEnd): (0, 0)
        case .complete, .kernel, .transfer, .storage: (1, event.duration ?? 0)
        case .flow, .instant, .counter: (2, 0)
        }
    }

    // MARK: Record plumbing shared with the event renderers.

    func beginRecord() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        if wroteEvent { JSONText.append(",\n", to: &out) }
        wroteEvent = true
        return out
    }

    func endRecord(_ out: [UInt8]) throws {
        try output.append(out)
    }

    func appendPlace(node: UInt32, thread: UInt64, timestamp: UInt64, to out: inout [UInt8]) {
        JSONText.append(",\"pid\":", to: &out)
        JSONText.appendInteger(UInt64(node), to: &out)
        JSONText.append(",\"tid\":", to: &out)
        JSONText.appendInteger(thread, to: &out)
        JSONText.append(",\"ts\":", to: &out)
        JSONText.appendMicroseconds(timestamp, to: &out)
    }

    func appendNameAndCategory(name: String, category: String, to out: inout [UInt8]) {
        JSONText.append(",\"cat\":", to: &out)
        JSONText.appendString(category, to: &out)
        JSONText.append(",\"name\":", to: &out)
        JSONText.appendString(name, to: &out)
    }

    /// Emits the metadata events naming the node and the track the first time each appears.
    func announce(_ track: TraceTrack) throws {
        let key = TrackKey(node: track.node, thread: track.thread)
        guard !seenTracks.contains(key) else { return }
        seenTracks.insert(key)
        if seenProcesses.insert(track.node).inserted {
            let name = settings.processNames[track.node] ?? "node \(track.node)"
            try metadata("process_name", node: track.node, thread: 0, key: "name", string: name)
            try metadata("process_sort_index", node: track.node, thread: 0, key: "sort_index", integer: UInt64(track.node))
        }
        try metadata("thread_name", node: track.node, thread: track.thread, key: "name", string: track.name)
        try metadata("thread_sort_index", node: track.node, thread: track.thread, key: "sort_index", integer: track.thread)
    }

    private func metadata(
        _ name: StaticString, node: UInt32, thread: UInt64, key: StaticString, string: String? = nil,
        integer: UInt64? = nil
    ) throws {
        var out = beginRecord()
        JSONText.append("{\"ph\":\"M\",\"pid\":", to: &out)
        JSONText.appendInteger(UInt64(node), to: &out)
        JSONText.append(",\"tid\":", to: &out)
        JSONText.appendInteger(thread, to: &out)
        JSONText.append(",\"name\":\"", to: &out)
        JSONText.append(name, to: &out)
        JSONText.append("\",\"args\":{\"", to: &out)
        JSONText.append(key, to: &out)
        JSONText.append("\":", to: &out)
        if let string { JSONText.appendString(string, to: &out) }
        if let integer { JSONText.appendInteger(integer, to: &out) }
        JSONText.append("}}", to: &out)
        try endRecord(out)
    }
}

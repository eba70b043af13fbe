import DeepseekCore
public import DeepseekTracing

/// A trace read back from a file: its events (ordered by timestamp) and the names and
/// metadata the file carried.
public struct TraceDocument: Sendable {
    /// The events, ordered by timestamp; events with equal timestamps keep their file order.
    public var events: [TraceEvent]
    /// Names of the process rows (nodes) from `process_name` metadata.
    public var processNames: [UInt32: String]
    /// The file's `otherData` entries with string values.
    public var metadata: [String: String]
    /// Events of phases this model does not represent (async, object, sample events), left out.
    public var skippedEvents: Int

    /// Creates a document.
    public init(
        events: [TraceEvent], processNames: [UInt32: String] = [:], metadata: [String: String] = [:],
        skippedEvents: Int = 0
    ) {
        self.events = events
        self.processNames = processNames
        self.metadata = metadata
        self.skippedEvents = skippedEvents
    }
}

/// Reads Chrome Trace Event JSON — the files `ChromeTraceWriter` writes, and other producers'
/// files in the array or object form — back into `TraceEvent`s, streaming the file in chunks.
///
/// What Deepseek's writer stored under `args.ds` (flow IDs and steps, kernel, transfer and
/// storage fields) is turned back into the original event kinds; the `s`/`t`/`f` arrows it added
/// are dropped because the flow slices carry the same information. Spans the writer closed at
/// the end of the run (`ds.open`) are left open again, so an analysis sees that they never ended.
///
/// A malformed or truncated file throws `TraceExportError.malformedTrace` with the byte offset,
/// line and column, and what was expected there.
public enum TraceReader {
    /// Reads the trace at `path`.
    public static func read(path: String) throws -> TraceDocument {
        try read(JSONScanner(path: path))
    }

    /// Reads a trace held in memory; `name` appears in error messages.
    public static func read(bytes: [UInt8], name: String = "trace") throws -> TraceDocument {
        try read(JSONScanner(bytes: bytes, name: name))
    }

    struct Key: Hashable {
        var node: UInt32
        var thread: UInt64
    }

    static func read(_ scanner: JSONScanner) throws -> TraceDocument {
        var stamped: [(event: TraceEvent, index: Int)] = []
        var threadNames: [Key: String] = [:]
        var processNames: [UInt32: String] = [:]
        var metadata: [String: String] = [:]
        var skipped = 0
        try scanner.forEachEvent(member: { key, value in
            if key == "otherData", let object = value.object {
                for member in object.members { if let text = member.value.string { metadata[member.key] = text } }
            }
        }) { object, offset in
            let event = try RawEvent(object, offset: offset, scanner: scanner)
            switch event.phase {
            case "M":
                let name = event.args?["name"]?.string
                if event.name == "thread_name", let name { threadNames[Key(node: event.pid, thread: event.tid)] = name }
                if event.name == "process_name", let name { processNames[event.pid] = name }
            default:
                var converted: [TraceEvent] = []
                if try event.convert(into: &converted, scanner: scanner) == false { skipped += 1 }
                for item in converted { stamped.append((item, stamped.count)) }
            }
        }
        stamped.sort { a, b in
            a.event.timestamp != b.event.timestamp ? a.event.timestamp < b.event.timestamp : a.index < b.index
        }
        var events = stamped.map(\.event)
        for index in events.indices {
            let key = Key(node: events[index].track.node, thread: events[index].track.thread)
            if let name = threadNames[key] { events[index].track.name = name }
        }
        return TraceDocument(events: events, processNames: processNames, metadata: metadata, skippedEvents: skipped)
    }
}

/// The fields of one Chrome event that the reader and the validator look at.
struct RawEvent {
    var phase: String
    var pid: UInt32
    var tid: UInt64
    var timestamp: UInt64
    var duration: UInt64?
    var name: String
    var category: String
    var args: JSONObject?
    var object: JSONObject
    var offset: Int

    init(_ object: JSONObject, offset: Int, scanner: JSONScanner) throws {
        func fail(_ message: String) -> TraceExportError {
            scanner.failure("the event starting here \(message)", at: offset)
        }
        guard let phase = object["ph"]?.string else { throw fail("has no \"ph\" string") }
        self.phase = phase
        self.object = object
        self.offset = offset
        name = object["name"]?.string ?? ""
        category = object["cat"]?.string ?? ""
        args = object["args"]?.object
        func integer(_ key: String, required: Bool) throws -> UInt64 {
            guard let value = object[key] else {
                if required { throw fail("has no \"\(key)\"") }
                return 0
            }
            switch value {
            case .number(let text):
                guard let number = UInt64(text) else { throw fail("has \"\(key)\": \(text), not a non-negative integer") }
                return number
            case .string(let text):
                guard let number = UInt64(text) else { throw fail("has \"\(key)\": \"\(text)\", not a non-negative integer") }
                return number
            default: throw fail("has a \"\(key)\" that is not a number")
            }
        }
        let pid = try integer("pid", required: phase != "M")
        guard pid <= UInt64(UInt32.max) else { throw fail("has \"pid\" \(pid), above 2^32 - 1") }
        self.pid = UInt32(pid)
        tid = try integer("tid", required: false)
        if phase == "M" {
            timestamp = 0
        } else {
            guard let text = object["ts"]?.numberText else { throw fail("has no numeric \"ts\"") }
            guard let ns = Self.nanoseconds(microseconds: text) else {
                throw fail("has \"ts\": \(text), not a non-negative number of microseconds")
            }
            timestamp = ns
        }
        if let value = object["dur"] {
            guard let text = value.numberText, let ns = Self.nanoseconds(microseconds: text) else {
                throw fail("has a \"dur\" that is not a non-negative number")
            }
            duration = ns
        }
        if phase == "X" && duration == nil { throw fail("is a complete ('X') event without \"dur\"") }
    }

    /// Exact conversion of a decimal microsecond count to nanoseconds: `1234.5678` → 1234567
    /// (digits below a nanosecond are cut off); exponents fall back to `Double`.
    static func nanoseconds(microseconds text: String) -> UInt64? {
        if text.hasPrefix("-") { return nil }
        if text.contains(where: { $0 == "e" || $0 == "E" }) {
            guard let value = Double(text), value >= 0, value < 1.8e16 else { return nil }
            return UInt64((value * 1000).rounded())
        }
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = UInt64(parts[0]) else { return nil }
        var fraction: UInt64 = 0
        if parts.count == 2 {
            var digits = Array(parts[1].prefix(3).utf8)
            while digits.count < 3 { digits.append(UInt8(ascii: "0")) }
            for digit in digits { fraction = fraction * 10 + UInt64(digit - UInt8(ascii: "0")) }
        }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: 1000)
        return overflow ? nil : scaled + fraction
    }

    var ds: JSONObject? { args?["ds"]?.object }

    var flowID: FlowID? {
        guard let text = ds?["flow"]?.string else { return nil }
        return Self.identifier(text).map(FlowID.init(rawValue:))
    }

    static func identifier(_ text: String) -> UInt64? {
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) }
        return UInt64(text)
    }

    func int(_ key: String) -> Int64 {
        guard let text = ds?[key]?.numberText else { return 0 }
        return Int64(text) ?? Int64(Double(text) ?? 0)
    }

    /// User arguments (everything but `ds`), at most four.
    var arguments: TraceArguments {
        var result = TraceArguments()
        for member in args?.members ?? [] where member.key != "ds" {
            switch member.value {
            case .number(let text):
                if let integer = Int64(text) {
                    result.append(member.key, .int(integer))
                } else {
                    result.append(member.key, .double(Double(text) ?? .nan))
                }
            case .string(let text): result.append(member.key, .string(text))
            case .bool(let flag): result.append(member.key, .int(flag ? 1 : 0))
            default: continue
            }
        }
        return result
    }

    /// Appends the `TraceEvent`s this Chrome event stands for; returns `false` for phases the
    /// model does not represent.
    func convert(into events: inout [TraceEvent], scanner: JSONScanner) throws -> Bool {
        let track = TraceTrack(node: pid, thread: tid, name: "thread \(tid)")
        let category = TraceCategory(category)
        func add(_ kind: TraceEventKind, arguments: TraceArguments? = nil) {
            events.append(
                TraceEvent(
                    timestamp: Instant(nanoseconds: timestamp), track: track, category: category, name: name,
                    kind: kind, arguments: arguments ?? self.arguments))
        }
        let step = ds?["step"]?.string.flatMap { text in FlowStep.allCases.first { ChromeTraceWriter.stepName($0) == text } }
        switch phase {
        case "B":
            if let flow = flowID, step == .handlerBegin { add(.flow(flow, .handlerBegin)) } else { add(.spanBegin) }
        case "E":
            if ds?["open"] == .bool(true) { return true }
            if let flow = flowID, step == .handlerEnd { add(.flow(flow, .handlerEnd)) } else { add(.spanEnd) }
        case "X":
            let duration = duration ?? 0
            if let flow = flowID, let step { add(.flow(flow, step)); return true }
            switch ds?["kind"]?.string {
            case "kernel": add(.kernel(TraceKernel(duration: duration, flops: int("flops"), bytes: int("bytes"))))
            case "transfer":
                let flow = ds?["flow"]?.string.flatMap(Self.identifier).map(FlowID.init(rawValue:))
                add(.transfer(TraceTransfer(
                    duration: duration, bytes: int("bytes"), source: UInt32(clamping: int("src")),
                    destination: UInt32(clamping: int("dst")), flow: flow)))
            case "storage.read": add(.storage(TraceStorageAccess(.read, duration: duration, bytes: int("bytes"))))
            case "storage.write": add(.storage(TraceStorageAccess(.write, duration: duration, bytes: int("bytes"))))
            default: add(.complete(duration: duration))
            }
        case "i", "I": add(.instant)
        case "C":
            let numeric = (args?.members ?? []).compactMap { member in
                member.value.numberText.flatMap(Double.init).map { (member.key, $0) }
            }
            for (key, value) in numeric {
                let series = numeric.count == 1 && key == "value" ? name : "\(name).\(key)"
                events.append(
                    TraceEvent(
                        timestamp: Instant(nanoseconds: timestamp), track: track, category: category, name: series,
                        kind: .counter(value: value)))
            }
        case "s", "t", "f":
            // Deepseek's own arrows duplicate its flow slices; other producers' arrows become flow steps.
            if category == "ds.flow" { return true }
            guard let idText = object["id"]?.string ?? object["id"]?.numberText, let id = Self.identifier(idText) else {
                throw scanner.failure("the flow event starting here has no usable \"id\"", at: offset)
            }
            let step: FlowStep = phase == "s" ? .send : (phase == "t" ? .receive : .handlerBegin)
            add(.flow(FlowID(rawValue: id), step), arguments: TraceArguments())
        default:
            return false
        }
        return true
    }
}

import DeepseekCore
import DeepseekTracing

/// The rendering of each event kind; the key order is fixed so output is byte-for-byte stable.
extension ChromeTraceWriter {
    /// Fields Deepseek adds under `args.ds` so the reader can rebuild the original event.
    struct Extra {
        var fields: [(String, TraceValue)] = []
        mutating func add(_ key: String, _ value: TraceValue) { fields.append((key, value)) }
    }

    func render(_ event: TraceEvent) throws {
        try announce(event.track)
        let key = TrackKey(node: event.track.node, thread: event.track.thread)
        lastTimestamp = max(lastTimestamp, event.end.nanoseconds)
        let category = event.category.name
        switch event.kind {
        case .spanBegin:
            openSpans[key, default: []].append(OpenSpan(name: event.name, category: category))
            try slice(UInt8(ascii: "B"), event, duration: nil, extra: nil)
        case .spanEnd:
            guard openSpans[key]?.popLast() != nil else {
                statistics.unmatchedEndsDropped += 1
                return
            }
            try slice(UInt8(ascii: "E"), event, duration: nil, extra: nil)
        case .complete(let duration):
            try slice(UInt8(ascii: "X"), event, duration: duration, extra: nil)
        case .instant:
            try slice(UInt8(ascii: "i"), event, duration: nil, extra: nil)
        case .counter(let value):
            var out = beginRecord()
            JSONText.append("{\"ph\":\"C\"", to: &out)
            appendPlace(node: event.track.node, thread: event.track.thread, timestamp: event.timestamp.nanoseconds, to: &out)
            appendNameAndCategory(name: event.name, category: category, to: &out)
            JSONText.append(",\"args\":{\"value\":", to: &out)
            JSONText.appendDouble(value, to: &out)
            JSONText.append("}}", to: &out)
            try endRecord(out)
        case .kernel(let kernel):
            var extra = Extra()
            extra.add("kind", "kernel")
            extra.add("flops", .int(kernel.flops))
            extra.add("bytes", .int(kernel.bytes))
            try slice(UInt8(ascii: "X"), event, duration: kernel.duration, extra: extra)
        case .transfer(let transfer):
            var extra = Extra()
            extra.add("kind", "transfer")
            extra.add("bytes", .int(transfer.bytes))
            extra.add("src", .int(Int64(transfer.source)))
            extra.add("dst", .int(Int64(transfer.destination)))
            if let flow = transfer.flow { extra.add("flow", .string(Self.hex(flow.rawValue))) }
            try slice(UInt8(ascii: "X"), event, duration: transfer.duration, extra: extra)
        case .storage(let access):
            var extra = Extra()
            extra.add("kind", access.direction == .read ? "storage.read" : "storage.write")
            extra.add("bytes", .int(access.bytes))
            try slice(UInt8(ascii: "X"), event, duration: access.duration, extra: extra)
        case .flow(let id, let step):
            try renderFlow(event, id: id, step: step, key: key)
        }
    }

    private func renderFlow(_ event: TraceEvent, id: FlowID, step: FlowStep, key: TrackKey) throws {
        var extra = Extra()
        extra.add("flow", .string(Self.hex(id.rawValue)))
        extra.add("step", .string(Self.stepName(step)))
        switch step {
        case .send, .receive:
            try slice(UInt8(ascii: "X"), event, duration: 0, extra: extra)
            let started = startedFlows.contains(id.rawValue)
            if !started { startedFlows.insert(id.rawValue) }
            try flowEvent(started ? UInt8(ascii: "t") : UInt8(ascii: "s"), event, id: id)
        case .handlerBegin:
            openSpans[key, default: []].append(OpenSpan(name: event.name, category: event.category.name))
            try slice(UInt8(ascii: "B"), event, duration: nil, extra: extra)
            // A handler with no earlier step in the file gets no arrow rather than a dangling one.
            if startedFlows.remove(id.rawValue) != nil { try flowEvent(UInt8(ascii: "f"), event, id: id) }
        case .handlerEnd:
            guard openSpans[key]?.popLast() != nil else {
                statistics.unmatchedEndsDropped += 1
                return
            }
            try slice(UInt8(ascii: "E"), event, duration: nil, extra: extra)
        }
    }

    /// One slice-like record: `B`, `E`, `X` or a thread-scoped `i`.
    private func slice(_ phase: UInt8, _ event: TraceEvent, duration: UInt64?, extra: Extra?) throws {
        var out = beginRecord()
        JSONText.append("{\"ph\":\"", to: &out)
        out.append(phase)
        out.append(UInt8(ascii: "\""))
        if phase == UInt8(ascii: "i") { JSONText.append(",\"s\":\"t\"", to: &out) }
        appendPlace(node: event.track.node, thread: event.track.thread, timestamp: event.timestamp.nanoseconds, to: &out)
        if let duration {
            JSONText.append(",\"dur\":", to: &out)
            JSONText.appendMicroseconds(duration, to: &out)
        }
        appendNameAndCategory(name: event.name, category: event.category.name, to: &out)
        if extra != nil || !event.arguments.isEmpty {
            JSONText.append(",\"args\":{", to: &out)
            var first = true
            if let extra {
                JSONText.append("\"ds\":{", to: &out)
                for (index, field) in extra.fields.enumerated() {
                    if index > 0 { out.append(UInt8(ascii: ",")) }
                    Self.appendMember(field.0, field.1, to: &out)
                }
                out.append(UInt8(ascii: "}"))
                first = false
            }
            for argument in event.arguments {
                if !first { out.append(UInt8(ascii: ",")) }
                first = false
                Self.appendMember(argument.key, argument.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "}"))
        try endRecord(out)
    }

    private func flowEvent(_ phase: UInt8, _ event: TraceEvent, id: FlowID) throws {
        var out = beginRecord()
        JSONText.append("{\"ph\":\"", to: &out)
        out.append(phase)
        out.append(UInt8(ascii: "\""))
        appendPlace(node: event.track.node, thread: event.track.thread, timestamp: event.timestamp.nanoseconds, to: &out)
        // Perfetto links flow events by (category, name, id), so both are the same for every step.
        JSONText.append(",\"cat\":\"ds.flow\",\"name\":\"message\",\"id\":", to: &out)
        JSONText.appendHexIdentifier(id.rawValue, to: &out)
        if phase == UInt8(ascii: "f") { JSONText.append(",\"bp\":\"e\"", to: &out) }
        out.append(UInt8(ascii: "}"))
        try endRecord(out)
    }

    static func appendMember(_ key: String, _ value: TraceValue, to out: inout [UInt8]) {
        JSONText.appendString(key, to: &out)
        out.append(UInt8(ascii: ":"))
        switch value {
        case .int(let number): JSONText.appendInteger(number, to: &out)
        case .double(let number): JSONText.appendDouble(number, to: &out)
        case .string(let text): JSONText.appendString(text, to: &out)
        }
    }

    static func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }

    static func stepName(_ step: FlowStep) -> String {
        switch step {
        case .send: "send"
        case .receive: "receive"
        case .handlerBegin: "handlerBegin"
        case .handlerEnd: "handlerEnd"
        }
    }
}

/// Decodes the protobuf traces `PerfettoTraceWriter` writes, resolving interned strings and
/// track descriptors, and checks what trace processor would otherwise complain about: packets
/// referring to tracks or interned ids never defined, slice ends without a begin, and flows
/// that end without having started.
///
/// It understands exactly the subset of the Perfetto schema the writer uses; it is the test
/// oracle for the writer, not a general Perfetto reader.
public struct PerfettoTrace: Sendable {
    /// A track from a `TrackDescriptor`.
    public struct Track: Sendable, Hashable {
        public var uuid: UInt64
        public var parent: UInt64?
        public var name: String
        public var pid: Int64?
        public var tid: Int64?
        public var isCounter: Bool
    }

    /// A `TrackEvent` with its names resolved.
    public struct Event: Sendable, Hashable {
        /// 1 slice begin, 2 slice end, 3 instant, 4 counter.
        public var type: UInt64
        public var timestamp: UInt64
        public var track: UInt64
        public var name: String?
        public var category: String?
        public var flows: [UInt64]
        public var terminatingFlows: [UInt64]
        public var counterValue: Double?
        public var annotations: [String: String]
    }

    public var tracks: [UInt64: Track] = [:]
    public var events: [Event] = []
    /// Problems found; empty for a good trace.
    public var problems: [String] = []

    /// Decodes `bytes`.
    ///
    /// - Throws: `TraceExportError.malformedTrace` (with the byte offset) when the bytes are not
    ///   valid protobuf.
    public init(bytes: [UInt8]) throws {
        var names: [UInt64: String] = [:]
        var categories: [UInt64: String] = [:]
        var annotationNames: [UInt64: String] = [:]
        var trace = ProtoReader(bytes[...])
        while !trace.atEnd {
            let (field, value) = try trace.next()
            guard field == 1 else { continue }
            var packet = ProtoReader(value.data)
            var timestamp: UInt64 = 0
            var trackEventData: ArraySlice<UInt8>?
            while !packet.atEnd {
                let (field, value) = try packet.next()
                switch field {
                case 8: timestamp = value.integer
                case 12:
                    var interned = ProtoReader(value.data)
                    while !interned.atEnd {
                        let (kind, entry) = try interned.next()
                        var reader = ProtoReader(entry.data)
                        var iid: UInt64 = 0
                        var text = ""
                        while !reader.atEnd {
                            let (f, v) = try reader.next()
                            if f == 1 { iid = v.integer } else if f == 2 { text = v.text }
                        }
                        switch kind {
                        case 1: categories[iid] = text
                        case 2: names[iid] = text
                        case 3: annotationNames[iid] = text
                        default: break
                        }
                    }
                case 11: trackEventData = value.data
                case 60: try decodeTrack(value.data)
                default: break
                }
            }
            if let data = trackEventData {
                events.append(try decodeEvent(data, timestamp, names, categories, annotationNames))
            }
        }
        check()
    }

    private mutating func decodeTrack(_ data: ArraySlice<UInt8>) throws {
        var reader = ProtoReader(data)
        var track = Track(uuid: 0, parent: nil, name: "", pid: nil, tid: nil, isCounter: false)
        while !reader.atEnd {
            let (field, value) = try reader.next()
            switch field {
            case 1: track.uuid = value.integer
            case 2: track.name = value.text
            case 5: track.parent = value.integer
            case 8: track.isCounter = true
            case 3, 4:
                var nested = ProtoReader(value.data)
                while !nested.atEnd {
                    let (f, v) = try nested.next()
                    switch (field, f) {
                    case (_, 1): track.pid = Int64(bitPattern: v.integer)
                    case (4, 2): track.tid = Int64(bitPattern: v.integer)
                    case (3, 6), (4, 5): track.name = v.text
                    default: break
                    }
                }
            default: break
            }
        }
        if tracks[track.uuid] != nil { problems.append("track \(track.uuid) is described twice") }
        tracks[track.uuid] = track
    }

    private mutating func decodeEvent(
        _ data: ArraySlice<UInt8>, _ timestamp: UInt64, _ names: [UInt64: String], _ categories: [UInt64: String],
        _ annotationNames: [UInt64: String]
    ) throws -> Event {
        var reader = ProtoReader(data)
        var event = Event(
            type: 0, timestamp: timestamp, track: 0, name: nil, category: nil, flows: [], terminatingFlows: [],
            counterValue: nil, annotations: [:])
        while !reader.atEnd {
            let (field, value) = try reader.next()
            switch field {
            case 3:
                if let text = categories[value.integer] { event.category = text } else { problems.append("undefined category iid \(value.integer)") }
            case 22: event.category = value.text
            case 9: event.type = value.integer
            case 10:
                if let text = names[value.integer] { event.name = text } else { problems.append("undefined name iid \(value.integer)") }
            case 23: event.name = value.text
            case 11: event.track = value.integer
            case 44: event.counterValue = Double(bitPattern: value.integer)
            case 47: event.flows.append(value.integer)
            case 48: event.terminatingFlows.append(value.integer)
            case 4:
                var nested = ProtoReader(value.data)
                var key = ""
                var text = ""
                while !nested.atEnd {
                    let (f, v) = try nested.next()
                    switch f {
                    case 1: key = annotationNames[v.integer] ?? "?"
                    case 10: key = v.text
                    case 4: text = String(Int64(bitPattern: v.integer))
                    case 5: text = String(Double(bitPattern: v.integer))
                    case 6: text = v.text
                    default: break
                    }
                }
                event.annotations[key] = text
            default: break
            }
        }
        return event
    }

    /// Checks the decoded trace in timestamp order (stable), as trace processor sorts it.
    private mutating func check() {
        var depth: [UInt64: Int] = [:]
        var started = Set<UInt64>()
        let ordered = events.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }
        for (_, event) in ordered {
            guard let track = tracks[event.track] else {
                problems.append("event at \(event.timestamp) ns uses undefined track \(event.track)")
                continue
            }
            switch event.type {
            case 1: depth[event.track, default: 0] += 1
            case 2:
                if depth[event.track, default: 0] == 0 {
                    problems.append("slice end at \(event.timestamp) ns on \(track.name) has no begin")
                } else {
                    depth[event.track]! -= 1
                }
            case 3: break
            case 4:
                if !track.isCounter { problems.append("counter value on non-counter track \(track.name)") }
            default: problems.append("event of unknown type \(event.type)")
            }
            for flow in event.flows { started.insert(flow) }
            for flow in event.terminatingFlows where started.remove(flow) == nil {
                problems.append("flow \(flow) terminates at \(event.timestamp) ns without having started")
            }
        }
        for (track, open) in depth where open > 0 {
            problems.append("\(open) slice(s) on \(tracks[track]?.name ?? "?") never end")
        }
    }
}

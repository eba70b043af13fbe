public import DeepseekTracing
import Foundation

/// A single self-contained HTML page showing a trace: one lane per track grouped by node, slices
/// drawn on a canvas, flow arrows from send to handler, wheel zoom around the pointer, drag to
/// pan, and the text summary. It loads nothing from the network.
///
/// Browsers handle a few hundred thousand slices comfortably; beyond `maximumSlices` the page
/// keeps the longest slices and says how many it left out (use Perfetto for the full trace).
///
/// ```swift
/// try TraceViewer.write(events, to: "timeline.html")
/// ```
public enum TraceViewer {
    /// The most slices the page embeds.
    public static let defaultMaximumSlices = 200_000

    /// The page for `events`.
    public static func html(_ events: [TraceEvent], title: String = "Deepseek trace", maximumSlices: Int = defaultMaximumSlices) -> String {
        let index = TraceIndex(events)
        let summary = TraceSummary(index: index)
        var slices = index.slices.enumerated().map { $0 }
        var omitted = 0
        if slices.count > maximumSlices {
            omitted = slices.count - maximumSlices
            slices = Array(slices.sorted { ($1.element.duration, $0.offset) < ($0.element.duration, $1.offset) }.prefix(maximumSlices))
                .sorted { $0.offset < $1.offset }
        }
        var names: [String: Int] = [:]
        var nameList: [String] = []
        func nameID(_ name: String) -> Int {
            if let id = names[name] { return id }
            names[name] = nameList.count
            nameList.append(name)
            return nameList.count - 1
        }
        // Lanes ordered by node, then thread.
        let order = index.tracks.indices.sorted { (index.tracks[$0].node, index.tracks[$0].thread) < (index.tracks[$1].node, index.tracks[$1].thread) }
        var json: [UInt8] = []
        JSONText.append("{\"start\":", to: &json)
        JSONText.appendInteger(index.start, to: &json)
        JSONText.append(",\"end\":", to: &json)
        JSONText.appendInteger(index.end, to: &json)
        JSONText.append(",\"omitted\":", to: &json)
        JSONText.appendInteger(UInt64(omitted), to: &json)
        JSONText.append(",\"tracks\":[", to: &json)
        for (position, track) in order.enumerated() {
            if position > 0 { json.append(UInt8(ascii: ",")) }
            JSONText.append("{\"id\":", to: &json)
            JSONText.appendInteger(UInt64(track), to: &json)
            JSONText.append(",\"node\":", to: &json)
            JSONText.appendInteger(UInt64(index.tracks[track].node), to: &json)
            JSONText.append(",\"name\":", to: &json)
            JSONText.appendString(index.tracks[track].name, to: &json)
            json.append(UInt8(ascii: "}"))
        }
        // Slices as flat numbers: track, start offset, duration, name id, depth, open (ns).
        JSONText.append("],\"slices\":[", to: &json)
        for (position, item) in slices.enumerated() {
            let slice = item.element
            if position > 0 { json.append(UInt8(ascii: ",")) }
            for (field, value) in [UInt64(slice.track), slice.start - index.start, slice.duration,
                                   UInt64(nameID(slice.name)), UInt64(slice.depth), slice.isOpen ? 1 : 0].enumerated() {
                if field > 0 { json.append(UInt8(ascii: ",")) }
                JSONText.appendInteger(value, to: &json)
            }
        }
        JSONText.append("],\"flows\":[", to: &json)
        var first = true
        for message in index.messages {
            guard let send = message.send, let target = message.handlerBegin ?? message.receive else { continue }
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            for (field, value) in [UInt64(send.track), send.time - index.start, UInt64(target.track), target.time - index.start].enumerated() {
                if field > 0 { json.append(UInt8(ascii: ",")) }
                JSONText.appendInteger(value, to: &json)
            }
        }
        JSONText.append("],\"names\":[", to: &json)
        for (position, name) in nameList.enumerated() {
            if position > 0 { json.append(UInt8(ascii: ",")) }
            JSONText.appendString(name, to: &json)
        }
        JSONText.append("]}", to: &json)
        // `</` must not appear inside a script element.
        let data = String(decoding: json, as: UTF8.self).replacingOccurrences(of: "</", with: "<\\/")
        return page(title: escapeHTML(title), data: data, summary: escapeHTML(summary.text))
    }

    /// Writes the page for `events` to `path`.
    public static func write(_ events: [TraceEvent], to path: String, title: String = "Deepseek trace",
                             maximumSlices: Int = defaultMaximumSlices) throws {
        let output = try TraceOutput(path: path)
        try output.append(html(events, title: title, maximumSlices: maximumSlices))
        try output.close()
    }

    static func escapeHTML(_ text: String) -> String {
        var result = ""
        result.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            default: result.append(character)
            }
        }
        return result
    }
}

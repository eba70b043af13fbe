/// A value in a result record: what `--json` prints and what a table cell formats.
enum Value: Sendable, Encodable {
    case number(Double)
    case integer(Int)
    case text(String)
    case numbers([Double])
    case missing

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .number(let x): if x.isFinite { try c.encode(x) } else { try c.encodeNil() }
        case .integer(let x): try c.encode(x)
        case .text(let s): try c.encode(s)
        case .numbers(let xs): try c.encode(xs.map { $0.isFinite ? $0 : -1 })
        case .missing: try c.encodeNil()
        }
    }
}

/// One column of a Markdown table: which record key it shows and how.
struct Column: Sendable {
    enum Style: Sendable {
        case text
        case fixed(Int)  // digits after the point
        case ratio
        case percent
    }

    var key: String
    var header: String
    var style: Style

    init(_ key: String, _ header: String, _ style: Style = .text) {
        self.key = key
        self.header = header
        self.style = style
    }

    func format(_ value: Value?) -> String {
        switch value {
        case nil, .missing?: return "—"
        case .text(let s)?: return s
        case .integer(let i)?: return String(i)
        case .numbers(let xs)?: return xs.map { formatNumber($0, digits: 2) }.joined(separator: ", ")
        case .number(let x)?:
            guard x.isFinite else { return "—" }
            switch style {
            case .text: return formatNumber(x, digits: 2)
            case .fixed(let d): return formatNumber(x, digits: d)
            case .ratio: return formatNumber(x, digits: 2) + "×"
            case .percent: return formatNumber(x * 100, digits: 0) + " %"
            }
        }
    }
}

/// Formats with a fixed number of decimals, without Foundation's locale machinery.
func formatNumber(_ x: Double, digits: Int) -> String {
    guard x.isFinite else { return "—" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (abs(x) * scale).rounded()
    let whole = Int(rounded / scale)
    let fraction = Int(rounded - Double(whole) * scale)
    var text = (x < 0 && rounded != 0 ? "-" : "") + String(whole)
    if digits > 0 {
        let f = String(fraction)
        text += "." + String(repeating: "0", count: digits - f.count) + f
    }
    return text
}

/// The results of one benchmark group: a Markdown table for docs/benchmarks.md and records for `--json`.
struct GroupReport: Sendable, Encodable {
    var group: String
    var title: String
    /// The command that reproduces the table.
    var command: String
    var columns: [Column] = []
    var records: [[String: Value]] = []
    /// Lines printed under the table: baselines, targets, what was skipped and why.
    var notes: [String] = []
    /// Other processes' share of the machine's CPU time during the group (see `OtherLoad`).
    var otherLoad: Double?

    enum CodingKeys: String, CodingKey { case group, title, command, records, notes, otherLoad = "other_load" }

    var markdown: String {
        var lines = ["### \(title)", "", "`\(command)`", ""]
        lines.append("| " + columns.map(\.header).joined(separator: " | ") + " |")
        lines.append("|" + columns.map { col in
            if case .text = col.style { return "---" } else { return "---:" }
        }.joined(separator: "|") + "|")
        for record in records {
            lines.append("| " + columns.map { $0.format(record[$0.key]) }.joined(separator: " | ") + " |")
        }
        if !notes.isEmpty {
            lines.append("")
            lines.append(contentsOf: notes.map { "- " + $0 })
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

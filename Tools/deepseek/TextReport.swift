/// A titled group of `key: value` rows, printed with the values aligned.
struct TextSection {
    var title: String
    var rows: [(key: String, value: String)]

    init(_ title: String, _ rows: [(String, String)]) {
        self.title = title
        self.rows = rows.map { (key: $0.0, value: $0.1) }
    }

    /// The section as text: the title, then one indented row per line. Values that span several
    /// lines are continued under the value column.
    func render() -> String {
        let width = (rows.map { $0.key.count }.max() ?? 0) + 1
        var lines = [title]
        for row in rows {
            let label = (row.key + ":").padding(to: width)
            let valueLines = row.value.split(separator: "\n", omittingEmptySubsequences: false)
            lines.append("  \(label) \(valueLines.first.map(String.init) ?? "")")
            for continuation in valueLines.dropFirst() {
                lines.append("  " + String(repeating: " ", count: width) + " " + continuation)
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension String {
    /// The string padded with spaces on the right to at least `width` characters.
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}

/// Formatting helpers that avoid pulling in Foundation's `String(format:)`.
enum Format {
    /// `value` with exactly `digits` decimals (rounded half away from zero).
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return String(value) }
        var scale: Int64 = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = (abs(value) * Double(scale)).rounded()
        guard scaled < 9.0e18 else { return String(value) }
        let total = Int64(scaled)
        let whole = total / scale
        let fraction = total % scale
        let sign = value < 0 && total != 0 ? "-" : ""
        guard digits > 0 else { return sign + String(whole) }
        let fractionText = String(fraction)
        return sign + String(whole) + "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
    }

    /// A byte count in GiB with one decimal.
    static func gibibytes(_ bytes: UInt64) -> String {
        fixed(Double(bytes) / Double(1 << 30), digits: 1) + " GiB"
    }

    static func yesNo(_ value: Bool) -> String { value ? "yes" : "no" }
}

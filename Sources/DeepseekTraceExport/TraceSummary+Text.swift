import DeepseekTracing

/// Plain-text rendering of a summary, as `deepseek trace summary` prints it.
extension TraceSummary {
    /// The summary as aligned text tables.
    public var text: String {
        var lines: [String] = []
        lines.append("Trace: \(eventCount) events, \(messageCount) messages, \(tracks.count) tracks, \(formatDuration(duration))")
        lines.append("")
        lines.append("Per-actor busy time")
        let nameWidth = min(48, tracks.map { "\($0.track.name) (node \($0.track.node))".count }.max() ?? 10)
        for usage in tracks.sorted(by: { ($1.busy, $0.track.name) < ($0.busy, $1.track.name) }) {
            let label = "\(usage.track.name) (node \(usage.track.node))"
            lines.append(
                "  " + pad(label, nameWidth) + "  " + padLeft(percent(usage.fraction), 7) + "  "
                    + padLeft(formatDuration(usage.busy), 10) + "  \(usage.slices) slices")
        }
        lines.append("")
        lines.append(
            "Critical path: \(formatDuration(criticalPath.length)) (\(percent(Double(criticalPath.length) / Double(max(duration, 1)))) of the run), "
                + "\(formatDuration(criticalPath.work)) of it work, \(criticalPath.steps.count) steps")
        let shown = criticalPath.steps.count > 24 ? Array(criticalPath.steps.prefix(8)) + [nil] + Array(criticalPath.steps.suffix(15)) : criticalPath.steps.map { Optional($0) }
        for step in shown {
            guard let step else {
                lines.append("    … \(criticalPath.steps.count - 23) steps …")
                continue
            }
            let marker = step.kind == .work ? "work" : "msg "
            lines.append("  \(marker) \(padLeft(formatDuration(step.end - step.start), 10))  \(step.name) — \(step.place)")
        }
        lines.append("")
        lines.append("Slowest operators (by total time)")
        let operatorWidth = min(40, slowestOperators.map(\.name.count).max() ?? 8)
        lines.append("  " + pad("name", operatorWidth) + "  " + padLeft("count", 8) + "  " + padLeft("total", 10) + "  "
            + padLeft("mean", 10) + "  " + padLeft("max", 10))
        for entry in slowestOperators {
            lines.append(
                "  " + pad(entry.name, operatorWidth) + "  " + padLeft(String(entry.count), 8) + "  "
                    + padLeft(formatDuration(entry.total), 10) + "  " + padLeft(formatDuration(entry.mean), 10) + "  "
                    + padLeft(formatDuration(entry.maximum), 10))
        }
        lines.append("")
        lines.append("Message latency (send → receive): median \(formatDuration(latencyMedian)), p99 \(formatDuration(latency99))")
        let largest = latencyHistogram.map(\.count).max() ?? 0
        for bucket in latencyHistogram {
            let bar = String(repeating: "#", count: largest == 0 ? 0 : (bucket.count * 40 + largest - 1) / largest)
            lines.append("  < " + padLeft(formatDuration(bucket.upperBound), 10) + "  " + padLeft(String(bucket.count), 8) + "  " + bar)
        }
        lines.append("")
        lines.append("Compute vs communication (summed over nodes)")
        lines.append("  compute                 \(formatDuration(overlap.compute))")
        lines.append("  communication           \(formatDuration(overlap.communication))")
        lines.append(
            "  exposed communication   \(formatDuration(overlap.exposedCommunication)) "
                + "(\(percent(Double(overlap.exposedCommunication) / Double(max(overlap.communication, 1)))) of communication not hidden by compute)")
        return lines.joined(separator: "\n") + "\n"
    }
}

func percent(_ fraction: Double) -> String {
    let tenths = (fraction * 1000).rounded()
    return "\(Int(tenths) / 10).\(Int(tenths) % 10) %"
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? String(text.prefix(width)) : text + String(repeating: " ", count: width - text.count)
}

func padLeft(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

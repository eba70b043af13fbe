/// The outcome of one conformance case.
public struct ONNXCaseResult: Sendable {
    /// Passed, failed with what differed, or skipped with why it could not run.
    public enum Status: Sendable, Hashable {
        case passed
        case failed(String)
        case skipped(String)
    }

    /// The case directory name, e.g. `test_add_bcast`.
    public var name: String
    /// The operator it exercises (`Add`, `Softmax (expanded)`, or `graph`).
    public var op: String
    public var status: Status
    /// Wall-clock seconds spent loading, running and comparing.
    public var seconds: Double

    public init(name: String, op: String, status: Status, seconds: Double) {
        self.name = name
        self.op = op
        self.status = status
        self.seconds = seconds
    }
}

/// The results of a conformance run, with counts and a plain-text report.
public struct ONNXConformanceSummary: Sendable {
    /// The backend the run used.
    public var backend: String
    /// One result per case, in run order.
    public var results: [ONNXCaseResult]

    public init(backend: String, results: [ONNXCaseResult]) {
        self.backend = backend
        self.results = results
    }

    public var passed: Int { results.count { $0.status == .passed } }
    public var failed: Int { results.count { if case .failed = $0.status { true } else { false } } }
    public var skipped: Int { results.count { if case .skipped = $0.status { true } else { false } } }

    /// Skip reasons with the cases that gave each, most frequent first.
    public var skipReasons: [(reason: String, cases: [String])] {
        var groups: [String: [String]] = [:]
        for r in results {
            if case .skipped(let reason) = r.status { groups[reason, default: []].append(r.name) }
        }
        return groups.map { ($0.key, $0.value) }.sorted { ($0.cases.count, $1.reason) > ($1.cases.count, $0.reason) }
    }

    /// Pass, fail and skip counts per operator label, sorted by label.
    public var perOperator: [(op: String, passed: Int, failed: Int, skipped: Int)] {
        var rows: [String: (passed: Int, failed: Int, skipped: Int)] = [:]
        for r in results {
            var row = rows[r.op] ?? (0, 0, 0)
            switch r.status {
            case .passed: row.passed += 1
            case .failed: row.failed += 1
            case .skipped: row.skipped += 1
            }
            rows[r.op] = row
        }
        return rows.keys.sorted().map { op in
            let row = rows[op]!
            return (op, row.passed, row.failed, row.skipped)
        }
    }

    /// A report: a per-operator table of pass/fail/skip counts, then every failure with what
    /// differed, then the skip reasons with their cases, and last the line
    /// `N passed, M failed, K skipped`.
    public func renderText() -> String {
        let table = perOperator
        let width = Swift.max(8, table.map(\.op.count).max() ?? 0)
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: Swift.max(0, n - s.count)) }
        func padLeft(_ s: String, _ n: Int) -> String { String(repeating: " ", count: Swift.max(0, n - s.count)) + s }
        var lines = ["ONNX node conformance on backend \(backend)", ""]
        lines.append(pad("operator", width) + "  passed  failed  skipped")
        for row in table {
            lines.append(
                pad(row.op, width) + "  " + padLeft("\(row.passed)", 6) + "  " + padLeft("\(row.failed)", 6) + "  "
                    + padLeft("\(row.skipped)", 7))
        }
        let failures = results.compactMap { r -> String? in
            if case .failed(let reason) = r.status { return "  \(r.name) [\(r.op)]: \(Self.oneLine(reason))" }
            return nil
        }
        if !failures.isEmpty {
            lines += ["", "Failures:"] + failures
        }
        let skips = skipReasons
        if !skips.isEmpty {
            lines += ["", "Skipped:"]
            for group in skips {
                lines.append("  \(Self.oneLine(group.reason)) (\(group.cases.count)): " + group.cases.joined(separator: ", "))
            }
        }
        lines += ["", "\(passed) passed, \(failed) failed, \(skipped) skipped"]
        return lines.joined(separator: "\n")
    }

    /// A reason on one line (driver build logs span many), cut to a readable length; the full
    /// text stays in `results`.
    static func oneLine(_ text: String, limit: Int = 400) -> String {
        let joined = text.split(whereSeparator: \.isNewline).map { $0.trimmingPrefix(while: \.isWhitespace) }.joined(separator: " ⏎ ")
        return joined.count > limit ? String(joined.prefix(limit)) + " …" : joined
    }
}

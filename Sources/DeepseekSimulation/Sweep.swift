import DeepseekTraining

/// A sweep over one scenario parameter: one simulated iteration per value, as a table and an SVG plot.
public struct SweepReport: Sendable {
    public var parameter: String
    public var rows: [(value: Double, report: ScenarioReport)]

    /// Markdown table: value, iteration time, throughput, MFU, exposed communication, peak memory, scaling efficiency.
    public func markdown() -> String {
        var o = "| \(parameter) | devices | iteration | samples/s | MFU | exposed comm | memory/device | efficiency vs first |\n|---|---|---|---|---|---|---|---|\n"
        let first = rows.first.map { $0.report.result.samplesPerSecond / Double($0.report.scenario.layout.devices) }
        for (v, r) in rows {
            let perDevice = r.result.samplesPerSecond / Double(r.scenario.layout.devices)
            let eff = first.map { $0 > 0 ? fixed(perDevice / $0 * 100, 1) + " %" : "–" } ?? "–"
            let mem = r.memory.map(\.total).max() ?? 0
            o += "| \(fixed(v, v == v.rounded() ? 0 : 3)) | \(r.scenario.layout.devices) | \(duration(r.result.iterationSeconds)) | \(fixed(r.result.samplesPerSecond, 1)) | \(fixed(r.result.mfu * 100, 1)) % | \(duration(r.result.exposedCommunicationSeconds)) | \(byteText(mem)) | \(eff) |\n"
        }
        return o
    }

    /// An SVG line plot of throughput (samples/s) against the parameter, with a second line for
    /// perfect linear scaling from the first point when the parameter is a device count.
    public func svg(width: Double = 640, height: Double = 400) -> String {
        let xs = rows.map(\.value), ys = rows.map(\.report.result.samplesPerSecond)
        let logX = (xs.max() ?? 1) / max(xs.min() ?? 1, 1e-9) > 16
        func xv(_ x: Double) -> Double { logX ? log2(max(x, 1e-9)) : x }
        let (x0, x1) = (xs.map(xv).min() ?? 0, xs.map(xv).max() ?? 1)
        var ideal: [Double] = []
        if ["data", "nodes"].contains(parameter), let f = rows.first { ideal = xs.map { f.report.result.samplesPerSecond * $0 / f.value } }
        let yMax = max((ys + ideal).max() ?? 1, 1e-9)
        let (l, r, t, b) = (70.0, 20.0, 30.0, 50.0)
        func px(_ x: Double) -> Double { l + (x1 > x0 ? (xv(x) - x0) / (x1 - x0) : 0.5) * (width - l - r) }
        func py(_ y: Double) -> Double { height - b - y / yMax * (height - t - b) }
        func line(_ values: [Double], _ color: String, dash: Bool) -> String {
            let points = zip(xs, values).map { "\(fixed(px($0), 1)),\(fixed(py($1), 1))" }.joined(separator: " ")
            return "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\"\(dash ? " stroke-dasharray=\"6 4\"" : "") points=\"\(points)\"/>\n"
        }
        var o = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(fixed(width, 0))\" height=\"\(fixed(height, 0))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        o += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        o += "<line x1=\"\(l)\" y1=\"\(height - b)\" x2=\"\(width - r)\" y2=\"\(height - b)\" stroke=\"black\"/><line x1=\"\(l)\" y1=\"\(t)\" x2=\"\(l)\" y2=\"\(height - b)\" stroke=\"black\"/>\n"
        for x in xs { o += "<text x=\"\(fixed(px(x), 1))\" y=\"\(fixed(height - b + 18, 1))\" text-anchor=\"middle\">\(fixed(x, x == x.rounded() ? 0 : 3))</text>\n" }
        for i in 0...4 {
            let y = yMax * Double(i) / 4
            o += "<text x=\"\(l - 6)\" y=\"\(fixed(py(y) + 4, 1))\" text-anchor=\"end\">\(si(y, digits: 1))</text>\n"
        }
        o += "<text x=\"\(fixed((l + width - r) / 2, 1))\" y=\"\(fixed(height - 12, 1))\" text-anchor=\"middle\">\(parameter)\(logX ? " (log scale)" : "")</text>\n"
        o += "<text x=\"\(l)\" y=\"18\">samples/s (solid: simulated\(ideal.isEmpty ? "" : ", dashed: linear scaling"))</text>\n"
        if !ideal.isEmpty { o += line(ideal, "#999999", dash: true) }
        o += line(ys, "#1f77b4", dash: false)
        for (x, y) in zip(xs, ys) { o += "<circle cx=\"\(fixed(px(x), 1))\" cy=\"\(fixed(py(y), 1))\" r=\"3\" fill=\"#1f77b4\"/>\n" }
        return o + "</svg>\n"
    }

    func log2(_ x: Double) -> Double {
        var v = x, e = 0.0
        while v >= 2 { v /= 2; e += 1 }
        while v < 1 { v *= 2; e -= 1 }
        return e + (v - 1)  // piecewise-linear between powers of two: exact at the usual 2^k sweep points
    }
}

extension Scenario {
    /// This scenario with the sweep parameter set to `value`.
    public func with(_ parameter: String, _ value: Double) -> Scenario {
        var s = self
        switch parameter {
        case "data":
            s.layout.dataParallel = Int(value)
            s.topology.nodes = max(1, (s.layout.devices + s.topology.devicesPerNode - 1) / s.topology.devicesPerNode)
        case "nodes": s.topology.nodes = Int(value)
        case "bandwidth_gbps":
            s.topology.interNode.bandwidth = value * 1e9 / 8
            s.topology.interNode.name = "ethernet@\(fixed(value, 0))G"
        case "density": s.compression = .topK(density: value)
        case "zero": s.layout.zeroStage = Int(value)
        default: break
        }
        s.baselineDataParallel = nil
        return s
    }

    /// Runs the sweep the scenario declares.
    public func runSweep() throws -> SweepReport? {
        guard let sweep else { return nil }
        var rows: [(Double, ScenarioReport)] = []
        for v in sweep.values { rows.append((v, try with(sweep.parameter, v).run())) }
        return SweepReport(parameter: sweep.parameter, rows: rows)
    }
}

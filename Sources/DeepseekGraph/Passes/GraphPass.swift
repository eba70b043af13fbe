import DeepseekTensor

/// A transformation from one graph to an equivalent graph.
///
/// A pass returns a new graph (graphs are values; the input is untouched) and a report of what
/// it changed. Every pass keeps the graph's interface: the same inputs and parameters (same
/// names and types) and the same outputs (same order and types), so feeds and callers that
/// worked before keep working. `PassPipeline` runs passes one after another and checks that.
///
/// ```swift
/// let (fused, report) = try FusionPass().run(graph)
/// print(report)   // fusion: ops 9 → 3, kernels 9 → 3, peak 4.0 MiB → 1.0 MiB
/// ```
public protocol GraphPass: Sendable {
    /// A short name for reports (`elementwiseFusion`).
    var name: String { get }
    /// Rewrites `graph`.
    ///
    /// - Throws: `GraphError` when a rewrite would produce an invalid graph (a bug in the pass,
    ///   reported rather than trapped so a caller can fall back to the unoptimised graph).
    func run(_ graph: Graph) throws -> (Graph, PassReport)
}

/// Counts that describe a graph's execution cost, as passes report them.
public struct GraphStatistics: Sendable, Hashable, CustomStringConvertible {
    /// Operator nodes: every node except inputs, parameters and constants.
    public var opCount: Int
    /// Operator nodes that launch a kernel: `opCount` without views (reshape, permute, slice, expand).
    public var kernelCount: Int
    /// The most bytes of intermediate and output tensors alive at once when the graph runs node by
    /// node (`Graph.run`'s order and release policy). Sources are excluded (the caller holds
    /// them) and so are views (they share their input's buffer).
    public var peakBytes: Int

    public init(opCount: Int, kernelCount: Int, peakBytes: Int) {
        self.opCount = opCount
        self.kernelCount = kernelCount
        self.peakBytes = peakBytes
    }

    /// Measures `graph`.
    ///
    /// - Complexity: O(nodes + edges).
    public init(_ graph: Graph) {
        var ops = 0
        var kernels = 0
        for n in graph.nodes where !n.op.isSource {
            ops += 1
            if !n.op.isView { kernels += 1 }
        }
        self.init(opCount: ops, kernelCount: kernels, peakBytes: Self.sequentialPeakBytes(graph))
    }

    /// Walks the nodes in order, adding each materialised result when its node runs and
    /// releasing it after its last reader, as `Graph.run` does. A view keeps its input's buffer
    /// alive until the view's own last reader.
    static func sequentialPeakBytes(_ graph: Graph) -> Int {
        var lastUse = [Int](repeating: -1, count: graph.values.count)
        for (i, n) in graph.nodes.enumerated() { for v in n.inputs { lastUse[v.rawValue] = i } }
        for v in graph.outputs { lastUse[v.rawValue] = Int.max }
        // The value owning each value's buffer: itself, or for a view the owner of its input.
        var owner = Array(0..<graph.values.count)
        for n in graph.nodes where n.op.isView {
            for v in n.outputs { owner[v.rawValue] = owner[n.inputs[0].rawValue] }
        }
        var bufferLastUse = [Int](repeating: -1, count: graph.values.count)
        for v in 0..<graph.values.count { bufferLastUse[owner[v]] = max(bufferLastUse[owner[v]], lastUse[v]) }
        var releaseAt = [[Int]](repeating: [], count: graph.nodes.count)
        var live = 0
        var peak = 0
        for (i, n) in graph.nodes.enumerated() {
            if !n.op.isSource && !n.op.isView {
                for v in n.outputs where bufferLastUse[v.rawValue] >= 0 {
                    let bytes = graph[value: v].type.byteCount
                    live += bytes
                    if bufferLastUse[v.rawValue] < Int.max { releaseAt[max(bufferLastUse[v.rawValue], i)].append(bytes) }
                }
            }
            peak = max(peak, live)
            for bytes in releaseAt[i] { live -= bytes }
        }
        return peak
    }

    public var description: String {
        "\(opCount) ops, \(kernelCount) kernels, peak \(PassReport.formatBytes(peakBytes))"
    }
}

/// What a pass changed: op, kernel and memory figures before and after, and notes.
public struct PassReport: Sendable, CustomStringConvertible {
    /// The pass that wrote the report.
    public var passName: String
    /// Operator nodes (sources excluded) before and after.
    public var opCountBefore: Int
    public var opCountAfter: Int
    /// Kernel-launching nodes (sources and views excluded) before and after.
    public var kernelCountBefore: Int
    public var kernelCountAfter: Int
    /// Peak bytes of a sequential run (see `GraphStatistics.peakBytes`), when the pass knows them.
    public var peakBytesBefore: Int?
    public var peakBytesAfter: Int?
    /// One line per decision worth knowing (`fused "fc1" + "act1" into …`).
    public var notes: [String]
    /// The reports of the passes a pipeline ran, in order; empty for a single pass.
    public var steps: [PassReport]

    public init(
        passName: String, opCountBefore: Int, opCountAfter: Int, kernelCountBefore: Int, kernelCountAfter: Int,
        peakBytesBefore: Int? = nil, peakBytesAfter: Int? = nil, notes: [String] = [], steps: [PassReport] = []
    ) {
        self.passName = passName
        self.opCountBefore = opCountBefore
        self.opCountAfter = opCountAfter
        self.kernelCountBefore = kernelCountBefore
        self.kernelCountAfter = kernelCountAfter
        self.peakBytesBefore = peakBytesBefore
        self.peakBytesAfter = peakBytesAfter
        self.notes = notes
        self.steps = steps
    }

    /// A report that compares the statistics of two graphs.
    public init(passName: String, before: GraphStatistics, after: GraphStatistics, notes: [String] = [], steps: [PassReport] = []) {
        self.init(
            passName: passName, opCountBefore: before.opCount, opCountAfter: after.opCount, kernelCountBefore: before.kernelCount,
            kernelCountAfter: after.kernelCount, peakBytesBefore: before.peakBytes, peakBytesAfter: after.peakBytes, notes: notes,
            steps: steps)
    }

    /// Whether the pass changed the op or kernel count or noted a rewrite (a fold keeps counts).
    public var changedGraph: Bool { opCountBefore != opCountAfter || kernelCountBefore != kernelCountAfter || !notes.isEmpty }

    /// `fusion: ops 9 → 3, kernels 9 → 3, peak 4.0 MiB → 1.0 MiB` followed by indented notes and steps.
    public var description: String {
        var line = "\(passName): ops \(opCountBefore) → \(opCountAfter), kernels \(kernelCountBefore) → \(kernelCountAfter)"
        if let b = peakBytesBefore, let a = peakBytesAfter {
            line += ", peak \(Self.formatBytes(b)) → \(Self.formatBytes(a))"
        }
        var lines = [line]
        for note in notes { lines.append("  - \(note)") }
        for step in steps {
            lines.append(contentsOf: step.description.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 })
        }
        return lines.joined(separator: "\n")
    }

    static func formatBytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(n)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        if unit == 0 { return "\(n) B" }
        let tenths = Int((value * 10).rounded())
        return "\(tenths / 10).\(tenths % 10) \(units[unit])"
    }
}

/// Runs passes in order, feeding each the previous one's graph, and reports the whole.
///
/// After every pass the pipeline checks that the graph's interface is unchanged (inputs and
/// parameters by name and type, outputs by position and type) and throws a `GraphError` naming
/// the pass if not.
public struct PassPipeline: GraphPass {
    public var name: String
    public var passes: [any GraphPass]

    public init(name: String = "pipeline", _ passes: [any GraphPass]) {
        self.name = name
        self.passes = passes
    }

    public func run(_ graph: Graph) throws -> (Graph, PassReport) {
        let before = GraphStatistics(graph)
        var current = graph
        var steps: [PassReport] = []
        for pass in passes {
            let (next, report) = try pass.run(current)
            try next.checkInterface(matches: current, after: pass.name)
            current = next
            steps.append(report)
        }
        return (current, PassReport(passName: name, before: before, after: GraphStatistics(current), steps: steps))
    }
}

extension Graph {
    /// The types of the graph's inputs and parameters by name.
    func sourceSignature() -> [String: TensorType] {
        var result: [String: TensorType] = [:]
        for n in nodes {
            switch n.op {
            case .input(let name): result["input " + name] = self[value: n.outputs[0]].type
            case .parameter(let name): result["parameter " + name] = self[value: n.outputs[0]].type
            default: continue
            }
        }
        return result
    }

    /// Throws unless `self` has the same inputs, parameters and output types as `original`.
    func checkInterface(matches original: Graph, after pass: String) throws {
        let expected = original.sourceSignature()
        let actual = sourceSignature()
        if expected != actual {
            let missing = expected.keys.filter { actual[$0] != expected[$0] }.sorted()
            let extra = actual.keys.filter { expected[$0] == nil }.sorted()
            throw GraphError(
                .execution,
                "pass \(pass) changed the graph's sources (changed or missing: \(missing.joined(separator: ", ")); added: \(extra.joined(separator: ", "))); the pass is wrong, run the graph without it")
        }
        let before = original.outputs.map { original[value: $0].type }
        let after = outputs.map { self[value: $0].type }
        if before != after {
            throw GraphError(
                .execution,
                "pass \(pass) changed the graph's outputs from \(before) to \(after); the pass is wrong, run the graph without it")
        }
    }
}

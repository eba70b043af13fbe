public import DeepseekGraph
public import DeepseekTensor

/// Estimates how long a node takes on each kind of device: a roofline (compute or memory bound,
/// whichever is slower) plus a fixed launch cost, refined by measured times once nodes have run.
///
/// The defaults are figures measured on the project's 2-core machine (see docs/benchmarks.md):
/// OpenBLAS sgemm ≈ 100 GFLOP/s per core and ≈ 10 GB/s streaming; PoCL's OpenCL device reaches
/// ≈ 190 GFLOP/s on large sgemm but costs tens of microseconds per kernel launch.
public struct CostModel: Sendable {
    /// Throughput and overhead of one device kind.
    public struct Roofline: Sendable, Hashable {
        public var flopsPerSecond: Double
        public var bytesPerSecond: Double
        public var launchSeconds: Double
        public init(flopsPerSecond: Double, bytesPerSecond: Double, launchSeconds: Double) {
            self.flopsPerSecond = flopsPerSecond
            self.bytesPerSecond = bytesPerSecond
            self.launchSeconds = launchSeconds
        }
    }

    public var rooflines: [DeviceKind: Roofline]
    /// Measured seconds by (op signature, input types, kind); preferred over the roofline.
    public var measured: [String: Double] = [:]

    public init(rooflines: [DeviceKind: Roofline] = CostModel.defaultRooflines) { self.rooflines = rooflines }

    public static let defaultRooflines: [DeviceKind: Roofline] = [
        .cpu: Roofline(flopsPerSecond: 80e9, bytesPerSecond: 8e9, launchSeconds: 1e-6),
        .opencl: Roofline(flopsPerSecond: 120e9, bytesPerSecond: 5e9, launchSeconds: 40e-6),
    ]

    /// The work of a node, computed on meta tensors.
    public static func work(of node: Graph.Node, in graph: Graph) -> KernelCost {
        work(of: node.op, inputs: node.inputs.map { graph[value: $0].type }, outputs: node.outputs.map { graph[value: $0].type })
    }

    static func key(_ node: Graph.Node, _ graph: Graph, _ kind: DeviceKind) -> String {
        "\(kind)|\(node.op.signature)|" + node.inputs.map { graph[value: $0].type.description }.joined(separator: ",")
    }

    /// Seconds `node` takes on a device of `kind`, or nil when the kind cannot run it.
    public func seconds(_ node: Graph.Node, in graph: Graph, kind: DeviceKind, work: KernelCost) -> Double? {
        if let kinds = node.op.deviceKinds, !kinds.contains(kind) { return nil }
        if let m = measured[Self.key(node, graph, kind)] { return m }
        guard let r = rooflines[kind] else { return nil }
        if node.op.isView { return 0.2e-6 }
        return max(work.flops / r.flopsPerSecond, work.bytes / r.bytesPerSecond) + r.launchSeconds
    }

    /// Records a measured time (an exponential moving average of runs).
    public mutating func record(_ node: Graph.Node, in graph: Graph, kind: DeviceKind, seconds: Double) {
        let k = Self.key(node, graph, kind)
        measured[k] = measured[k].map { 0.7 * $0 + 0.3 * seconds } ?? seconds
    }
}

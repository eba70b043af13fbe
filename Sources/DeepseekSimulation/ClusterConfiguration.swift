public import DeepseekTraining

/// The collective algorithm used for data-parallel gradient reduction.
public enum CollectiveAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// `RingCollective` over all members.
    case ring
    /// `HierarchicalAllReduce`: intra-node reduce-scatter, inter-node ring, intra-node all-gather.
    case hierarchical
    /// A binomial tree: `TreeReduce` to the first member, then the runtime's `TreeBroadcast`.
    case tree
}

/// The parallel layout of a training run.
public struct ParallelLayout: Sendable, Hashable {
    public var dataParallel: Int
    public var tensorParallel: Int
    public var pipelineParallel: Int
    /// Microbatches per iteration and pipeline (gradient accumulation steps when `pipelineParallel` is 1).
    public var microbatches: Int
    /// ZeRO stage 0–3.
    public var zeroStage: Int

    public init(dataParallel: Int = 1, tensorParallel: Int = 1, pipelineParallel: Int = 1, microbatches: Int = 1, zeroStage: Int = 0) {
        (self.dataParallel, self.tensorParallel, self.pipelineParallel) = (dataParallel, tensorParallel, pipelineParallel)
        (self.microbatches, self.zeroStage) = (microbatches, zeroStage)
    }

    public var devices: Int { dataParallel * tensorParallel * pipelineParallel }
}

/// Everything one simulated training iteration needs.
public struct ClusterConfiguration: Sendable {
    public var topology: ClusterTopology
    public var device: DeviceModel
    public var workload: WorkloadProfile
    public var layout: ParallelLayout
    public var precision: ComputePrecision
    public var algorithm: CollectiveAlgorithm
    public var compression: GradientCompression
    /// Optimizer state bytes per parameter (12 for mixed-precision Adam: fp32 master, m, v).
    public var optimizerBytesPerParameter: Double
    /// Gradient buckets: consecutive layers are merged until a bucket holds this many bytes.
    public var bucketBytes: Double
    public var faults: FaultSchedule
    public var seed: UInt64
    /// Record a timeline (compute spans, collective spans, message transfers).
    public var trace: Bool
    /// Message events recorded at most (the rest are counted, not recorded).
    public var traceMessageLimit: Int

    public init(
        topology: ClusterTopology, device: DeviceModel, workload: WorkloadProfile, layout: ParallelLayout, precision: ComputePrecision = .bf16,
        algorithm: CollectiveAlgorithm = .ring, compression: GradientCompression = .none, optimizerBytesPerParameter: Double = 12,
        bucketBytes: Double = 25e6, faults: FaultSchedule = FaultSchedule(), seed: UInt64 = 0, trace: Bool = false, traceMessageLimit: Int = 200_000
    ) {
        (self.topology, self.device, self.workload, self.layout, self.precision) = (topology, device, workload, layout, precision)
        (self.algorithm, self.compression, self.optimizerBytesPerParameter) = (algorithm, compression, optimizerBytesPerParameter)
        (self.bucketBytes, self.faults, self.seed, self.trace, self.traceMessageLimit) = (bucketBytes, faults, seed, trace, traceMessageLimit)
    }

    /// Checks that the cluster can hold the layout.
    public func validate() throws(SimulationError) {
        let l = layout
        for (name, v) in [("data", l.dataParallel), ("tensor", l.tensorParallel), ("pipeline", l.pipelineParallel), ("microbatches", l.microbatches)] where v < 1 {
            throw SimulationError(.invalidConfiguration, "parallelism.\(name) must be at least 1, got \(v)", field: "parallelism.\(name)")
        }
        guard l.devices <= topology.deviceCount else {
            throw SimulationError(
                .invalidConfiguration,
                "the layout needs \(l.devices) devices (data \(l.dataParallel) × tensor \(l.tensorParallel) × pipeline \(l.pipelineParallel)) but the cluster has \(topology.deviceCount) (\(topology.nodes) nodes × \(topology.devicesPerNode)); add nodes or lower the parallelism",
                field: "parallelism")
        }
        guard topology.devicesPerNode % l.tensorParallel == 0 || l.tensorParallel % topology.devicesPerNode == 0 else {
            throw SimulationError(.invalidConfiguration, "tensor parallelism \(l.tensorParallel) does not tile nodes of \(topology.devicesPerNode) devices", field: "parallelism.tensor")
        }
        guard l.pipelineParallel <= workload.layers.count else {
            throw SimulationError(.invalidConfiguration, "\(l.pipelineParallel) pipeline stages but the model has only \(workload.layers.count) layers", field: "parallelism.pipeline")
        }
        guard (0...3).contains(l.zeroStage) else {
            throw SimulationError(.invalidConfiguration, "ZeRO stage must be 0, 1, 2 or 3, got \(l.zeroStage)", field: "parallelism.zero")
        }
    }
}

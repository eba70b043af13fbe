public import DeepseekGraph
public import DeepseekTensor
public import DeepseekCore

/// Gives a device's kernels a duration other than the time they took to run: the simulator's
/// device model on virtual time.
///
/// A `DeviceActor` with pacing still runs every kernel on its backend (real values, or shapes
/// alone on `MetaBackend`), then waits in `pace` until the modelled device would have finished
/// it. Kernels on one device are paced one after another, in the order they arrived, so a
/// device does one thing at a time as a real one does.
public protocol KernelPacing: Sendable {
    /// Waits until `op`, run on inputs of `inputs`' types and producing `outputs`, would have
    /// finished on the modelled device, counting from when the device became free of its
    /// previous kernel.
    func pace(_ op: GraphOp, inputs: [TensorType], outputs: [TensorType]) async -> PacedKernel

    /// Waits while the modelled device runs an optimizer step over `parameters` scalars of
    /// which `shard` are this rank's (the update and the copies around it).
    func paceOptimizerStep(parameters: Int, shard: Int) async -> PacedKernel
}

/// When a paced kernel started on its device (on the pacing's clock) and the device seconds it took.
public struct PacedKernel: Sendable {
    public var started: Instant
    public var seconds: Double
    public init(started: Instant, seconds: Double) {
        self.started = started
        self.seconds = seconds
    }
}

extension CostModel {
    /// The work of `op` on inputs of `inputs`' types, computed on meta tensors (as
    /// `work(of:in:)`, without a graph).
    public static func work(of op: GraphOp, inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        if case .custom(let custom) = op { return custom.cost(inputs, outputs: outputs) }
        if op.isSource || op.isView { return KernelCost() }
        let meta = MetaBackend(recording: false)
        _ = try? KernelBackends.using(meta) { try op.evaluate(inputs.map { Tensor.meta($0.shape, dtype: $0.dtype) }) }
        return meta.total
    }
}

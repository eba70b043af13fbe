import DeepseekGraph
import DeepseekNN
public import DeepseekTensor

/// What a shape-only run of a model costs: parameters, FLOPs and bytes of one pass, activation memory.
public struct ModelSimulation: Sendable {
    /// Scalars in every parameter, batch-norm buffers included.
    public var parameterCount: Int
    /// Scalars in trainable parameters (the published figure).
    public var trainableParameterCount: Int
    /// Bytes the parameters take in their dtype.
    public var parameterBytes: Int
    /// The summed cost of every kernel of the pass, as `MetaBackend` counts it.
    public var cost: KernelCost
    /// The cost per kernel kind (`matmul`, `conv2d`, `softmax`, …).
    public var costByKernel: [String: KernelCost]
    /// Nodes in the graph that was run.
    public var nodeCount: Int
    /// The planned activation arena of the pass (liveness-based buffer reuse), in bytes.
    public var activationArenaBytes: Int
    /// Activation bytes if every value had its own buffer.
    public var unplannedActivationBytes: Int
}

extension ZooModel {
    /// Runs one forward pass (or, with `training`, the forward and backward pass of
    /// `trainingGraph()`) on `MetaBackend`: shapes and costs only, nothing allocated for values.
    ///
    /// Works for materialised and shape-only models alike; the feeds are meta tensors.
    public func simulate(training: Bool = false) throws -> ModelSimulation {
        let graph = try training ? trainingGraph().graph : trace()
        let parameterFeeds = parameterFeeds(for: graph).mapValues { Tensor.meta($0.shape, dtype: $0.dtype) }
        var inputs = [input.name: Tensor.meta(input.type.shape, dtype: input.type.dtype)]
        if training { inputs["targets"] = .meta(input.targets.shape, dtype: input.targets.dtype) }
        let meta = MetaBackend(recording: true)
        _ = try KernelBackends.using(meta) { try graph.run(GraphFeeds(inputs: inputs, parameters: parameterFeeds)) }
        var byKernel: [String: KernelCost] = [:]
        for record in meta.records { byKernel[record.kernel, default: KernelCost()] = byKernel[record.kernel, default: KernelCost()] + record.cost }
        let plan = try graph.memoryPlan().report
        return ModelSimulation(
            parameterCount: module.parameterCount, trainableParameterCount: module.trainableParameterCount,
            parameterBytes: module.parameters.reduce(0) { $0 + $1.value.byteCount }, cost: meta.total, costByKernel: byKernel,
            nodeCount: graph.nodes.count, activationArenaBytes: plan.arenaByteCount, unplannedActivationBytes: plan.unplannedByteCount)
    }
}

/// Memory per device for mixed-precision Adam training, by ZeRO stage (Rajbhandari et al. 2020):
/// 2 bytes per parameter for fp16/bf16 weights, 2 for their gradients and 12 for the optimizer
/// state (fp32 master weights, momentum and variance); stage 1 shards the optimizer state over
/// the `N` data-parallel ranks, stage 2 also the gradients, stage 3 also the weights.
///
/// | stage | parameters | gradients | optimizer |
/// |---|---|---|---|
/// | 0 | 2Ψ | 2Ψ | 12Ψ |
/// | 1 | 2Ψ | 2Ψ | 12Ψ/N |
/// | 2 | 2Ψ | 2Ψ/N | 12Ψ/N |
/// | 3 | 2Ψ/N | 2Ψ/N | 12Ψ/N |
public struct MemoryBreakdown: Sendable, Hashable {
    public var parameters: Double
    public var gradients: Double
    public var optimizerState: Double
    public var activations: Double

    public init(parameters: Double, gradients: Double, optimizerState: Double, activations: Double) {
        (self.parameters, self.gradients, self.optimizerState, self.activations) = (parameters, gradients, optimizerState, activations)
    }

    public var total: Double { parameters + gradients + optimizerState + activations }

    /// The model states of `parameters` scalars on one of `ranks` data-parallel ranks at ZeRO `stage`.
    public static func zero(
        parameters psi: Double, ranks n: Int, stage: Int, parameterBytes: Double = 2, gradientBytes: Double = 2, optimizerBytes: Double = 12, activations: Double = 0
    ) -> MemoryBreakdown {
        let n = Double(max(n, 1))
        return MemoryBreakdown(
            parameters: parameterBytes * psi / (stage >= 3 ? n : 1), gradients: gradientBytes * psi / (stage >= 2 ? n : 1),
            optimizerState: optimizerBytes * psi / (stage >= 1 ? n : 1), activations: activations)
    }
}

extension ClusterConfiguration {
    /// Memory of the devices in pipeline stage `stage`: its layers' parameters split over the
    /// tensor-parallel group, ZeRO sharding over the data-parallel ranks, and the activations of
    /// the microbatches 1F1B keeps in flight there (`min(microbatches, pipeline − stage)`).
    public func memory(stage: Int) -> MemoryBreakdown {
        let count = workload.layers.count, pp = layout.pipelineParallel
        let layers = (stage * count / pp)..<((stage + 1) * count / pp)
        let psi = Double(layers.reduce(0) { $0 + workload.layers[$1].parameters }) / Double(layout.tensorParallel)
        let inFlight = Double(min(layout.microbatches, pp - stage))
        let activations = layers.reduce(0.0) { $0 + workload.layers[$1].activationBytes } * precision.bytes / 4 / Double(layout.tensorParallel) * inFlight
        let p = precision.bytes
        return .zero(
            parameters: psi, ranks: layout.dataParallel, stage: layout.zeroStage, parameterBytes: p, gradientBytes: p,
            optimizerBytes: optimizerBytesPerParameter + (precision == .fp32 ? -4 : 0), activations: activations)
    }
}

import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor

extension Trainer {
    /// One optimizer step on `batch` with parameters and optimizer state kept in `offload`'s
    /// store: the same computation as `trainStep(_:)` (float32), within a memory budget.
    ///
    /// - Returns: the loss, the gradient norm when clipping, and whether the engine served the
    ///   graph from its plan cache.
    public func trainStep(_ batch: MiniBatch, offload: TrainingOffload) async throws -> (loss: Double, gradientNorm: Double?, planCacheHit: Bool) {
        if let schedule = settings.learningRate { optimizer.learningRate = schedule(globalStep) }
        try await offload.materialize(into: model)
        let (loss, computed, report) = try await forwardBackward(batch)
        var gradients = computed
        var norm: Double?
        if let maxNorm = settings.gradientClipNorm {
            (gradients, norm) = try clipGradients(gradients, maxNorm: maxNorm)
        }
        try await offload.update(optimizer, model: model, gradients: gradients)
        globalStep += 1
        return (loss, norm, report.planCacheHit)
    }
}

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
        let (loss, computed, report) = try await forwardBackward(batch, activations: offload.activations)
        var gradients = computed
        var norm: Double?
        if let maxNorm = settings.gradientClipNorm {
            (gradients, norm) = try clipGradients(gradients, maxNorm: maxNorm)
        }
        try await offload.update(optimizer, model: model, gradients: gradients)
        globalStep += 1
        return (loss, norm, report.planCacheHit)
    }

    /// `forwardBackward(_:)` (float32) with the activations saved for the backward pass kept by
    /// `activations` rather than in the engine's operator actors.
    func forwardBackward(_ batch: MiniBatch, activations: ActivationSpiller) async throws -> (loss: Double, gradients: [String: Tensor], report: EngineReport) {
        let n = batch.images.shape[0]
        let (graph, names) = try trainingGraph(batch: n)
        activations.begin(graph: graph, loss: graph.outputs[0])
        let result: EngineResult
        do {
            result = try await engine.run(
                graph, GraphFeeds(inputs: ["x": batch.images.reshaped(Shape([n] + settings.inputShape)), "labels": batch.labels], parameters: model.parameterValues),
                activations: activations)
        } catch {
            try? await activations.end()
            throw error
        }
        try await activations.end()
        let loss = try result.outputs[0].cast(to: .float64).item(as: Double.self)
        var gradients: [String: Tensor] = [:]
        let trainable = Set(model.parameters.filter(\.isTrainable).map(\.name))
        for (name, g) in zip(names, result.outputs.dropFirst()) where trainable.contains(name) { gradients[name] = g }
        return (loss, gradients, result.report)
    }
}

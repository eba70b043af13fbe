import DeepseekCore
import DeepseekGraph
public import DeepseekNN
public import DeepseekRuntime
import DeepseekTensor

/// Settings of `trainClassifier`.
public struct ClassifierTrainingSettings: Sendable {
    public var epochs: Int
    public var batchSize: Int
    /// Seeds the shuffle of the training set.
    public var seed: UInt64
    /// Examples per evaluation batch.
    public var evaluationBatchSize: Int
    /// Stop each epoch after this many steps (nil: the whole epoch) — for quick runs and tests.
    public var stepsPerEpoch: Int?

    public init(epochs: Int = 3, batchSize: Int = 128, seed: UInt64 = 0, evaluationBatchSize: Int = 1000, stepsPerEpoch: Int? = nil) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
        self.evaluationBatchSize = evaluationBatchSize
        self.stepsPerEpoch = stepsPerEpoch
    }
}

/// What one epoch of training did.
public struct EpochReport: Sendable, CustomStringConvertible {
    public var epoch: Int
    public var steps: Int
    public var meanLoss: Double
    public var testAccuracy: Double
    public var seconds: Double
    /// Plan-cache hits over steps: how often the traced graph was already planned.
    public var planCacheHits: Int

    public var description: String {
        let acc = (testAccuracy * 10000).rounded() / 100
        let loss = (meanLoss * 10000).rounded() / 10000
        let time = (seconds * 100).rounded() / 100
        return "epoch \(epoch + 1): \(steps) steps, mean loss \(loss), test accuracy \(acc)%, \(time) s, plan cache hits \(planCacheHits)/\(steps)"
    }
}

/// Trains a classifier through the graph engine: each step traces the model (define-by-run),
/// differentiates the loss, runs forward and backward on the engine's devices and applies the
/// optimizer; after each epoch the test set is classified through the engine.
///
/// The traced graph is the same every step, so the engine plans it once and serves later steps
/// from its plan cache.
public func trainClassifier(
    _ model: any Module, train: LabeledImages, test: LabeledImages, engine: Engine, optimizer: inout some Optimizer,
    settings: ClassifierTrainingSettings = ClassifierTrainingSettings(), onEpoch: (EpochReport) -> Void = { _ in }
) async throws -> [EpochReport] {
    let batches = try Batches(train, batchSize: settings.batchSize, shuffle: true, seed: settings.seed, dropLast: true)
    let features = train.images.shape.dims.dropFirst().reduce(1, *)
    var reports: [EpochReport] = []
    for epoch in 0..<settings.epochs {
        let clock = ContinuousClock()
        let start = clock.now
        var lossSum = 0.0
        var steps = 0
        var hits = 0
        for batch in batches.epoch(epoch) {
            if let limit = settings.stepsPerEpoch, steps >= limit { break }
            let step = try trainingStep(model, features: features, batch: settings.batchSize)
            let result = try await engine.run(
                step.graph, GraphFeeds(inputs: ["x": batch.images.reshaped([settings.batchSize, features]), "labels": batch.labels], parameters: model.parameterValues))
            lossSum += try result.outputs[0].scalarsAsDouble()[0]
            var gradients: [String: Tensor] = [:]
            let trainable = Set(model.parameters.filter(\.isTrainable).map(\.name))
            for (name, t) in zip(step.parameterNames, result.outputs.dropFirst()) where trainable.contains(name) { gradients[name] = t }
            try optimizer.step(model.parameters, gradients: gradients)
            steps += 1
            if result.report.planCacheHit { hits += 1 }
        }
        let accuracy = try await evaluate(model, test, engine: engine, batchSize: settings.evaluationBatchSize)
        let report = EpochReport(
            epoch: epoch, steps: steps, meanLoss: steps > 0 ? lossSum / Double(steps) : .nan, testAccuracy: accuracy,
            seconds: (clock.now - start).secondsValue, planCacheHits: hits)
        onEpoch(report)
        reports.append(report)
    }
    return reports
}

/// The fraction of `data` the model classifies correctly, run through the engine.
public func evaluate(_ model: any Module, _ data: LabeledImages, engine: Engine, batchSize: Int = 1000) async throws -> Double {
    let features = data.images.shape.dims.dropFirst().reduce(1, *)
    let batches = try Batches(data, batchSize: batchSize, shuffle: false)
    var correct = 0.0
    for batch in batches.epoch(0) {
        let n = batch.images.shape[0]
        let tracer = GraphTracer()
        let x = try tracer.input("x", TensorType([n, features]))
        let logits = try model(x)
        let graph = tracer.finish(outputs: [logits])
        let result = try await engine.run(graph, GraphFeeds(inputs: ["x": batch.images.reshaped([n, features])], parameters: model.parameterValues))
        correct += try accuracy(logits: result.outputs[0], labels: batch.labels) * Double(n)
    }
    return correct / Double(data.images.shape[0])
}

/// The forward-and-backward graph of one step and the parameter each gradient output belongs to.
func trainingStep(_ model: any Module, features: Int, batch: Int) throws -> (graph: Graph, parameterNames: [String]) {
    let tracer = GraphTracer()
    let x = try tracer.input("x", TensorType([batch, features]))
    let labels = try tracer.input("labels", TensorType([batch], .int64))
    let loss = try crossEntropy(logits: model(x), labels: labels)
    let forward = tracer.finish(outputs: [loss])
    let training = try forward.trainingGraph(loss: loss.id)
    let names = training.targets.map { forward[node: forward[value: $0].producer].name }
    return (training.graph, names)
}

extension Duration {
    var secondsValue: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

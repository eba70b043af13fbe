import DeepseekActors
import DeepseekCore
import DeepseekGraph
public import DeepseekNN
public import DeepseekRuntime
import DeepseekTensor
import DeepseekTracing

/// Settings of a `Trainer`.
public struct TrainerSettings: Sendable {
    public var epochs: Int
    public var batchSize: Int
    /// Seeds the data order (and, through the step number, anything random in the model).
    public var seed: UInt64
    /// The shape of one example as the model reads it, e.g. `[784]` or `[1, 28, 28]`.
    public var inputShape: [Int]
    public var evaluationBatchSize: Int
    /// Stop each epoch after this many steps (nil: the whole epoch).
    public var stepsPerEpoch: Int?
    /// Scale gradients down so their global norm is at most this.
    public var gradientClipNorm: Double?
    /// The learning rate at each global step (nil: the optimizer's own rate throughout).
    public var learningRate: (@Sendable (Int) -> Double)?
    /// Compute precision: float32, or float16/bfloat16 compute with float32 master weights
    /// (float16 with dynamic loss scaling and the adaptive precision switch).
    public var precision: Precision
    /// Batches the data-loader actor prepares ahead on a background task, so loading overlaps
    /// compute (0: batches are made in the training loop).
    public var prefetch: Int
    /// Random transformations of each training batch (crop, flip, jitter), seeded.
    public var augmentation: Augmentation?
    /// How progress is shown.
    public var progress: ProgressStyle
    /// Steps between log lines when progress is shown as lines.
    public var logEvery: Int

    public init(
        epochs: Int = 3, batchSize: Int = 64, seed: UInt64 = 0, inputShape: [Int] = [784], evaluationBatchSize: Int = 1000,
        stepsPerEpoch: Int? = nil, gradientClipNorm: Double? = nil, learningRate: (@Sendable (Int) -> Double)? = nil,
        precision: Precision = .fp32, prefetch: Int = 2, augmentation: Augmentation? = nil, progress: ProgressStyle = .none,
        logEvery: Int = 100
    ) {
        self.precision = precision
        self.prefetch = prefetch
        self.augmentation = augmentation
        self.epochs = epochs
        self.batchSize = batchSize
        self.seed = seed
        self.inputShape = inputShape
        self.evaluationBatchSize = evaluationBatchSize
        self.stepsPerEpoch = stepsPerEpoch
        self.gradientClipNorm = gradientClipNorm
        self.learningRate = learningRate
        self.progress = progress
        self.logEvery = logEvery
    }
}

/// How a trainer shows progress: a bar redrawn in place on a terminal, plain lines otherwise.
public enum ProgressStyle: Sendable {
    case none
    case lines
    case bar
    /// A bar when standard output is a terminal, lines otherwise.
    case automatic
}

/// One training step as callbacks see it.
public struct StepReport: Sendable {
    public var epoch: Int
    public var globalStep: Int
    public var stepInEpoch: Int
    public var stepsInEpoch: Int
    public var loss: Double
    public var learningRate: Double
    public var gradientNorm: Double?
    public var samplesPerSecond: Double
    /// Wall time of the step.
    public var seconds: Double
}

/// Loss and accuracy of a model on a dataset.
public struct Evaluation: Sendable, Hashable {
    public var loss: Double
    public var accuracy: Double
    public var examples: Int
}

/// Receives a trainer's progress.
public protocol TrainerCallback: AnyObject, Sendable {
    func trainerDidStep(_ report: StepReport)
    func trainerDidFinishEpoch(_ report: EpochReport)
}

extension TrainerCallback {
    public func trainerDidStep(_ report: StepReport) {}
    public func trainerDidFinishEpoch(_ report: EpochReport) {}
}

/// Trains a classifier through the graph engine, the way `torch` users expect a fit loop to
/// behave: `fit` runs epochs of shuffled mini-batches, `evaluate` measures loss and accuracy.
///
/// Each step traces the model (define-by-run), differentiates the loss — once per distinct graph:
/// the backward graph is cached by the forward graph's structural hash — and runs forward and
/// backward on the engine's devices; then the optimizer updates the parameters.
///
/// ```swift
/// let trainer = Trainer(model: model, optimizer: try SGD(learningRate: 0.1), engine: engine,
///                       settings: TrainerSettings(epochs: 3, inputShape: [784]))
/// let epochs = try await trainer.fit(train, validation: test)
/// ```
public final class Trainer<Opt: Optimizer>: @unchecked Sendable {
    public let model: any Module
    public var optimizer: Opt
    public let engine: Engine
    public var settings: TrainerSettings
    public var callbacks: [any TrainerCallback] = []
    /// Epochs finished so far (a resumed trainer continues after them).
    public var completedEpochs = 0
    /// Steps taken so far over all epochs.
    public var globalStep = 0
    /// Every finished epoch's report, in order.
    public private(set) var history: [EpochReport] = []
    var backwardCache: [StructuralHash: (graph: Graph, parameters: [String])] = [:]
    let progress: ProgressPrinter
    /// Dynamic loss scaling (float16 only).
    public var lossScaler: DynamicLossScaler?
    /// Which layers run in float32 for now (mixed precision only).
    public var precisionSwitch: AdaptivePrecisionSwitch?
    /// Steps skipped because a scaled gradient overflowed.
    public private(set) var skippedSteps = 0
    /// Keeps parameters and optimizer state in a tiered store within a memory budget between
    /// steps (`nil`: in memory). Call `offload.detach(from:)` to bring them back.
    public var offload: TrainingOffload?
    /// Data-parallel training: when set, each step trains on this rank's share of the batch and
    /// hands the gradients to the distributed optimizer instead of `optimizer.step`, evaluation
    /// is shared among the ranks, and checkpoints hold the consolidated optimizer state (see
    /// `Trainer+Distributed.swift`). Every rank must run the same trainer settings.
    public var distributed: DistributedOptimizer?
    /// Seconds this rank spent computing (forward and backward) and synchronising (the gradient
    /// reduction and the update, waiting for the other ranks) in distributed steps so far.
    public internal(set) var distributedSeconds: (compute: Double, synchronization: Double) = (0, 0)

    public init(model: any Module, optimizer: Opt, engine: Engine, settings: TrainerSettings = TrainerSettings()) {
        self.model = model
        self.optimizer = optimizer
        self.engine = engine
        self.settings = settings
        self.progress = ProgressPrinter(style: settings.progress)
        if settings.precision.needsLossScaling { lossScaler = DynamicLossScaler() }
        if settings.precision != .fp32 { precisionSwitch = try? AdaptivePrecisionSwitch(settings: .init(precision: settings.precision)) }
    }

    /// Trains until `settings.epochs` epochs are complete, evaluating on `validation` after each.
    ///
    /// - Returns: the reports of the epochs run by this call.
    public func fit(_ train: LabeledImages, validation: LabeledImages? = nil) async throws -> [EpochReport] {
        guard settings.batchSize >= 1, settings.epochs >= 0 else {
            throw DatasetError(.invalidArgument, "Trainer: batch size must be ≥ 1 and epochs ≥ 0 (got \(settings.batchSize), \(settings.epochs))")
        }
        let perExample = settings.inputShape.reduce(1, *)
        let features = train.images.shape.dims.dropFirst().reduce(1, *)
        guard perExample == features else {
            throw DatasetError(.inconsistent, "Trainer: inputShape \(settings.inputShape) holds \(perExample) values but each example has \(features); set TrainerSettings.inputShape to the model's input")
        }
        let batches = try Batches(train, batchSize: settings.batchSize, shuffle: true, seed: settings.seed, dropLast: true)
        var reports: [EpochReport] = []
        while completedEpochs < settings.epochs {
            let epoch = completedEpochs
            let clock = ContinuousClock()
            let start = clock.now
            var lossSum = 0.0
            var steps = 0
            var hits = 0
            let stepsInEpoch = min(settings.stepsPerEpoch ?? Int.max, batches.batchesPerEpoch)
            let source = try await BatchSource(batches, epoch: epoch, prefetch: settings.prefetch, augmentation: settings.augmentation)
            let tracer = engine.tracer.on(TraceTrack(node: engine.node.rank, thread: 2, name: "Trainer"))
            while steps < stepsInEpoch {
                let waitStart = tracer.isEnabled ? tracer.clock.now() : Instant(nanoseconds: 0)
                guard let batch = try await source.next() else { break }
                tracer.complete("next batch", category: .training, startedAt: waitStart)
                let stepStart = clock.now
                let traceStart = tracer.isEnabled ? tracer.clock.now() : Instant(nanoseconds: 0)
                let (loss, norm, hit) = try await trainStep(batch)
                if tracer.isEnabled {
                    tracer.complete("step \(globalStep - 1)", category: .training, startedAt: traceStart, arguments: ["epoch": .int(Int64(epoch)), "loss": .double(loss)])
                    tracer.counter("loss", value: loss, category: .training)
                    tracer.counter("learning rate", value: optimizer.learningRate, category: .training)
                    if let scaler = lossScaler { tracer.counter("loss scale", value: scaler.scale, category: .training) }
                }
                lossSum += loss
                steps += 1
                if hit { hits += 1 }
                let stepSeconds = (clock.now - stepStart).inSeconds
                let report = StepReport(
                    epoch: epoch, globalStep: globalStep, stepInEpoch: steps, stepsInEpoch: stepsInEpoch, loss: loss,
                    learningRate: optimizer.learningRate, gradientNorm: norm,
                    samplesPerSecond: Double(settings.batchSize) / stepSeconds, seconds: stepSeconds)
                progress.step(report, every: settings.logEvery, totalEpochs: settings.epochs)
                for c in callbacks { c.trainerDidStep(report) }
            }
            await source.stop()
            let trainSeconds = (clock.now - start).inSeconds
            var evaluation: Evaluation?
            if let validation { evaluation = try await evaluate(validation) }
            let report = EpochReport(
                epoch: epoch, steps: steps, meanLoss: steps > 0 ? lossSum / Double(steps) : .nan,
                testAccuracy: evaluation?.accuracy ?? .nan, seconds: (clock.now - start).inSeconds, planCacheHits: hits,
                testLoss: evaluation?.loss ?? .nan, samplesPerSecond: Double(steps * settings.batchSize) / trainSeconds)
            completedEpochs += 1
            history.append(report)
            reports.append(report)
            progress.epoch(report)
            for c in callbacks { c.trainerDidFinishEpoch(report) }
            if let distributed { try await distributedEpochFinished(distributed) }
        }
        return reports
    }

    /// One optimizer step on `batch`: returns the loss, the gradient norm when clipping, and
    /// whether the engine served the graph from its plan cache.
    public func trainStep(_ batch: MiniBatch) async throws -> (loss: Double, gradientNorm: Double?, planCacheHit: Bool) {
        if let offload { return try await trainStep(batch, offload: offload) }
        if let distributed { return try await trainStep(batch, distributed: distributed) }
        if let schedule = settings.learningRate { optimizer.learningRate = schedule(globalStep) }
        let scale = lossScaler?.scale ?? 1
        let (loss, computed, report) = try await forwardBackward(batch, lossScale: scale)
        var gradients = computed
        if settings.precision != .fp32 {
            // Unscale in float32, skip the step on overflow, and let the switch see the magnitudes.
            let unscaled = try UnscaledGradients(gradients, scale: scale)
            if var scaler = lossScaler {
                let decision = scaler.update(gradientsFinite: unscaled.isFinite)
                lossScaler = scaler
                if decision == .skip {
                    skippedSteps += 1
                    globalStep += 1
                    return (loss, nil, report.planCacheHit)
                }
            } else if !unscaled.isFinite {
                throw DatasetError(.invalidArgument, "Trainer: non-finite gradients for \(unscaled.nonFinite.prefix(3).joined(separator: ", ")) at step \(globalStep) (\(settings.precision)); lower the learning rate or use fp16 with loss scaling")
            }
            _ = precisionSwitch?.record(maxAbs: unscaled.maxAbs, lossScale: scale)
            gradients = unscaled.gradients
        }
        var norm: Double?
        if let maxNorm = settings.gradientClipNorm {
            (gradients, norm) = try clipGradients(gradients, maxNorm: maxNorm)
        }
        try optimizer.step(model.parameters, gradients: gradients)
        globalStep += 1
        return (loss, norm, report.planCacheHit)
    }

    /// Runs forward and backward on `batch` through the engine: the loss, the gradient of every
    /// trainable parameter (scaled by `lossScale`), and the engine's report.
    ///
    /// `gradientReady`, when given, hears of each trainable parameter's gradient (by name) the
    /// moment the engine has produced it, while the rest of backward still runs.
    func forwardBackward(
        _ batch: MiniBatch, lossScale: Double = 1, gradientReady: (@Sendable (String, Tensor) -> Void)? = nil
    ) async throws -> (loss: Double, gradients: [String: Tensor], report: EngineReport) {
        let n = batch.images.shape[0]
        let (graph, names) = try trainingGraph(batch: n, lossScale: lossScale)
        let trainable = Set(model.parameters.filter(\.isTrainable).map(\.name))
        // Output 0 is the loss; output i > 0 is the gradient of names[i - 1].
        let gradientName: [String?] = names.map { trainable.contains($0) ? $0 : nil }
        var outputReady: OutputHandler?
        if let gradientReady {
            outputReady = { i, t in
                if i > 0, i <= gradientName.count, let name = gradientName[i - 1] { gradientReady(name, t) }
            }
        }
        let result = try await engine.run(
            graph, GraphFeeds(inputs: ["x": batch.images.reshaped(Shape([n] + settings.inputShape)), "labels": batch.labels], parameters: model.parameterValues),
            outputReady: outputReady)
        let loss = try result.outputs[0].cast(to: .float64).item(as: Double.self)
        var gradients: [String: Tensor] = [:]
        for (name, g) in zip(gradientName, result.outputs.dropFirst()) { if let name { gradients[name] = g } }
        return (loss, gradients, result.report)
    }

    /// The forward-and-backward graph for a batch of `n`, differentiated once per structure.
    func trainingGraph(batch n: Int, lossScale: Double = 1) throws -> (Graph, [String]) {
        let (tracer, x, labels) = try traceInputs(batch: n, cast: precisionSwitch?.parameterCast())
        let loss = try crossEntropy(logits: logitsInFloat32(model(x)), labels: labels)
        let forward = tracer.finish(outputs: [loss])
        var hasher = StructuralHasher(seed: 1)
        hasher.combine(forward.structuralHash.high)
        hasher.combine(forward.structuralHash.low)
        hasher.combine(lossScale)
        let key = hasher.finalize()
        if let cached = backwardCache[key] { return cached }
        let training = try forward.trainingGraph(loss: loss.id, seed: lossScale == 1 ? .one : .constant(lossScale))
        let names = training.targets.map { forward[node: forward[value: $0].producer].name }
        let (fused, _) = try FusionPass().run(training.graph)
        backwardCache[key] = (fused, names)
        return (fused, names)
    }

    /// A tracer (casting parameters for mixed precision), the input cast to the compute dtype and the labels.
    func traceInputs(batch n: Int, cast: (@Sendable (String) -> DType?)?) throws -> (GraphTracer, SymbolicTensor, SymbolicTensor) {
        let tracer = cast.map { GraphTracer(parameterCast: $0) } ?? GraphTracer()
        var x = try tracer.input("x", TensorType(Shape([n] + settings.inputShape)))
        if settings.precision != .fp32 { x = try x.cast(to: settings.precision.computeDType) }
        let labels = try tracer.input("labels", TensorType([n], .int64))
        return (tracer, x, labels)
    }

    /// The loss is computed in float32 whatever the compute precision.
    func logitsInFloat32(_ logits: SymbolicTensor) throws -> SymbolicTensor {
        logits.dtype == .float32 ? logits : try logits.cast(to: .float32)
    }

    /// The batches of one epoch: from the prefetching data-loader actor, or made in the loop.
    final class BatchSource: @unchecked Sendable {
        let loader: DataLoader?
        var iterator: Batches.Epoch.Iterator?
        let augmentation: Augmentation?
        let epoch: Int
        var index = 0

        init(_ batches: Batches, epoch: Int, prefetch: Int, augmentation: Augmentation?) async throws {
            self.epoch = epoch
            self.augmentation = augmentation
            if prefetch > 0 {
                let loader = try DataLoader(batches, augmentation: augmentation, prefetch: prefetch)
                await loader.epoch(epoch)
                self.loader = loader
            } else {
                loader = nil
                iterator = batches.epoch(epoch).makeIterator()
            }
        }

        func next() async throws -> MiniBatch? {
            if let loader { return try await loader.next() }
            guard let batch = iterator?.next() else { return nil }
            defer { index += 1 }
            return try augmentation.map { try $0.apply(to: batch, epoch: epoch, index: index) } ?? batch
        }

        func stop() async { await loader?.stop() }
    }

    func restoreHistory(_ reports: [EpochReport]) { history = reports }

    /// Loss and accuracy on `data`, through the engine.
    public func evaluate(_ data: LabeledImages) async throws -> Evaluation {
        if let distributed { return try await evaluate(data, sharedWith: distributed) }
        try await offload?.materialize(into: model)
        let batches = try Batches(data, batchSize: settings.evaluationBatchSize, shuffle: false)
        var correct = 0.0
        var lossSum = 0.0
        for batch in batches.epoch(0) {
            let n = batch.images.shape[0]
            let (tracer, x, labels) = try traceInputs(batch: n, cast: precisionSwitch?.parameterCast())
            let logits = try logitsInFloat32(model(x))
            let loss = try crossEntropy(logits: logits, labels: labels)
            let graph = tracer.finish(outputs: [logits, loss])
            let result = try await engine.run(
                graph, GraphFeeds(inputs: ["x": batch.images.reshaped(Shape([n] + settings.inputShape)), "labels": batch.labels], parameters: model.parameterValues))
            correct += try accuracy(logits: result.outputs[0], labels: batch.labels) * Double(n)
            lossSum += try result.outputs[1].cast(to: .float64).item(as: Double.self) * Double(n)
        }
        let count = data.images.shape[0]
        return Evaluation(loss: lossSum / Double(count), accuracy: correct / Double(count), examples: count)
    }
}

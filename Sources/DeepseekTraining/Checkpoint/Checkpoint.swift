public import DeepseekCore
public import DeepseekNN
public import DeepseekTensor

/// Everything needed to continue a training run exactly where it stopped: the parameters, the
/// optimizer's state, the loss scaler and precision switch, the random generator, the position
/// in the data, the progress so far, and metadata that says which model it belongs to.
///
/// A checkpoint is a value; `write(to:)` stores it atomically in Deepseek's own binary format
/// (see `Checkpoint+Format.swift`) and `read(from:)` loads it, detecting truncation and
/// corruption. Restoring validates first and changes nothing when the checkpoint does not fit.
///
/// ```swift
/// let checkpoint = Checkpoint.capture(model: model, optimizer: optimizer, random: rng,
///                                     dataOrder: .init(seed: 7, epoch: 2, stepInEpoch: 40),
///                                     progress: .init(globalStep: 1240))
/// try checkpoint.write(to: "/runs/a/last.dsckpt")
/// // later, in a new process:
/// let resumed = try Checkpoint.read(from: "/runs/a/last.dsckpt")
/// try resumed.restore(into: model, optimizer: &optimizer)
/// ```
public struct Checkpoint: Sendable {
    /// The format version this build writes (and the newest it reads).
    public static let currentFormatVersion: UInt32 = 1

    /// Parameter values by name, in any dtype, stored bit for bit.
    public var parameters: [String: Tensor]
    /// The optimizer's state; `nil` for a weights-only checkpoint.
    public var optimizer: OptimizerState?
    /// The loss scaler's state when training with float16.
    public var lossScaler: DynamicLossScaler.State?
    /// The adaptive precision switch's state when one is used.
    public var precisionSwitch: AdaptivePrecisionSwitch.State?
    /// The training loop's random generator. `SeededRandom` exposes its four state words but not
    /// a pending Box–Muller deviate, so a generator restored after an odd number of
    /// `nextNormal()` calls continues with a fresh pair instead of the saved spare.
    public var random: SeededRandom?
    /// Where the data order stands.
    public var dataOrder: DataOrderState
    /// The global step and the metrics recorded so far.
    public var progress: TrainingProgress
    /// Format version and free-form tags.
    public var metadata: CheckpointMetadata

    public init(
        parameters: [String: Tensor], optimizer: OptimizerState? = nil, lossScaler: DynamicLossScaler.State? = nil,
        precisionSwitch: AdaptivePrecisionSwitch.State? = nil, random: SeededRandom? = nil,
        dataOrder: DataOrderState = DataOrderState(), progress: TrainingProgress = TrainingProgress(),
        metadata: CheckpointMetadata = CheckpointMetadata()
    ) {
        self.parameters = parameters
        self.optimizer = optimizer
        self.lossScaler = lossScaler
        self.precisionSwitch = precisionSwitch
        self.random = random
        self.dataOrder = dataOrder
        self.progress = progress
        self.metadata = metadata
    }

    /// The model signature of the parameters: sorted names with dtype and shape.
    public var signature: ModelSignature { ModelSignature(parameters) }

    /// Takes a checkpoint of a model (buffers included), its optimizer and the loop's state.
    ///
    /// Tensors are values, so the checkpoint keeps the parameters as they are now even when
    /// training goes on before it is written.
    public static func capture(
        model: any Module, optimizer: some Optimizer, lossScaler: DynamicLossScaler? = nil,
        precisionSwitch: AdaptivePrecisionSwitch? = nil, random: SeededRandom? = nil,
        dataOrder: DataOrderState = DataOrderState(), progress: TrainingProgress = TrainingProgress(),
        tags: [String: String] = [:]
    ) -> Checkpoint {
        Checkpoint(
            parameters: model.parameterValues, optimizer: optimizer.state, lossScaler: lossScaler?.state,
            precisionSwitch: precisionSwitch?.state, random: random, dataOrder: dataOrder, progress: progress,
            metadata: CheckpointMetadata(tags: tags))
    }

    /// Takes a weights-only checkpoint of a model (no optimizer state).
    public static func capture(model: any Module, tags: [String: String] = [:]) -> Checkpoint {
        Checkpoint(parameters: model.parameterValues, metadata: CheckpointMetadata(tags: tags))
    }

    /// Writes the checkpoint's parameter values into `model`.
    ///
    /// The model's signature is checked first; when it differs nothing is changed.
    /// - Parameter convertingDTypes: accept parameters whose dtype differs from the model's and
    ///   cast them (for example a float32 checkpoint into a model cast to bfloat16).
    /// - Throws: `CheckpointError.modelMismatch` listing the first differing parameters.
    public func restore(into model: any Module, convertingDTypes: Bool = false) throws {
        let values = try preparedValues(for: model, convertingDTypes: convertingDTypes)
        for p in model.parameters { if let v = values[p.name] { p.value = v } }
    }

    /// Writes the parameter values into `model` and the optimizer state into `optimizer`.
    ///
    /// Both are checked before either changes: a checkpoint of another model, one without
    /// optimizer state, or one from another optimizer kind leaves model and optimizer as they were.
    /// - Throws: `CheckpointError.modelMismatch` or `.optimizerMismatch`.
    public func restore<O: Optimizer>(into model: any Module, optimizer: inout O, convertingDTypes: Bool = false) throws {
        let values = try preparedValues(for: model, convertingDTypes: convertingDTypes)
        guard let state = self.optimizer, state.kind == optimizer.state.kind else {
            let saved = self.optimizer.map { "state of a \"\($0.kind)\" optimizer" } ?? "no optimizer state (it holds weights only)"
            throw CheckpointError(
                .optimizerMismatch,
                "the checkpoint holds \(saved) but the optimizer is \"\(optimizer.state.kind)\"; resume with the optimizer the checkpoint was made with, or restore the weights alone with restore(into:)")
        }
        var restored = optimizer
        do {
            try restored.restore(state)
        } catch {
            throw CheckpointError(.optimizerMismatch, "the optimizer refused the saved state: \(error)", cause: error)
        }
        for p in model.parameters { if let v = values[p.name] { p.value = v } }
        optimizer = restored
    }

    /// The values to assign, after checking the model's signature against the checkpoint's.
    func preparedValues(for model: any Module, convertingDTypes: Bool) throws -> [String: Tensor] {
        let expected = ModelSignature(model.parameterValues)
        let differences = expected.differences(from: signature, ignoringDTypes: convertingDTypes)
        guard differences.isEmpty else {
            let shown = differences.prefix(5).joined(separator: "; ")
            let more = differences.count > 5 ? "; and \(differences.count - 5) more" : ""
            throw CheckpointError(
                .modelMismatch,
                "the checkpoint was made from another model (\(signature.entries.count) parameters, the model has \(expected.entries.count)): \(shown)\(more); restore it into the model it was saved from")
        }
        var values: [String: Tensor] = [:]
        for entry in expected.entries {
            let saved = parameters[entry.name]!
            values[entry.name] = saved.dtype == entry.dtype ? saved : try saved.cast(to: entry.dtype)
        }
        return values
    }
}

/// Where a training run stands in its data: the shuffle seed, the epoch and the step within it.
public struct DataOrderState: Sendable, Hashable {
    /// The seed the data order is drawn from (`Batches(seed:)`).
    public var seed: UInt64
    /// The epoch in progress (0-based).
    public var epoch: Int
    /// Steps already taken in `epoch`: resuming skips these batches.
    public var stepInEpoch: Int

    public init(seed: UInt64 = 0, epoch: Int = 0, stepInEpoch: Int = 0) {
        self.seed = seed
        self.epoch = epoch
        self.stepInEpoch = stepInEpoch
    }
}

/// How far training has come: the global step and every metric recorded so far.
public struct TrainingProgress: Sendable {
    /// Optimizer steps taken over all epochs.
    public var globalStep: Int
    /// Metric histories by name (`loss`, `validation.accuracy`, …), oldest first.
    public var metrics: [String: [Double]]

    public init(globalStep: Int = 0, metrics: [String: [Double]] = [:]) {
        self.globalStep = globalStep
        self.metrics = metrics
    }
}

/// What a checkpoint says about itself beyond its contents.
public struct CheckpointMetadata: Sendable, Hashable {
    /// The format version of the file it was read from (`Checkpoint.currentFormatVersion` for a
    /// checkpoint made in memory: writing always uses the current version).
    public var formatVersion: UInt32
    /// Free-form labels: run name, code revision, dataset, …
    public var tags: [String: String]

    public init(formatVersion: UInt32 = Checkpoint.currentFormatVersion, tags: [String: String] = [:]) {
        self.formatVersion = formatVersion
        self.tags = tags
    }
}

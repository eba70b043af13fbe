import DeepseekCore
public import DeepseekNN
public import DeepseekStorage
import DeepseekTensor

/// Training within a memory budget: parameters and optimizer state live in a `TieredStore`
/// (memory over an SSD tier) and are brought into memory when a step needs them.
///
/// A step runs in two phases, announced to the store as a schedule so that it reads ahead:
/// step 0 brings every parameter in for the forward and backward pass (the graph engine takes
/// all parameter values at once); then, parameter by parameter, the optimizer update reads the
/// parameter and its optimizer state, updates them and puts them back. The update is the
/// optimizer's own `step` applied to one parameter at a time with its state restored from the
/// store — the same arithmetic as a step over all parameters (the Adam family keeps update
/// counts per parameter), so the loss sequence is identical to training without a budget.
///
/// Between steps, memory holds at most `memoryBudgetBytes` of parameters and optimizer state;
/// the rest is on the SSD. While the forward and backward pass runs, the full parameter set is
/// in memory in addition (the engine's feeds). The activations the engine keeps for the
/// backward pass go through an `ActivationSpiller`: beyond `activationBudgetBytes` the ones
/// needed last are written to the same SSD tier and read back, in the order the backward pass
/// needs them, before it asks for them.
///
/// ```swift
/// let offload = try await TrainingOffload(trainer: trainer, memoryBudgetBytes: 8 << 20, directory: "/var/tmp")
/// for batch in batches { _ = try await trainer.trainStep(batch, offload: offload) }
/// try await offload.detach(from: trainer)     // parameters and state back in the model and optimizer
/// ```
public final class TrainingOffload: @unchecked Sendable {
    /// The store holding parameters (`param/<name>`) and optimizer state (`optim/<key>`).
    public let store: TieredStore
    /// The bytes of memory the store may hold.
    public let memoryBudgetBytes: Int
    /// Keeps the activations saved for the backward pass within their budget.
    public let activations: ActivationSpiller
    /// Parameter names in model order, and their types.
    let parameters: [(name: String, shape: Shape, dtype: DType)]
    /// The optimizer state tensors of each parameter (known after its first update).
    var stateKeys: [String: [String]] = [:]
    /// The optimizer's scalars (learning rate, per-parameter update counts).
    var scalars: [String: Double] = [:]
    /// The optimizer's kind and its count of `step` calls.
    var kind: String
    var optimizerSteps: Int

    /// Moves the trainer's parameters and optimizer state into a new store and leaves shape-only
    /// placeholders in the model (and an empty state in the optimizer) until they are needed.
    ///
    /// - Parameters:
    ///   - memoryBudgetBytes: the most bytes of parameters and optimizer state kept in memory.
    ///   - directory: where the SSD tier's (anonymous) file goes.
    ///   - prefetch: read ahead from the step's schedule (off: read on demand only).
    ///   - activationBudgetBytes: the most bytes of activations saved for the backward pass kept
    ///     in memory (`nil`: `memoryBudgetBytes`); the rest is spilled to the SSD.
    public init<Opt: Optimizer>(
        trainer: Trainer<Opt>, memoryBudgetBytes: Int, directory: String, prefetch: Bool = true, activationBudgetBytes: Int? = nil
    ) async throws {
        guard trainer.settings.precision == .fp32 else {
            throw StorageError(.invalidArgument, "training with a memory budget supports float32 training only, not \(trainer.settings.precision)")
        }
        let ssd = try SSDTier(SSDTierSettings(directory: directory))
        store = TieredStore(
            lower: ssd, settings: TieredStoreSettings(memoryBudgetBytes: memoryBudgetBytes, prefetch: prefetch, lookahead: 3))
        self.memoryBudgetBytes = memoryBudgetBytes
        activations = ActivationSpiller(budgetBytes: activationBudgetBytes ?? memoryBudgetBytes, tier: ssd)
        parameters = trainer.model.parameters.map { ($0.name, $0.value.shape, $0.value.dtype) }
        let state = trainer.optimizer.state
        kind = state.kind
        optimizerSteps = state.step
        scalars = state.scalars
        var entries: [(key: StorageKey, tensor: Tensor)] = []
        for p in trainer.model.parameters { entries.append((Self.parameterKey(p.name), p.value)) }
        for (key, t) in state.tensors {
            entries.append((Self.stateKey(key), t))
            // State keys are `<slot>.<parameter>` (m.fc1.weight, momentum.fc1.weight).
            if let owner = key.split(separator: ".", maxSplits: 1).last.map(String.init), parameters.contains(where: { $0.name == owner }) {
                stateKeys[owner, default: []].append(key)
            }
        }
        try await store.store(entries)
        try trainer.optimizer.restore(OptimizerState(kind: kind, step: optimizerSteps, scalars: scalars))
        release(trainer.model)
        await store.setSchedule(schedule())
    }

    static func parameterKey(_ name: String) -> StorageKey { StorageKey("param/" + name) }
    static func stateKey(_ key: String) -> StorageKey { StorageKey("optim/" + key) }

    /// Step 0: every parameter (forward and backward); then one step per parameter's update.
    func schedule() -> [[StorageKey]] {
        [parameters.map { Self.parameterKey($0.name) }]
            + parameters.map { p in [Self.parameterKey(p.name)] + (stateKeys[p.name] ?? []).sorted().map(Self.stateKey) }
    }

    /// Replaces each parameter's value by a shape-only placeholder, so its memory is the store's alone.
    func release(_ model: any Module) {
        for p in model.parameters { p.value = Tensor.meta(p.value.shape, dtype: p.value.dtype) }
    }

    /// Loads every parameter into the model (for the forward pass, evaluation or a checkpoint).
    public func materialize(into model: any Module) async throws {
        await store.advance(to: 0)
        let values = try await store.load(parameters.map { Self.parameterKey($0.name) })
        for (p, v) in zip(model.parameters, values) { p.value = v }
    }

    /// Updates every parameter that has a gradient, one at a time, with its optimizer state from
    /// the store; the model's parameters are released afterwards.
    func update<Opt: Optimizer>(_ optimizer: Opt, model: any Module, gradients: [String: Tensor]) async throws {
        let trainable = Dictionary(uniqueKeysWithValues: model.parameters.map { ($0.name, $0.isTrainable) })
        release(model)
        var learned = false
        let stepsBefore = optimizerSteps
        for (i, p) in parameters.enumerated() {
            guard trainable[p.name] == true, let g = gradients[p.name] else { continue }
            await store.advance(to: 1 + i)
            let keys = (stateKeys[p.name] ?? []).sorted()
            let loaded = try await store.load([Self.parameterKey(p.name)] + keys.map(Self.stateKey))
            var tensors: [String: Tensor] = [:]
            for (key, t) in zip(keys, loaded.dropFirst()) { tensors[key] = t }
            var single = optimizer
            try single.restore(OptimizerState(kind: kind, step: stepsBefore, scalars: scalars, tensors: tensors))
            single.learningRate = optimizer.learningRate
            let parameter = Parameter(p.name, loaded[0])
            try single.step([parameter], gradients: [p.name: g])
            let after = single.state
            for (key, value) in after.scalars { scalars[key] = value }
            var entries: [(key: StorageKey, tensor: Tensor)] = [(Self.parameterKey(p.name), parameter.value)]
            let newKeys = after.tensors.keys.sorted()
            for key in newKeys { entries.append((Self.stateKey(key), after.tensors[key]!)) }
            if newKeys != keys {
                stateKeys[p.name] = newKeys
                learned = true
            }
            try await store.store(entries)
        }
        optimizerSteps = stepsBefore + 1
        if learned { await store.setSchedule(schedule()) }
    }

    /// Puts parameters and optimizer state back into the model and the trainer's optimizer.
    public func detach<Opt: Optimizer>(from trainer: Trainer<Opt>) async throws {
        try await materialize(into: trainer.model)
        var tensors: [String: Tensor] = [:]
        for keys in stateKeys.values {
            let values = try await store.load(keys.map(Self.stateKey))
            for (k, v) in zip(keys, values) { tensors[k] = v }
        }
        try trainer.optimizer.restore(OptimizerState(kind: kind, step: optimizerSteps, scalars: scalars, tensors: tensors))
    }

    /// The bytes of parameters and optimizer state a model and optimizer hold: the quantity a
    /// budget such as "25 %" is a fraction of.
    public static func stateBytes(model: any Module, optimizerStateTensorsPerParameter slots: Int) -> Int {
        model.parameters.reduce(0) { $0 + $1.value.byteCount } * (1 + slots)
    }
}

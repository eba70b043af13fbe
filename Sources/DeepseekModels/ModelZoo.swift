public import DeepseekCore
public import DeepseekGraph
public import DeepseekNN
public import DeepseekTensor

/// What a zoo model reads: its input's name and type, and the targets its training loss compares with.
public struct ModelInputSpec: Sendable, Hashable {
    /// The graph input's name (`x` for images and features, `ids` for token ids).
    public var name: String
    public var type: TensorType
    /// Integer targets: class labels `[N]`, or next-token ids `[N, tokens]`.
    public var targets: TensorType
    /// The number of classes (or the vocabulary) the targets range over.
    public var classes: Int

    public init(name: String, type: TensorType, targets: TensorType, classes: Int) {
        (self.name, self.type, self.targets, self.classes) = (name, type, targets, classes)
    }
}

/// An error from the model zoo: an unknown model name, or sizes that do not fit the model.
public struct ModelZooError: DeepseekError {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }
        /// No model of that name (the message lists the known ones).
        public static let unknownModel = Code("unknownModel")
        /// A batch size or sequence length out of range.
        public static let invalidArgument = Code("invalidArgument")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        (self.code, self.message, self.cause) = (code, message, cause)
        location = SourceLocation(file: file, line: line)
    }
}

/// One model of the zoo: its name, how to build it and what it reads.
public struct ModelZooEntry: Sendable {
    /// The registry name, lower case: `resnet50`, `gpt3-175b`, `vit-base`.
    public let name: String
    public let summary: String
    /// The parameter count the literature gives, when it gives one.
    public let publishedParameterCount: Int?
    /// Where `publishedParameterCount` comes from.
    public let source: String
    let make: @Sendable (inout ParameterFactory) throws -> any Module
    let input: @Sendable (_ batch: Int, _ tokens: Int?) throws -> ModelInputSpec

    public init(
        name: String, summary: String, published: Int?, source: String, make: @escaping @Sendable (inout ParameterFactory) throws -> any Module,
        input: @escaping @Sendable (_ batch: Int, _ tokens: Int?) throws -> ModelInputSpec
    ) {
        (self.name, self.summary, self.publishedParameterCount, self.source) = (name, summary, published, source)
        (self.make, self.input) = (make, input)
    }

    /// The input of this model for `batch` examples (and `tokens` per sequence, for language models).
    public func inputSpec(batch: Int = 1, tokens: Int? = nil) throws -> ModelInputSpec { try input(batch, tokens) }
}

/// The registry of models: a name → a module and the input it reads, materialised or shape-only.
///
/// Names pair a family and a size (`resnet50`, `gpt2-124m`, `vit-base`); `build(name:size:)`
/// also accepts them apart (`"resnet", size: "50"`). With `materialize: false` every parameter
/// is a meta tensor, so the largest models (`gpt3-175b`, `gpt-1t`) are built, counted and
/// simulated on `MetaBackend` without allocating their weights.
///
/// ```swift
/// let gpt3 = try ModelZoo.build(name: "gpt3-175b", materialize: false)
/// gpt3.module.trainableParameterCount          // 174,604,259,328
/// let flops = try gpt3.simulate().cost.flops   // ≈ 7.35·10¹⁴ for one 2048-token sequence
/// ```
public enum ModelZoo {
    /// Every model, in listing order.
    public static let entries: [ModelZooEntry] = classicEntries + visionEntries + encoderEntries + decoderEntries

    /// The registry names, in listing order.
    public static var names: [String] { entries.map(\.name) }

    /// The entry named `name` (case-insensitive), or `name` joined with `size` (`resnet` + `50`,
    /// `gpt2` + `124m`).
    ///
    /// - Throws: `ModelZooError.unknownModel`, listing the known names.
    public static func entry(named name: String, size: String? = nil) throws -> ModelZooEntry {
        let base = name.lowercased()
        let candidates = size.map { s in [base + s.lowercased(), base + "-" + s.lowercased()] } ?? [base]
        for candidate in candidates {
            if let entry = entries.first(where: { $0.name == candidate }) { return entry }
        }
        let asked = size.map { "\(name)\" size \"\($0)" } ?? name
        throw ModelZooError(.unknownModel, "no model \"\(asked)\" in the zoo; known models: \(names.joined(separator: ", "))")
    }

    /// Builds a model and its input spec.
    ///
    /// - Parameters:
    ///   - name: a registry name, or a family when `size` is given.
    ///   - batch: examples per input (default 1).
    ///   - tokens: sequence length for language models (default: the model's context).
    ///   - materialize: `false` makes every parameter a meta tensor (shape-only simulation).
    ///   - seed: seeds the initial weights.
    ///   - dtype: the parameters' dtype.
    /// - Throws: `ModelZooError` for an unknown name or a bad size; `NNError` from the layers.
    public static func build(
        name: String, size: String? = nil, batch: Int = 1, tokens: Int? = nil, materialize: Bool = true, seed: UInt64 = 0,
        dtype: DType = .float32
    ) throws -> ZooModel {
        let entry = try entry(named: name, size: size)
        guard batch >= 1 else { throw ModelZooError(.invalidArgument, "\(entry.name): batch must be at least 1, got \(batch)") }
        var factory = ParameterFactory(seed: seed, materialize: materialize, dtype: dtype)
        let module = try entry.make(&factory)
        if !materialize {
            // Models from DeepseekNN fill their weights when built; keep only their shapes.
            for p in module.parameters where !p.value.isMeta { p.value = .meta(p.value.shape, dtype: dtype) }
        }
        return ZooModel(entry: entry, module: module, input: try entry.input(batch, tokens), mode: factory.mode)
    }
}

/// A built zoo model: the module, the input it reads and the switch between training and inference.
public struct ZooModel: Sendable {
    public let entry: ModelZooEntry
    public let module: any Module
    public let input: ModelInputSpec
    /// Training (batch-norm with batch statistics) or inference; read when a graph is traced.
    public let mode: ModelMode

    /// Pairs a module with its entry and input; `mode` must be the one its layers were built with.
    public init(entry: ModelZooEntry, module: any Module, input: ModelInputSpec, mode: ModelMode) {
        (self.entry, self.module, self.input, self.mode) = (entry, module, input, mode)
    }

    public var name: String { entry.name }

    /// The current values of the parameters `graph` reads, by name: a graph traced in training
    /// mode leaves batch-norm's running statistics out, BERT's leaves an unused pooler out.
    public func parameterFeeds(for graph: Graph) -> [String: Tensor] {
        let read = Set(graph.parameterNodes.map(\.name))
        return module.parameterValues.filter { read.contains($0.key) }
    }

    /// The forward graph: `input.name` in, logits out.
    public func trace() throws -> Graph { try module.trace(input.type, name: input.name) }

    /// The training graph: the mean cross-entropy of the logits against an int64 input `targets`,
    /// then the gradient of every parameter (`[loss, dW…]`), traced in training mode (the mode is
    /// switched back afterwards, so do not trace the same model from two threads at once).
    public func trainingGraph() throws -> GradientGraph {
        let wasTraining = mode.isTraining
        mode.isTraining = true
        defer { mode.isTraining = wasTraining }
        let tracer = GraphTracer()
        let x = try tracer.input(input.name, input.type)
        let targets = try tracer.input("targets", input.targets)
        var logits = try module(x)
        if logits.rank == 3 {
            // Next-token logits [N, T, V] → [N·T, V] against targets [N, T] → [N·T].
            logits = try logits.reshaped([logits.shape[0] * logits.shape[1], logits.shape[2]])
        }
        let flatTargets = try targets.reshaped([logits.shape[0]])
        let loss = try logits.crossEntropy(labels: flatTargets)
        return try tracer.finish(outputs: [loss]).trainingGraph(loss: loss.id)
    }
}

extension Module {
    /// The number of scalars in trainable parameters — the figure papers publish (batch-norm's
    /// running statistics left out).
    public var trainableParameterCount: Int { trainableParameters.reduce(0) { $0 + $1.value.elementCount } }
}

public import DeepseekGraph
public import DeepseekNN
public import DeepseekTensor

/// The BERT encoder (Devlin et al. 2018) in any size: base, large, MiniLM or a tiny one for tests.
///
/// Parameters carry the names of Hugging Face's `BertModel` (`embeddings.word_embeddings.weight`,
/// `encoder.layer.3.attention.self.query.weight`, `pooler.dense.bias`), so a `model.safetensors`
/// from the Hub loads with `load(safetensorsAt:)` and no renaming. Built with a materialising
/// `ParameterFactory` it trains and runs; with a meta factory it costs no weight memory and
/// traces for the simulator (`MetaBackend`), where `parameterCount` gives the published sizes.
///
/// Inputs of a traced graph:
/// - token ids `[batch, tokens]`, int64 or int32;
/// - an attention mask `[batch, tokens]` of the model's float dtype, 1 for real tokens and 0 for
///   padding (optional: without it every token attends to every token);
/// - segment ids `[batch, tokens]` (optional: all 0).
///
/// The output is the last hidden state `[batch, tokens, hidden]`; `pool(_:)` adds the pooler.
///
/// ```swift
/// var factory = ParameterFactory(seed: 0)
/// let bert = try BERTModel(.tiny(), factory: &factory)
/// let tracer = GraphTracer()
/// let ids = try tracer.input("input_ids", TensorType([2, 8], .int64))
/// let mask = try tracer.input("attention_mask", TensorType([2, 8]))
/// let hidden = try bert.encode(ids: ids, attentionMask: mask)      // float32[2, 8, 16]
/// ```
public final class BERTModel: Module {
    public let configuration: BERTConfiguration
    public let embeddings: BERTEmbeddings
    public let layers: [BERTLayer]
    /// `pooler.dense`, when the configuration has a pooler.
    public let pooler: ZooLinear?

    /// Builds the model; parameters come from `factory` (PyTorch's initialisers, or meta tensors).
    ///
    /// - Throws: `NNError.invalidArgument` for a configuration that cannot be built.
    public init(_ configuration: BERTConfiguration, factory: inout ParameterFactory) throws {
        try configuration.validate()
        self.configuration = configuration
        embeddings = try BERTEmbeddings(configuration, factory: &factory).named("embeddings")
        var layers: [BERTLayer] = []
        for i in 0..<configuration.layers {
            layers.append(try BERTLayer(configuration, factory: &factory).named("encoder.layer.\(i)"))
        }
        self.layers = layers
        pooler = configuration.pooler ? try ZooLinear(configuration.hiddenSize, configuration.hiddenSize, factory: &factory).named("pooler.dense") : nil
    }

    /// Builds the model with weights drawn from `seed` (or meta tensors when `materialize` is `false`).
    public convenience init(_ configuration: BERTConfiguration, seed: UInt64 = 0, materialize: Bool = true) throws {
        var factory = ParameterFactory(seed: seed, materialize: materialize)
        try self.init(configuration, factory: &factory)
    }

    /// The last hidden state for token ids `[batch, tokens]`, without padding.
    public func callAsFunction(_ ids: SymbolicTensor) throws -> SymbolicTensor {
        try encode(ids: ids, attentionMask: nil, tokenTypes: nil)
    }

    /// The last hidden state `[batch, tokens, hidden]`.
    ///
    /// - Parameters:
    ///   - ids: token ids `[batch, tokens]`.
    ///   - attentionMask: 1 for tokens to attend to, 0 for padding, `[batch, tokens]`, float.
    ///   - tokenTypes: segment ids `[batch, tokens]`, or `nil` for all 0.
    /// - Throws: `NNError.shapeMismatch` when the shapes do not agree or exceed `maxPositions`.
    public func encode(ids: SymbolicTensor, attentionMask: SymbolicTensor? = nil, tokenTypes: SymbolicTensor? = nil) throws -> SymbolicTensor {
        var x = try ids.tracer.scope("embeddings") { try embeddings.embed(ids, tokenTypes: tokenTypes) }
        var bias: SymbolicTensor?
        if let attentionMask {
            bias = try Self.maskBias(attentionMask, batch: ids.shape[0], tokens: ids.shape[1])
        }
        for (i, layer) in layers.enumerated() {
            x = try ids.tracer.scope("encoder.layer.\(i)") { try layer.forward(x, maskBias: bias) }
        }
        return x
    }

    /// `tanh(dense(hidden[:, 0]))`: the pooled `[CLS]` vector `[batch, hidden]` (the input of BERT's
    /// classification heads).
    ///
    /// - Throws: `NNError.invalidArgument` when the configuration has no pooler.
    public func pool(_ hidden: SymbolicTensor) throws -> SymbolicTensor {
        guard let pooler else { throw NNError(.invalidArgument, "BERTModel.pool: this configuration has no pooler (pooler: false)") }
        let first = try hidden.bertRecord(.slice(axis: 1, start: 0, end: 1, step: 1), name: "pooler.first")
            .bertRecord(.reshape([hidden.shape[0], hidden.shape[2]]), name: "pooler.squeeze")
        return try pooler(first, scope: "pooler.dense").bertRecord(.unary(.tanh), name: "pooler.tanh")
    }

    /// The additive attention bias `[batch, 1, 1, tokens]`: 0 where the mask is 1, −10⁹ where it is 0
    /// (−6·10⁴ in float16, which cannot hold 10⁹), so padded keys get zero attention weight.
    static func maskBias(_ mask: SymbolicTensor, batch: Int, tokens: Int) throws -> SymbolicTensor {
        guard mask.shape == [batch, tokens] else {
            throw NNError(.shapeMismatch, "BERT: the attention mask must be [batch, tokens] = [\(batch), \(tokens)] like the ids, got \(mask.shape)")
        }
        guard mask.dtype.isFloatingPoint else {
            throw NNError(.dtypeMismatch, "BERT: the attention mask must be floating point (1 keep, 0 pad), got \(mask.dtype)")
        }
        let large = mask.dtype == .float16 ? 6e4 : 1e9
        return try mask.bertScalar(.sub, 1, name: "mask.shift").bertScalar(.mul, large, name: "mask.scale")
            .bertRecord(.reshape([batch, 1, 1, tokens]), name: "mask.bias")
    }

    public var parameters: [Parameter] {
        embeddings.parameters + layers.flatMap(\.parameters) + (pooler?.parameters ?? [])
    }
}

extension Module {
    /// The values of the parameters `graph` reads, by name — the feeds of a graph that uses only part
    /// of the model (a BERT graph without the pooler, say), which `Graph.run` requires exactly.
    public func parameterValues(readBy graph: Graph) -> [String: Tensor] {
        var values: [String: Tensor] = [:]
        for p in parameters {
            if let node = graph.node(named: p.name), case .parameter = node.op { values[p.name] = p.value }
        }
        return values
    }
}

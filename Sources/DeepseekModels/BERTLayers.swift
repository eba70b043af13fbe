public import DeepseekGraph
public import DeepseekNN
import DeepseekTensor

/// BERT's input embeddings: word + segment + position vectors, then layer normalisation.
///
/// Parameters (Hugging Face names): `word_embeddings.weight` `[vocab, hidden]`,
/// `position_embeddings.weight` `[maxPositions, hidden]`, `token_type_embeddings.weight`
/// `[types, hidden]`, `LayerNorm.weight`, `LayerNorm.bias`. Positions are `0..<tokens`, read as a
/// slice of the table (no gather needed); without segment ids every token is segment 0.
public final class BERTEmbeddings: Module {
    public let words: ZooEmbedding
    public let positions: ZooEmbedding
    public let tokenTypes: ZooEmbedding
    public let norm: ZooLayerNorm

    public init(_ c: BERTConfiguration, factory: inout ParameterFactory) throws {
        words = try ZooEmbedding(c.vocabularySize, c.hiddenSize, factory: &factory).named("word_embeddings")
        positions = try ZooEmbedding(c.maxPositions, c.hiddenSize, factory: &factory).named("position_embeddings")
        tokenTypes = try ZooEmbedding(c.typeVocabularySize, c.hiddenSize, factory: &factory).named("token_type_embeddings")
        norm = try ZooLayerNorm(c.hiddenSize, epsilon: c.layerNormEpsilon, factory: &factory).named("LayerNorm")
    }

    /// Embeds ids `[batch, tokens]` (int32 or int64) without segment ids.
    public func callAsFunction(_ ids: SymbolicTensor) throws -> SymbolicTensor { try embed(ids, tokenTypes: nil) }

    /// Embeds ids `[batch, tokens]`, with segment ids of the same shape when given.
    public func embed(_ ids: SymbolicTensor, tokenTypes types: SymbolicTensor?) throws -> SymbolicTensor {
        guard ids.rank == 2 else {
            throw NNError(.shapeMismatch, "BERT: token ids must be [batch, tokens], got \(ids.shape); wrap one sequence as [1, tokens]")
        }
        let tokens = ids.shape[1]
        let table = positions.weight.value.shape[0]
        guard tokens <= table else {
            throw NNError(.shapeMismatch, "BERT: \(tokens) tokens exceed the \(table) positions of the model; truncate the input (maxLength)")
        }
        let t = ids.tracer
        var x = try words(ids, scope: "word_embeddings")
        let segment: SymbolicTensor
        if let types {
            segment = try tokenTypes(types, scope: "token_type_embeddings")
        } else {
            segment = try tokenTypes.weight.traced(in: t).bertRecord(.slice(axis: 0, start: 0, end: 1, step: 1), name: "token_type_slice")
        }
        x = try x.bertRecord(.binary(.add), [segment], name: "add_token_type")
        let position = try positions.weight.traced(in: t).bertRecord(.slice(axis: 0, start: 0, end: tokens, step: 1), name: "position_slice")
        x = try x.bertRecord(.binary(.add), [position], name: "add_position")
        return try norm(x, scope: "LayerNorm")
    }

    public var parameters: [Parameter] { words.parameters + positions.parameters + tokenTypes.parameters + norm.parameters }
}

/// One BERT encoder layer (post-norm): self-attention with a residual and layer norm, then the
/// feed-forward network with a residual and layer norm.
///
/// `h = LayerNorm(x + dense(attention(x)))`, `y = LayerNorm(h + dense₂(gelu(dense₁(h))))`.
/// Parameters carry Hugging Face's names: `attention.self.{query,key,value}.*`,
/// `attention.output.dense.*`, `attention.output.LayerNorm.*`, `intermediate.dense.*`,
/// `output.dense.*`, `output.LayerNorm.*`.
public final class BERTLayer: Module {
    public let heads: Int
    public let query: ZooLinear
    public let key: ZooLinear
    public let value: ZooLinear
    public let attentionOutput: ZooLinear
    public let attentionNorm: ZooLayerNorm
    public let intermediate: ZooLinear
    public let output: ZooLinear
    public let outputNorm: ZooLayerNorm
    public let approximateGELU: Bool

    public init(_ c: BERTConfiguration, factory: inout ParameterFactory) throws {
        heads = c.heads
        approximateGELU = c.approximateGELU
        query = try ZooLinear(c.hiddenSize, c.hiddenSize, factory: &factory).named("attention.self.query")
        key = try ZooLinear(c.hiddenSize, c.hiddenSize, factory: &factory).named("attention.self.key")
        value = try ZooLinear(c.hiddenSize, c.hiddenSize, factory: &factory).named("attention.self.value")
        attentionOutput = try ZooLinear(c.hiddenSize, c.hiddenSize, factory: &factory).named("attention.output.dense")
        attentionNorm = try ZooLayerNorm(c.hiddenSize, epsilon: c.layerNormEpsilon, factory: &factory).named("attention.output.LayerNorm")
        intermediate = try ZooLinear(c.hiddenSize, c.intermediateSize, factory: &factory).named("intermediate.dense")
        output = try ZooLinear(c.intermediateSize, c.hiddenSize, factory: &factory).named("output.dense")
        outputNorm = try ZooLayerNorm(c.hiddenSize, epsilon: c.layerNormEpsilon, factory: &factory).named("output.LayerNorm")
    }

    /// The layer without padding (every token attends to every token).
    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor { try forward(x, maskBias: nil) }

    /// The layer on `x` `[batch, tokens, hidden]`; `maskBias` `[batch, 1, 1, tokens]` is added to the
    /// attention scores (0 for real tokens, a large negative number for padding).
    public func forward(_ x: SymbolicTensor, maskBias: SymbolicTensor?) throws -> SymbolicTensor {
        guard x.rank == 3 else { throw NNError(.shapeMismatch, "BERTLayer: input must be [batch, tokens, hidden], got \(x.shape)") }
        let (b, t, d) = (x.shape[0], x.shape[1], x.shape[2])
        let size = d / heads
        // [B, T, D] → [B, T, H, d] → [B, H, T, d]; keys to [B, H, d, T] so Q·Kᵀ is one batched matmul
        // reading every operand in place. The 1/√d scale goes on Q ([B, T, D]) rather than on the
        // scores ([B, H, T, T]): fewer elements, the same product.
        func split(_ y: SymbolicTensor, _ label: String, _ axes: [Int]) throws -> SymbolicTensor {
            try y.bertRecord(.reshape([b, t, heads, size]), name: "\(label)_split").bertRecord(.permute(axes), name: "\(label)_heads")
        }
        let q = try query(x, scope: "attention.self.query").bertScalar(.mul, 1 / Double(size).squareRoot(), name: "attention.self.scale")
        let qh = try split(q, "attention.self.query", [0, 2, 1, 3])
        let kh = try split(key(x, scope: "attention.self.key"), "attention.self.key", [0, 2, 3, 1])
        let vh = try split(value(x, scope: "attention.self.value"), "attention.self.value", [0, 2, 1, 3])
        var scores = try qh.bertRecord(.matmul, [kh], name: "attention.self.scores")
        if let maskBias { scores = try scores.bertRecord(.binary(.add), [maskBias], name: "attention.self.mask") }
        let weights = try scores.bertRecord(.softmax(axis: -1), name: "attention.self.softmax")
        let context = try weights.bertRecord(.matmul, [vh], name: "attention.self.context")
            .bertRecord(.permute([0, 2, 1, 3]), name: "attention.self.merge").bertRecord(.reshape([b, t, d]), name: "attention.self.merge_heads")
        let attended = try attentionOutput(context, scope: "attention.output.dense").bertRecord(.binary(.add), [x], name: "attention.output.residual")
        let h = try attentionNorm(attended, scope: "attention.output.LayerNorm")
        let widened = try intermediate(h, scope: "intermediate.dense")
            .bertRecord(.unary(approximateGELU ? .geluTanh : .geluExact), name: "intermediate.gelu")
        let y = try output(widened, scope: "output.dense").bertRecord(.binary(.add), [h], name: "output.residual")
        return try outputNorm(y, scope: "output.LayerNorm")
    }

    public var parameters: [Parameter] {
        query.parameters + key.parameters + value.parameters + attentionOutput.parameters + attentionNorm.parameters
            + intermediate.parameters + output.parameters + outputNorm.parameters
    }
}

extension SymbolicTensor {
    /// Records `op` on this tensor (and `others`) as a node named `name` in the current scope.
    func bertRecord(_ op: GraphOp, _ others: [SymbolicTensor] = [], name: String) throws -> SymbolicTensor {
        try tracer.apply(op, [self] + others, name: name)[0]
    }

    /// `self ⊙ value` with the scalar recorded as a constant of this tensor's dtype.
    func bertScalar(_ op: BinaryOp, _ value: Double, name: String) throws -> SymbolicTensor {
        try bertRecord(.binary(op), [tracer.constant(Tensor(scalar: value, dtype: dtype))], name: name)
    }
}

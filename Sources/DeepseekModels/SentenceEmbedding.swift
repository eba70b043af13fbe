public import DeepseekGraph
import DeepseekNN
public import DeepseekTensor
import Synchronization

/// Mean pooling over real tokens, as sentence-transformers does: `Σ hidden·mask / Σ mask`, then
/// (when `normalize`) division by the L2 norm.
///
/// - Parameters:
///   - hidden: the encoder's last hidden state `[batch, tokens, dim]`.
///   - mask: `[batch, tokens]`, 1 for real tokens and 0 for padding, of `hidden`'s dtype.
/// - Returns: `[batch, dim]`.
public func meanPooling(_ hidden: SymbolicTensor, mask: SymbolicTensor, normalize: Bool = true) throws -> SymbolicTensor {
    let (b, t) = (hidden.shape[0], hidden.shape[1])
    guard hidden.rank == 3, mask.shape == [b, t], mask.dtype == hidden.dtype else {
        throw NNError(.shapeMismatch, "meanPooling: hidden must be [batch, tokens, dim] and mask [batch, tokens] of the same dtype, got \(hidden.type) and \(mask.type)")
    }
    let weights = try mask.bertRecord(.reshape([b, t, 1]), name: "pool.mask")
    let summed = try hidden.bertRecord(.binary(.mul), [weights], name: "pool.masked").bertRecord(.reduce(.sum, axes: [1], keepDims: false), name: "pool.sum")
    // The same floor as sentence-transformers (1e-9) keeps an all-padding row finite.
    let count = try mask.bertRecord(.reduce(.sum, axes: [1], keepDims: true), name: "pool.count").bertScalar(.maximum, 1e-9, name: "pool.count_floor")
    let mean = try summed.bertRecord(.binary(.div), [count], name: "pool.mean")
    guard normalize else { return mean }
    // F.normalize: x / max(‖x‖, 1e-12).
    let norm = try mean.bertRecord(.unary(.square), name: "pool.square").bertRecord(.reduce(.sum, axes: [1], keepDims: true), name: "pool.square_sum")
        .bertRecord(.unary(.sqrt), name: "pool.norm").bertScalar(.maximum, 1e-12, name: "pool.norm_floor")
    return try mean.bertRecord(.binary(.div), [norm], name: "pool.normalize")
}

/// Sentence embeddings from a BERT checkpoint: tokenizer, encoder and mean pooling in one object.
///
/// `SentenceEmbedder(directory:)` reads a sentence-transformers model directory —
/// `config.json`, `model.safetensors` and `vocab.txt`, as shipped for
/// `sentence-transformers/all-MiniLM-L6-v2` — and `embed` returns one L2-normalised vector per
/// text. Texts in one call are padded to the longest and run as one batch; a traced graph is kept
/// per `[batch, tokens]` shape, so repeated calls with the same shape skip tracing.
///
/// ```swift
/// let embedder = try SentenceEmbedder(directory: modelDirectory)
/// let v = try KernelBackends.using(CPUBackend()) { try embedder.embed(["This is an example sentence"]) }
/// // v[0].count == 384, v[0][0] ≈ 0.0677
/// ```
///
/// Graphs run on `KernelBackends.current`; choose the backend (the CPU backend for speed) around the call.
public final class SentenceEmbedder: Sendable {
    public let model: BERTModel
    public let tokenizer: WordPieceTokenizer
    /// Whether vectors are divided by their L2 norm (sentence-transformers' `Normalize` module).
    public let normalize: Bool
    private let graphs = Mutex<[Shape: Graph]>([:])

    /// Wraps an existing model and tokenizer.
    public init(model: BERTModel, tokenizer: WordPieceTokenizer, normalize: Bool = true) {
        self.model = model
        self.tokenizer = tokenizer
        self.normalize = normalize
    }

    /// Loads `config.json`, `model.safetensors` and `vocab.txt` from `directory`.
    ///
    /// `maxLength` defaults to 256 word pieces, the limit all-MiniLM-L6-v2 was trained with
    /// (`sentence_bert_config.json`); longer texts are truncated, as sentence-transformers does.
    ///
    /// - Throws: `SafetensorsError`, `TokenizerError` or `NNError` naming the file and what is wrong with it.
    public convenience init(directory: String, maxLength: Int = 256, normalize: Bool = true) throws {
        let model = try BERTModel.load(directory: directory)
        let tokenizer = try WordPieceTokenizer(
            vocabularyFile: "\(directory)/vocab.txt", settings: .init(maxLength: min(maxLength, model.configuration.maxPositions)))
        self.init(model: model, tokenizer: tokenizer, normalize: normalize)
    }

    /// The token ids, mask and segment ids of `texts`, padded with `[PAD]` to the longest text.
    ///
    /// - Throws: `TokenizerError.invalidArgument` for an empty list.
    public func batch(_ texts: [String]) throws -> (ids: Tensor, mask: Tensor) {
        guard !texts.isEmpty else { throw TokenizerError(.invalidArgument, "SentenceEmbedder: no texts to embed") }
        let encoded = texts.map(tokenizer.encode)
        let tokens = encoded.map(\.count).max()!
        var ids = [Int64](repeating: Int64(tokenizer.paddingID), count: texts.count * tokens)
        var mask = [Float](repeating: 0, count: texts.count * tokens)
        for (row, sequence) in encoded.enumerated() {
            for (column, id) in sequence.enumerated() {
                ids[row * tokens + column] = Int64(id)
                mask[row * tokens + column] = 1
            }
        }
        return (try Tensor(ids, shape: [texts.count, tokens]), try Tensor(mask, shape: [texts.count, tokens]))
    }

    /// One embedding per text, `[texts.count][hidden]`.
    public func embed(_ texts: [String]) throws -> [[Float]] {
        let (ids, mask) = try batch(texts)
        let out = try embed(ids: ids, mask: mask)
        let dim = out.shape[1]
        let values = try out.scalars(as: Float.self)
        return (0..<texts.count).map { Array(values[($0 * dim)..<(($0 + 1) * dim)]) }
    }

    /// Embeddings `[batch, hidden]` of ready token ids and mask (`[batch, tokens]` each).
    public func embed(ids: Tensor, mask: Tensor) throws -> Tensor {
        let graph = try self.graph(batch: ids.shape[0], tokens: ids.shape[1])
        // Only the parameters the graph reads: the pooler, for one, is not part of a sentence embedding.
        let feeds = GraphFeeds(inputs: ["input_ids": ids, "attention_mask": mask], parameters: model.parameterValues(readBy: graph))
        return try graph.run(feeds)[0]
    }

    /// The embedding graph for `[batch, tokens]` ids: inputs `input_ids` (int64) and
    /// `attention_mask` (float32), one output `[batch, hidden]`. Cached per shape, and rewritten
    /// for inference by `InferenceGraph.optimized` (products fused with their bias and mask adds).
    public func graph(batch: Int, tokens: Int) throws -> Graph {
        let shape: Shape = [batch, tokens]
        if let cached = graphs.withLock({ $0[shape] }) { return cached }
        let tracer = GraphTracer()
        let ids = try tracer.input("input_ids", TensorType(shape, .int64))
        let mask = try tracer.input("attention_mask", TensorType(shape, .float32))
        let hidden = try model.encode(ids: ids, attentionMask: mask)
        let traced = tracer.finish(outputs: [try meanPooling(hidden, mask: mask, normalize: normalize)])
        let graph: Graph
        do {
            graph = try InferenceGraph.optimized(traced)
        } catch {
            // A failed rewrite is a bug in a pass; the traced graph computes the same values.
            graph = traced
        }
        graphs.withLock { $0[shape] = graph }
        return graph
    }
}

extension BERTModel {
    /// Loads a Hugging Face BERT checkpoint directory: `config.json` and `model.safetensors`.
    ///
    /// Tensors the encoder does not use are ignored — `embeddings.position_ids` (a buffer of
    /// `0..<512`), and the pre-training heads `cls.*` — and a `bert.` prefix is stripped, so both
    /// `BertModel` and `BertForPreTraining` exports load.
    ///
    /// - Throws: the errors of `BERTConfiguration(configFile:)` and `load(from:options:)`, naming the
    ///   file and tensor.
    public static func load(directory: String) throws -> BERTModel {
        let configuration = try BERTConfiguration(configFile: "\(directory)/config.json")
        let file = try SafetensorsFile(contentsOf: "\(directory)/model.safetensors")
        var c = configuration
        c.pooler = file.entry(named: "pooler.dense.weight") != nil || file.entry(named: "bert.pooler.dense.weight") != nil
        // Meta parameters first: the file supplies every value, so drawing random weights would be wasted work.
        let model = try BERTModel(c, seed: 0, materialize: false)
        try model.load(
            from: file,
            options: WeightLoadingOptions(stripPrefixes: ["bert."], ignoring: ["embeddings.position_ids", "bert.embeddings.position_ids", "cls.*"]))
        return model
    }
}

public import DeepseekGraph
public import DeepseekNN
import DeepseekTensor

/// The shape of a GPT-style decoder: vocabulary, context, width, depth, heads and attention.
///
/// The presets follow the published tables: GPT-2 (Radford et al., 2019) and GPT-3 (Brown et al.,
/// 2020, table 2.1), with the 50,257-token vocabulary, learned positions and the output layer tied
/// to the token embedding; `gpt1T` is the 1-trillion-parameter configuration of Narayanan et al.
/// (2021, table 1). `longContext` variants swap causal attention for a sliding window.
public struct GPTConfiguration: Sendable, Hashable {
    public var vocabulary: Int
    /// The number of learned positions: the longest sequence the model reads.
    public var contextLength: Int
    public var dim: Int
    public var layers: Int
    public var heads: Int
    /// The MLP's inner width (4·dim in every preset).
    public var hidden: Int
    public var attention: AttentionPattern

    public init(vocabulary: Int, contextLength: Int, dim: Int, layers: Int, heads: Int, hidden: Int? = nil, attention: AttentionPattern = .causal) {
        (self.vocabulary, self.contextLength, self.dim, self.layers, self.heads) = (vocabulary, contextLength, dim, layers, heads)
        self.hidden = hidden ?? 4 * dim
        self.attention = attention
    }

    public static let gpt2Small = GPTConfiguration(vocabulary: 50257, contextLength: 1024, dim: 768, layers: 12, heads: 12)
    public static let gpt2Medium = GPTConfiguration(vocabulary: 50257, contextLength: 1024, dim: 1024, layers: 24, heads: 16)
    public static let gpt2Large = GPTConfiguration(vocabulary: 50257, contextLength: 1024, dim: 1280, layers: 36, heads: 20)
    public static let gpt2XL = GPTConfiguration(vocabulary: 50257, contextLength: 1024, dim: 1600, layers: 48, heads: 25)
    public static let gpt3Small = GPTConfiguration(vocabulary: 50257, contextLength: 2048, dim: 768, layers: 12, heads: 12)
    public static let gpt3XL = GPTConfiguration(vocabulary: 50257, contextLength: 2048, dim: 2048, layers: 24, heads: 16)
    public static let gpt3_6_7B = GPTConfiguration(vocabulary: 50257, contextLength: 2048, dim: 4096, layers: 32, heads: 32)
    public static let gpt3_13B = GPTConfiguration(vocabulary: 50257, contextLength: 2048, dim: 5120, layers: 40, heads: 40)
    public static let gpt3_175B = GPTConfiguration(vocabulary: 50257, contextLength: 2048, dim: 12288, layers: 96, heads: 96)
    public static let gpt1T = GPTConfiguration(vocabulary: 51200, contextLength: 2048, dim: 25600, layers: 128, heads: 160)

    /// This configuration with a sliding attention window of `window` tokens and `contextLength`
    /// positions: a long-context decoder whose memory grows linearly with the sequence.
    public func longContext(window: Int, contextLength: Int) -> GPTConfiguration {
        var c = self
        c.attention = .slidingWindow(window)
        c.contextLength = contextLength
        return c
    }

    /// The parameter count from the formula `V·D + C·D + L·(12·D² + 13·D) + 2·D`, for checking a built model.
    public var formulaParameterCount: Int {
        vocabulary * dim + contextLength * dim + layers * (4 * dim * dim + 4 * dim + 2 * dim * hidden + hidden + dim + 4 * dim) + 2 * dim
    }
}

/// A GPT-style decoder-only transformer over token ids `[batch, tokens]` (int64 or int32),
/// returning next-token logits `[batch, tokens, vocabulary]`.
///
/// Token embedding `wte` plus learned position embedding `wpe`, `layers` pre-norm blocks
/// `h.<i>` (`ZooTransformerBlock` with tanh-approximated GELU, as GPT-2), a final layer norm
/// `ln_f`, and the output projection tied to `wte` (no parameter of its own). With a
/// `.slidingWindow` attention the blocks use `slidingWindowAttention`, so a 10,000-token forward
/// pass keeps memory linear in its length.
///
/// Parameter names are ours (`h.0.attn.q.weight` `[out, in]`); GPT-2 checkpoints store a fused
/// `c_attn` in `[in, out]` order and load after a split and a transpose.
///
/// ```swift
/// var factory = ParameterFactory(materialize: false)
/// let gpt3 = try GPT(.gpt3_175B, factory: &factory)       // shape-only: no weight bytes
/// let graph = try gpt3.trace(TensorType([1, 2048], .int64))
/// ```
public final class GPT: Module {
    public let configuration: GPTConfiguration
    let wte: ZooEmbedding
    let wpe: ZooEmbedding
    let blocks: [ZooTransformerBlock]
    let lnF: ZooLayerNorm

    public init(_ configuration: GPTConfiguration, factory: inout ParameterFactory) throws {
        let c = configuration
        try zooRequirePositive(
            "GPT", ["vocabulary": c.vocabulary, "contextLength": c.contextLength, "dim": c.dim, "layers": c.layers, "heads": c.heads, "hidden": c.hidden])
        self.configuration = c
        wte = try ZooEmbedding(c.vocabulary, c.dim, factory: &factory).named("wte")
        wpe = try ZooEmbedding(c.contextLength, c.dim, std: 0.01, factory: &factory).named("wpe")
        blocks = try (0..<c.layers).map {
            try ZooTransformerBlock(
                dim: c.dim, heads: c.heads, hidden: c.hidden, pattern: c.attention, epsilon: 1e-5, approximateGELU: true, factory: &factory
            ).named("h.\($0)")
        }
        lnF = try ZooLayerNorm(c.dim, factory: &factory).named("ln_f")
    }

    public func callAsFunction(_ ids: SymbolicTensor) throws -> SymbolicTensor {
        guard ids.rank == 2, ids.shape[1] >= 1 else {
            throw NNError(.shapeMismatch, "GPT: input must be token ids [batch, tokens], got \(ids.type)")
        }
        let tokens = ids.shape[1]
        guard tokens <= configuration.contextLength else {
            throw NNError(
                .shapeMismatch,
                "GPT: \(tokens) tokens exceed the \(configuration.contextLength) learned positions; shorten the input or build with a longer contextLength")
        }
        let positions = try ids.tracer.constant(Tensor.arange(tokens, dtype: .int64))
        var h = try wte(ids, scope: "wte").zooRecord(.binary(.add), [wpe(positions, scope: "wpe")], name: "embed")
        for (i, block) in blocks.enumerated() { h = try block(h, scope: "h.\(i)") }
        h = try lnF(h, scope: "ln_f")
        // Tied output layer: logits = h · wteᵀ.
        let table = try wte.weight.traced(in: ids.tracer).zooRecord(.permute([1, 0]), name: "lm_head.transpose")
        return try h.zooRecord(.matmul, [table], name: "lm_head.matmul")
    }

    public var parameters: [Parameter] { wte.parameters + wpe.parameters + blocks.flatMap(\.parameters) + lnF.parameters }
}

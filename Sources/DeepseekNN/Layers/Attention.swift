public import DeepseekCore
public import DeepseekGraph
public import DeepseekTensor

/// Multi-head self-attention over `[batch, tokens, dim]`, with separate query, key, value and
/// output projections.
///
/// For `h` heads of size `d = dim / h`:
/// `softmax(Q·Kᵀ / √d [+ causal mask]) · V`, computed per head on `[batch, h, tokens, d]` views
/// made by `reshape` and `permute`, then merged back to `[batch, tokens, dim]` and projected.
/// With `causal`, position `i` attends only to positions `≤ i` (the mask adds `−∞` above the
/// diagonal; it is a constant of the graph, built for the traced sequence length).
/// With a sliding `window` of `w` tokens, position `i` attends only to the `w` positions nearest
/// it: `i − w < j ≤ i` when causal, `|i − j| < w` otherwise (see `attentionMask`).
///
/// Parameters: `q.weight`, `q.bias`, `k.…`, `v.…`, `out.…` (each a `Linear(dim, dim)`).
/// Nodes: `q.*`, `k.*`, `v.*`, `q_split`, `q_heads`, `k_split`, `k_heads`, `v_split`, `v_heads`,
/// `scores`, `scale`, `mask` (causal or windowed only), `softmax`, `context`, `merge`, `merge_heads`, `out.*`.
public final class MultiHeadSelfAttention: Module {
    public let dim: Int
    public let heads: Int
    public let causal: Bool
    /// The sliding-window width in tokens, or `nil` for attention over the whole sequence.
    public let window: Int?
    public let q: Linear
    public let k: Linear
    public let v: Linear
    public let out: Linear

    public init(dim: Int, heads: Int, bias: Bool = true, causal: Bool = false, window: Int? = nil, rng: inout SeededRandom) throws {
        try requirePositive("MultiHeadSelfAttention", ["dim": dim, "heads": heads, "window": window ?? 1])
        guard dim % heads == 0 else {
            throw NNError(.invalidArgument, "MultiHeadSelfAttention: dim \(dim) does not divide into \(heads) heads; choose heads dividing dim")
        }
        self.dim = dim
        self.heads = heads
        self.causal = causal
        self.window = window
        q = try Linear(inFeatures: dim, outFeatures: dim, bias: bias, rng: &rng).named("q")
        k = try Linear(inFeatures: dim, outFeatures: dim, bias: bias, rng: &rng).named("k")
        v = try Linear(inFeatures: dim, outFeatures: dim, bias: bias, rng: &rng).named("v")
        out = try Linear(inFeatures: dim, outFeatures: dim, bias: bias, rng: &rng).named("out")
    }

    /// The size of each head.
    public var headDim: Int { dim / heads }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        guard x.rank == 3, x.shape[2] == dim else {
            throw NNError(
                .shapeMismatch,
                "MultiHeadSelfAttention: input must be [batch, tokens, \(dim)], got \(x.shape); reshape a single sequence to [1, tokens, \(dim)]")
        }
        let (b, t, d) = (x.shape[0], x.shape[1], headDim)
        // [B, T, D] → [B, T, H, d] → [B, H, T, d]; keys go to [B, H, d, T] so Q·Kᵀ is one matmul.
        func heads(_ y: SymbolicTensor, _ label: String, _ axes: [Int]) throws -> SymbolicTensor {
            try y.recording(.reshape([b, t, self.heads, d]), name: "\(label)_split").recording(.permute(axes), name: "\(label)_heads")
        }
        let qh = try heads(q(x, scope: "q"), "q", [0, 2, 1, 3])
        let kh = try heads(k(x, scope: "k"), "k", [0, 2, 3, 1])
        let vh = try heads(v(x, scope: "v"), "v", [0, 2, 1, 3])
        var scores = try qh.recording(.matmul, [kh], name: "scores").scaled(by: 1 / Double(d).squareRoot(), name: "scale")
        if causal || window != nil {
            let mask = try Self.attentionMask(tokens: t, causal: causal, window: window, dtype: x.dtype)
            scores = try scores.recording(.binary(.add), [x.tracer.constant(mask)], name: "mask")
        }
        let weights = try scores.recording(.softmax(axis: -1), name: "softmax")
        let context = try weights.recording(.matmul, [vh], name: "context")
        let merged = try context.recording(.permute([0, 2, 1, 3]), name: "merge").recording(.reshape([b, t, dim]), name: "merge_heads")
        return try out(merged, scope: "out")
    }

    public var parameters: [Parameter] { q.parameters + k.parameters + v.parameters + out.parameters }

    /// `[tokens, tokens]` with 0 on and below the diagonal and −∞ above it.
    public static func causalMask(tokens: Int, dtype: DType = .float32) throws -> Tensor {
        try attentionMask(tokens: tokens, causal: true, window: nil, dtype: dtype)
    }

    /// The additive `[tokens, tokens]` mask: row `i` holds 0 where query `i` may attend to key `j`
    /// and −∞ elsewhere. Query `i` sees key `j` when `j ≤ i` (if `causal`) and, with a `window` of
    /// `w`, when `i − w < j` (causal) or `|i − j| < w` (not causal); every row keeps its diagonal.
    public static func attentionMask(tokens: Int, causal: Bool, window: Int?, dtype: DType = .float32) throws -> Tensor {
        if let window, window < 1 {
            throw NNError(.invalidArgument, "attentionMask: window must be at least 1 token, got \(window)")
        }
        var values = [Float](repeating: 0, count: tokens * tokens)
        for i in 0..<tokens {
            for j in 0..<tokens {
                var visible = !causal || j <= i
                if let window { visible = visible && abs(i - j) < window }
                if !visible { values[i * tokens + j] = -.infinity }
            }
        }
        return try Tensor(values, shape: [tokens, tokens]).cast(to: dtype)
    }
}

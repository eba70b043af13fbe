public import DeepseekGraph
public import DeepseekNN
import DeepseekTensor

/// Which keys each query of a self-attention layer sees.
public enum AttentionPattern: Sendable, Hashable, CustomStringConvertible {
    /// Every token sees every token (ViT, BERT).
    case full
    /// Token `i` sees tokens `j ≤ i` (GPT); the `[tokens, tokens]` score matrix is materialised.
    case causal
    /// Token `i` sees the `w` tokens `i − w < j ≤ i`, computed block by block so memory grows
    /// linearly with the sequence (see `slidingWindowAttention`).
    case slidingWindow(Int)

    public var description: String {
        switch self {
        case .full: "full"
        case .causal: "causal"
        case .slidingWindow(let w): "sliding window of \(w)"
        }
    }
}

/// Multi-head self-attention over `[batch, tokens, dim]` whose parameters may be meta tensors:
/// `softmax(Q·Kᵀ/√d + mask)·V` per head, then the output projection.
///
/// Parameters `q.*`, `k.*`, `v.*`, `out.*` (each `[dim, dim]` with bias), as `MultiHeadSelfAttention`.
/// With `.slidingWindow`, nodes follow `slidingWindowAttention`; otherwise `scores`, `scale`,
/// `mask` (causal only), `softmax`, `context`, `merge`, `merge_heads`.
public final class ZooSelfAttention: Module {
    public let dim: Int
    public let heads: Int
    public let pattern: AttentionPattern
    let q: ZooLinear, k: ZooLinear, v: ZooLinear, out: ZooLinear
    /// Whether masks are filled (false for shape-only models: they become meta tensors).
    let materialize: Bool

    public init(dim: Int, heads: Int, pattern: AttentionPattern, factory: inout ParameterFactory) throws {
        try zooRequirePositive("SelfAttention", ["dim": dim, "heads": heads])
        guard dim % heads == 0 else {
            throw NNError(.invalidArgument, "SelfAttention: dim \(dim) does not divide into \(heads) heads; choose heads dividing dim")
        }
        if case .slidingWindow(let w) = pattern, w < 1 {
            throw NNError(.invalidArgument, "SelfAttention: a sliding window must span at least 1 token, got \(w)")
        }
        (self.dim, self.heads, self.pattern, materialize) = (dim, heads, pattern, factory.materialize)
        q = try ZooLinear(dim, dim, factory: &factory).named("q")
        k = try ZooLinear(dim, dim, factory: &factory).named("k")
        v = try ZooLinear(dim, dim, factory: &factory).named("v")
        out = try ZooLinear(dim, dim, factory: &factory).named("out")
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        guard x.rank == 3, x.shape[2] == dim else {
            throw NNError(.shapeMismatch, "SelfAttention: input must be [batch, tokens, \(dim)], got \(x.shape)")
        }
        let (qx, kx, vx) = (try q(x, scope: "q"), try k(x, scope: "k"), try v(x, scope: "v"))
        let merged: SymbolicTensor
        if case .slidingWindow(let w) = pattern {
            merged = try slidingWindowAttention(q: qx, k: kx, v: vx, heads: heads, window: w, materializeMask: materialize)
        } else {
            merged = try denseAttention(qx, kx, vx)
        }
        return try out(merged, scope: "out")
    }

    /// Attention with the whole `[tokens, tokens]` score matrix per head.
    private func denseAttention(_ qx: SymbolicTensor, _ kx: SymbolicTensor, _ vx: SymbolicTensor) throws -> SymbolicTensor {
        let (b, t, d) = (qx.shape[0], qx.shape[1], dim / heads)
        func split(_ y: SymbolicTensor, _ label: String, _ axes: [Int]) throws -> SymbolicTensor {
            try y.zooRecord(.reshape([b, t, heads, d]), name: "\(label)_split").zooRecord(.permute(axes), name: "\(label)_heads")
        }
        let qh = try split(qx, "q", [0, 2, 1, 3])
        let kh = try split(kx, "k", [0, 2, 3, 1])
        let vh = try split(vx, "v", [0, 2, 1, 3])
        var scores = try qh.zooRecord(.matmul, [kh], name: "scores").zooScalar(.mul, 1 / Double(d).squareRoot(), name: "scale")
        if pattern == .causal {
            let mask = try causalMask(tokens: t, dtype: qx.dtype)
            scores = try scores.zooRecord(.binary(.add), [qx.tracer.constant(mask)], name: "mask")
        }
        let context = try scores.zooRecord(.softmax(axis: -1), name: "softmax").zooRecord(.matmul, [vh], name: "context")
        return try context.zooRecord(.permute([0, 2, 1, 3]), name: "merge").zooRecord(.reshape([b, t, dim]), name: "merge_heads")
    }

    private func causalMask(tokens: Int, dtype: DType) throws -> Tensor {
        guard materialize else { return .meta([tokens, tokens], dtype: dtype) }
        return try MultiHeadSelfAttention.causalMask(tokens: tokens, dtype: dtype)
    }

    public var parameters: [Parameter] { q.parameters + k.parameters + v.parameters + out.parameters }
}

/// A pre-norm transformer block, `h = x + attn(norm1(x))`, `y = h + mlp(norm2(h))`, with a GELU
/// MLP widening to `hidden` — the block of ViT and GPT-2/3.
///
/// Parameters `norm1.*`, `attn.{q,k,v,out}.*`, `norm2.*`, `mlp.fc1.*`, `mlp.fc2.*`.
public final class ZooTransformerBlock: Module {
    let norm1: ZooLayerNorm, attn: ZooSelfAttention, norm2: ZooLayerNorm, fc1: ZooLinear, fc2: ZooLinear
    let approximateGELU: Bool

    public init(
        dim: Int, heads: Int, hidden: Int, pattern: AttentionPattern, epsilon: Double, approximateGELU: Bool, factory: inout ParameterFactory
    ) throws {
        norm1 = try ZooLayerNorm(dim, epsilon: epsilon, factory: &factory).named("norm1")
        attn = try ZooSelfAttention(dim: dim, heads: heads, pattern: pattern, factory: &factory).named("attn")
        norm2 = try ZooLayerNorm(dim, epsilon: epsilon, factory: &factory).named("norm2")
        fc1 = try ZooLinear(dim, hidden, factory: &factory).named("mlp.fc1")
        fc2 = try ZooLinear(hidden, dim, factory: &factory).named("mlp.fc2")
        self.approximateGELU = approximateGELU
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let a = try attn(norm1(x, scope: "norm1"), scope: "attn")
        let h = try x.zooRecord(.binary(.add), [a], name: "residual1")
        var m = try fc1(norm2(h, scope: "norm2"), scope: "mlp.fc1")
        m = try m.zooRecord(.unary(approximateGELU ? .geluTanh : .geluExact), name: "mlp.gelu")
        return try h.zooRecord(.binary(.add), [fc2(m, scope: "mlp.fc2")], name: "residual2")
    }

    public var parameters: [Parameter] {
        norm1.parameters + attn.parameters + norm2.parameters + fc1.parameters + fc2.parameters
    }
}

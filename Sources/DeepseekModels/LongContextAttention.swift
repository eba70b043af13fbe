public import DeepseekGraph
import DeepseekNN
public import DeepseekTensor

/// Causal sliding-window attention computed block by block: query `i` sees keys `i − w < j ≤ i`,
/// and no `[tokens, tokens]` matrix is ever formed.
///
/// The sequence is cut into blocks of `w` tokens (zero-padded at the end to a whole number of
/// blocks; causality keeps the padding from reaching real tokens, and the padded rows are sliced
/// off). Every key a query in block `n` may see lies in block `n − 1` or block `n`, so each block's
/// queries attend to those two blocks' keys, `2w` of them:
///
/// ```text
/// q  [B, H, nb, w, d]   ·   [K(n−1) ; K(n)]ᵀ  [B, H, nb, d, 2w]   →   scores [B, H, nb, w, 2w]
/// ```
///
/// A constant mask `[nb, w, 2w]` keeps, for query `i` of a block, the keys `i < j ≤ i + w` of the
/// concatenated pair (exactly the window), and hides block 0's missing predecessor. Scores,
/// weights and masks hold `2·w` entries per query instead of `tokens`, so activation memory and
/// FLOPs grow linearly with the sequence: 10,000 tokens with a 256-token window need 2.5 % of the
/// dense score matrix.
///
/// Nodes: `pad_*` (when the length is not a multiple of `w`), `q_blocks`/`q_heads` (likewise `k`,
/// `v`), `k_previous`, `k_pair`, `k_pair_t`, `v_previous`, `v_pair`, `scores`, `scale`, `mask`,
/// `softmax`, `context`, `merge`, `merge_heads`, `unpad`.
///
/// - Parameters:
///   - q, k, v: projections `[batch, tokens, dim]`.
///   - heads: the number of heads; it must divide `dim`.
///   - window: `w`, the number of tokens each query sees (itself included).
///   - materializeMask: fill the mask (`false` gives a meta tensor, for shape-only models).
public func slidingWindowAttention(
    q: SymbolicTensor, k: SymbolicTensor, v: SymbolicTensor, heads: Int, window: Int, materializeMask: Bool = true
) throws -> SymbolicTensor {
    guard q.rank == 3, k.type == q.type, v.type == q.type, q.shape[2] % heads == 0, window >= 1 else {
        throw NNError(
            .shapeMismatch,
            "slidingWindowAttention: q, k, v must share one [batch, tokens, dim] type with dim divisible by \(heads) heads and a window ≥ 1; got \(q.type), \(k.type), \(v.type), window \(window)")
    }
    let (b, t, dim) = (q.shape[0], q.shape[1], q.shape[2])
    let (w, d) = (window, dim / heads)
    let blocks = (t + w - 1) / w
    let padded = blocks * w
    let tracer = q.tracer

    func pad(_ y: SymbolicTensor, _ label: String) throws -> SymbolicTensor {
        guard padded > t else { return y }
        let zero = try tracer.constant(Tensor.zeros([1, 1, 1], dtype: y.dtype)).zooRecord(.expand([b, padded - t, dim]), name: "pad_\(label)_zeros")
        return try y.zooRecord(.concat(axis: 1), [zero], name: "pad_\(label)")
    }
    // [B, T, D] → [B, nb, w, H, d] → [B, H, nb, w, d]
    func split(_ y: SymbolicTensor, _ label: String) throws -> SymbolicTensor {
        try pad(y, label).zooRecord(.reshape([b, blocks, w, heads, d]), name: "\(label)_blocks")
            .zooRecord(.permute([0, 3, 1, 2, 4]), name: "\(label)_heads")
    }
    // Each block next to its predecessor: [B, H, nb, 2w, d]; block 0's predecessor is zeros (masked).
    func pair(_ y: SymbolicTensor, _ label: String) throws -> SymbolicTensor {
        let zero = try tracer.constant(Tensor.zeros([1, 1, 1, 1, 1], dtype: y.dtype))
            .zooRecord(.expand([b, heads, 1, w, d]), name: "\(label)_first_previous")
        let previous = blocks == 1
            ? zero
            : try zero.zooRecord(.concat(axis: 2), [y.zooRecord(.slice(axis: 2, start: 0, end: blocks - 1, step: 1), name: "\(label)_shifted")], name: "\(label)_previous")
        return try previous.zooRecord(.concat(axis: 3), [y], name: "\(label)_pair")
    }

    let qh = try split(q, "q")
    let kPair = try pair(split(k, "k"), "k").zooRecord(.permute([0, 1, 2, 4, 3]), name: "k_pair_t")
    let vPair = try pair(split(v, "v"), "v")
    let maskShape: Shape = [blocks, w, 2 * w]
    let mask = materializeMask
        ? try slidingWindowBlockMask(blocks: blocks, window: w, dtype: q.dtype) : Tensor.meta(maskShape, dtype: q.dtype)
    let scores = try qh.zooRecord(.matmul, [kPair], name: "scores").zooScalar(.mul, 1 / Double(d).squareRoot(), name: "scale")
        .zooRecord(.binary(.add), [tracer.constant(mask)], name: "mask")
    let context = try scores.zooRecord(.softmax(axis: -1), name: "softmax").zooRecord(.matmul, [vPair], name: "context")
    let merged = try context.zooRecord(.permute([0, 2, 3, 1, 4]), name: "merge").zooRecord(.reshape([b, padded, dim]), name: "merge_heads")
    return padded > t ? try merged.zooRecord(.slice(axis: 1, start: 0, end: t, step: 1), name: "unpad") : merged
}

/// The additive mask of `slidingWindowAttention`: `[blocks, w, 2w]`, 0 where query `i` of block
/// `n` may see key `j` of the pair (previous block, own block) — `i < j ≤ i + w`, and `j ≥ w` in
/// block 0 — and −∞ elsewhere.
public func slidingWindowBlockMask(blocks: Int, window w: Int, dtype: DType = .float32) throws -> Tensor {
    var values = [Float](repeating: -.infinity, count: blocks * w * 2 * w)
    for n in 0..<blocks {
        for i in 0..<w {
            for j in (i + 1)...(i + w) where n > 0 || j >= w { values[(n * w + i) * 2 * w + j] = 0 }
        }
    }
    return try Tensor(values, shape: [blocks, w, 2 * w]).cast(to: dtype)
}

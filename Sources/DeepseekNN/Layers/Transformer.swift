public import DeepseekCore
public import DeepseekGraph
import DeepseekTensor

/// The feed-forward half of a transformer block: `fc2(gelu(fc1(x)))`, widening to `hiddenDim`.
///
/// Parameters: `fc1.weight` `[hidden, dim]`, `fc1.bias`, `fc2.weight` `[dim, hidden]`, `fc2.bias`.
/// Nodes: `fc1.*`, `act.gelu`, `fc2.*`.
public final class MLPBlock: Module {
    public let fc1: Linear
    public let act: GELU
    public let fc2: Linear

    public init(dim: Int, hiddenDim: Int, approximateGELU: Bool = false, rng: inout SeededRandom) throws {
        fc1 = try Linear(inFeatures: dim, outFeatures: hiddenDim, rng: &rng).named("fc1")
        act = GELU(approximate: approximateGELU)
        fc2 = try Linear(inFeatures: hiddenDim, outFeatures: dim, rng: &rng).named("fc2")
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        try fc2(act(fc1(x, scope: "fc1"), scope: "act"), scope: "fc2")
    }

    public var parameters: [Parameter] { fc1.parameters + fc2.parameters }
}

/// A pre-norm transformer encoder block, as in ViT:
/// `x = x + attn(norm1(x))`, then `x = x + mlp(norm2(x))`.
///
/// Input and output `[batch, tokens, dim]`. The MLP widens to `dim · mlpRatio`.
///
/// ```swift
/// let block = try TransformerEncoderBlock(dim: 64, heads: 4, rng: &rng).named("encoder")
/// let graph = try block.trace(TensorType([2, 16, 64]))
/// // nodes read encoder.attn.q.matmul, encoder.attn.softmax, encoder.mlp.fc1.matmul, …
/// ```
///
/// Parameters: `norm1.*`, `attn.{q,k,v,out}.*`, `norm2.*`, `mlp.{fc1,fc2}.*`.
/// Nodes: the children's under the same names, plus `residual1` and `residual2`.
public final class TransformerEncoderBlock: Module {
    public let norm1: LayerNorm
    public let attn: MultiHeadSelfAttention
    public let norm2: LayerNorm
    public let mlp: MLPBlock

    public init(dim: Int, heads: Int, mlpRatio: Double = 4, causal: Bool = false, epsilon: Double = 1e-6, rng: inout SeededRandom) throws {
        let hidden = Int((Double(dim) * mlpRatio).rounded())
        guard hidden > 0 else {
            throw NNError(.invalidArgument, "TransformerEncoderBlock: mlpRatio \(mlpRatio) gives a hidden size of \(hidden) for dim \(dim); it must be positive")
        }
        norm1 = try LayerNorm(normalizedShape: [dim], epsilon: epsilon).named("norm1")
        attn = try MultiHeadSelfAttention(dim: dim, heads: heads, causal: causal, rng: &rng).named("attn")
        norm2 = try LayerNorm(normalizedShape: [dim], epsilon: epsilon).named("norm2")
        mlp = try MLPBlock(dim: dim, hiddenDim: hidden, rng: &rng).named("mlp")
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let a = try attn(norm1(x, scope: "norm1"), scope: "attn")
        let h = try x.recording(.binary(.add), [a], name: "residual1")
        let m = try mlp(norm2(h, scope: "norm2"), scope: "mlp")
        return try h.recording(.binary(.add), [m], name: "residual2")
    }

    public var parameters: [Parameter] { norm1.parameters + attn.parameters + norm2.parameters + mlp.parameters }
}

public import DeepseekCore
public import DeepseekGraph
import DeepseekTensor

/// A small vision transformer for 28×28 grayscale images: each image row is a token, embedded
/// by a `Linear(28, dim)` plus a learned position embedding, then `layers` pre-norm encoder
/// blocks, a final layer norm, the mean over tokens and a linear classifier.
///
/// `transformer-tiny` in `deepseek train` is `TransformerClassifier(dim: 64, heads: 4, layers: 2)`.
///
/// Parameters: `embed.*`, `position` `[28, dim]`, `blocks.<i>.*`, `norm.*`, `head.*`.
public final class TransformerClassifier: Module {
    public let tokens: Int
    public let features: Int
    public let embed: Linear
    public let position: Parameter
    public let blocks: [TransformerEncoderBlock]
    public let norm: LayerNorm
    public let head: Linear

    public init(
        tokens: Int = 28, features: Int = 28, dim: Int = 64, heads: Int = 4, layers: Int = 2, classes: Int = 10, rng: inout SeededRandom
    ) throws {
        guard tokens >= 1, features >= 1, layers >= 1, classes >= 1 else {
            throw NNError(.invalidArgument, "TransformerClassifier: tokens, features, layers and classes must be ≥ 1")
        }
        self.tokens = tokens
        self.features = features
        embed = try Linear(inFeatures: features, outFeatures: dim, rng: &rng).named("embed")
        position = Parameter("position", try Tensor.normal([tokens, dim], std: 0.02, rng: &rng))
        blocks = try (0..<layers).map { try TransformerEncoderBlock(dim: dim, heads: heads, rng: &rng).named("blocks.\($0)") }
        norm = try LayerNorm(normalizedShape: [dim]).named("norm")
        head = try Linear(inFeatures: dim, outFeatures: classes, rng: &rng).named("head")
    }

    public convenience init(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        try self.init(rng: &rng)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let n = x.shape[0]
        guard x.shape.elementCount == n * tokens * features else {
            throw NNError(.shapeMismatch, "TransformerClassifier: input \(x.type) does not hold \(tokens) tokens of \(features) features per example")
        }
        let rows = try x.reshaped([n, tokens, features])
        var h = try embed(rows, scope: "embed") + position.traced(in: x.tracer)
        for (i, block) in blocks.enumerated() { h = try block(h, scope: "blocks.\(i)") }
        let pooled = try norm(h, scope: "norm").mean(axes: [1])
        return try head(pooled, scope: "head")
    }

    public var parameters: [Parameter] {
        embed.parameters + [position] + blocks.flatMap(\.parameters) + norm.parameters + head.parameters
    }
}

public import DeepseekCore
public import DeepseekGraph
import DeepseekTensor

/// A fully connected layer, `y = x·Wᵀ + b`, applied to the last axis of `[…, inFeatures]`.
///
/// The weight is stored `[outFeatures, inFeatures]`, PyTorch's layout, so checkpoints exported from
/// PyTorch load without reshuffling and parameter shapes read the same in both. The transpose is
/// recorded as a `permute` node — a view, so it costs no copy of its own; the graph reads
/// `matmul(x, permute(weight))`. Weights and bias start from PyTorch's defaults
/// (`U(−1/√in, 1/√in)`), drawn from `rng`.
///
/// ```swift
/// var rng = SeededRandom(seed: 0)
/// let fc = try Linear(inFeatures: 784, outFeatures: 10, rng: &rng)
/// let graph = try fc.trace(TensorType([64, 784]))      // output float32[64, 10]
/// ```
///
/// Parameters: `weight` `[out, in]`, `bias` `[out]` (when `bias` is `true`).
/// Nodes: `transpose`, `matmul`, `add`.
public final class Linear: Module {
    public let inFeatures: Int
    public let outFeatures: Int
    public let weight: Parameter
    public let bias: Parameter?

    public init(
        inFeatures: Int, outFeatures: Int, bias: Bool = true, weightInitializer: Initializer = .torchDefault,
        rng: inout SeededRandom
    ) throws {
        try requirePositive("Linear", ["inFeatures": inFeatures, "outFeatures": outFeatures])
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        weight = Parameter("weight", try weightInitializer.make([outFeatures, inFeatures], rng: &rng))
        self.bias = bias ? Parameter("bias", try Initializer.torchBias(fanIn: inFeatures).make([outFeatures], rng: &rng)) : nil
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let w = try weight.traced(in: x.tracer)
        let wT = try w.recording(.permute([1, 0]), name: "transpose")
        let y = try x.recording(.matmul, [wT], name: "matmul")
        guard let bias else { return y }
        return try y.recording(.binary(.add), [bias.traced(in: x.tracer)], name: "add")
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}

/// `Linear(…)` with positional sizes, for short model definitions.
extension Linear {
    public convenience init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, rng: inout SeededRandom) throws {
        try self.init(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias, rng: &rng)
    }
}

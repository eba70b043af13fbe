/// Which fusions `FusionPass` applies.
public struct FusionSettings: Sendable, Hashable {
    /// Fold `conv2d → batchNorm` into one convolution (`ConvBatchNormFoldingPass`).
    public var foldsBatchNorm: Bool
    /// Fuse `matmul → add → activation` and `conv2d → activation` (`LinearFusionPass`).
    public var fusesLinear: Bool
    /// Fuse the remaining element-wise chains (`ElementwiseFusionPass`).
    public var fusesElementwise: Bool

    public init(foldsBatchNorm: Bool = true, fusesLinear: Bool = true, fusesElementwise: Bool = true) {
        self.foldsBatchNorm = foldsBatchNorm
        self.fusesLinear = fusesLinear
        self.fusesElementwise = fusesElementwise
    }
}

/// Operator fusion: the passes that cut kernels and intermediate tensors, in the order that
/// lets each see the most.
///
/// 1. `ConvBatchNormFoldingPass`: `conv2d → batchNorm` becomes a convolution with folded
///    weights, so the activation after it becomes adjacent to the convolution;
/// 2. `LinearFusionPass`: `matmul → add → act` and `conv2d → act` become `FusedLinear` and
///    `FusedConv2d` (the big kernel's result is finished in place);
/// 3. `ElementwiseFusionPass`: what remains of element-wise chains becomes `FusedElementwise`.
///
/// ```swift
/// let (optimised, report) = try FusionPass().run(graph)
/// print(report)
/// // fusion: ops 7 → 2, kernels 7 → 2, peak 3.0 MiB → 1.0 MiB
/// //   linearFusion: ops 7 → 3, …
/// ```
public struct FusionPass: GraphPass {
    public var settings: FusionSettings

    public init(settings: FusionSettings = .init()) { self.settings = settings }

    public var name: String { "fusion" }

    /// The passes the settings select, in order.
    public var passes: [any GraphPass] {
        var result: [any GraphPass] = []
        if settings.foldsBatchNorm { result.append(ConvBatchNormFoldingPass()) }
        if settings.fusesLinear { result.append(LinearFusionPass()) }
        if settings.fusesElementwise { result.append(ElementwiseFusionPass()) }
        return result
    }

    public func run(_ graph: Graph) throws -> (Graph, PassReport) {
        try PassPipeline(name: name, passes).run(graph)
    }
}

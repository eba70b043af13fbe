public import DeepseekCore
public import DeepseekGraph
public import DeepseekTensor

/// 2-D convolution over NCHW input with a square kernel, PyTorch's `nn.Conv2d`.
///
/// The weight is `[outChannels, inChannels/groups, kernelSize, kernelSize]` (OIHW); weight and
/// bias start from PyTorch's defaults, drawn from `rng`. Output size per spatial axis is
/// `⌊(n + 2·padding − dilation·(k − 1) − 1) / stride⌋ + 1`.
///
/// ```swift
/// let conv = try Conv2d(inChannels: 3, outChannels: 16, kernelSize: 3, padding: 1, rng: &rng)
/// let graph = try conv.trace(TensorType([8, 3, 32, 32]))   // output float32[8, 16, 32, 32]
/// ```
///
/// Parameters: `weight`, `bias` (when `bias` is `true`). Nodes: `conv2d`.
public final class Conv2d: Module {
    public let inChannels: Int
    public let outChannels: Int
    public let kernelSize: Int
    /// Stride, padding, dilation and groups as the graph op takes them.
    public let settings: Conv2dParameters
    public let weight: Parameter
    public let bias: Parameter?

    public init(
        inChannels: Int, outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, dilation: Int = 1,
        groups: Int = 1, bias: Bool = true, weightInitializer: Initializer = .torchDefault, rng: inout SeededRandom
    ) throws {
        try requirePositive(
            "Conv2d",
            ["inChannels": inChannels, "outChannels": outChannels, "kernelSize": kernelSize, "stride": stride, "dilation": dilation, "groups": groups])
        guard padding >= 0 else { throw NNError(.invalidArgument, "Conv2d: padding must be ≥ 0, got \(padding)") }
        guard inChannels % groups == 0, outChannels % groups == 0 else {
            throw NNError(
                .invalidArgument,
                "Conv2d: inChannels \(inChannels) and outChannels \(outChannels) must both divide by groups \(groups)")
        }
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernelSize = kernelSize
        self.settings = Conv2dParameters(stride: stride, padding: padding, dilation: dilation, groups: groups)
        let fanIn = inChannels / groups * kernelSize * kernelSize
        weight = Parameter(
            "weight", try weightInitializer.make([outChannels, inChannels / groups, kernelSize, kernelSize], rng: &rng))
        self.bias = bias ? Parameter("bias", try Initializer.torchBias(fanIn: fanIn).make([outChannels], rng: &rng)) : nil
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let w = try weight.traced(in: x.tracer)
        let b = try bias.map { try $0.traced(in: x.tracer) }
        return try x.conv2d(w, bias: b, parameters: settings, name: "conv2d")
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}

/// 2-D max pooling over NCHW input with a square window; `stride` defaults to the window size.
/// No parameters; records one node, `maxPool2d`.
public final class MaxPool2d: Module {
    public let settings: Pool2dParameters

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false) throws {
        try requirePositive("MaxPool2d", ["kernelSize": kernelSize, "stride": stride ?? kernelSize])
        guard padding >= 0 else { throw NNError(.invalidArgument, "MaxPool2d: padding must be ≥ 0, got \(padding)") }
        let s = stride ?? kernelSize
        settings = Pool2dParameters(
            kernel: (kernelSize, kernelSize), stride: (s, s), padding: (padding, padding, padding, padding), ceilMode: ceilMode)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        try x.recording(.pool2d(.max, settings), name: "maxPool2d")
    }

    public var parameters: [Parameter] { [] }
}

/// 2-D average pooling over NCHW input with a square window; `stride` defaults to the window size
/// and padded positions count in the divisor, as in PyTorch (pass `countIncludePad: false` to leave them out).
/// No parameters; records one node, `avgPool2d`.
public final class AvgPool2d: Module {
    public let settings: Pool2dParameters

    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0, ceilMode: Bool = false, countIncludePad: Bool = true) throws {
        try requirePositive("AvgPool2d", ["kernelSize": kernelSize, "stride": stride ?? kernelSize])
        guard padding >= 0 else { throw NNError(.invalidArgument, "AvgPool2d: padding must be ≥ 0, got \(padding)") }
        let s = stride ?? kernelSize
        settings = Pool2dParameters(
            kernel: (kernelSize, kernelSize), stride: (s, s), padding: (padding, padding, padding, padding), ceilMode: ceilMode,
            countIncludePad: countIncludePad)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        try x.recording(.pool2d(.average, settings), name: "avgPool2d")
    }

    public var parameters: [Parameter] { [] }
}

public import DeepseekGraph
public import DeepseekNN
import DeepseekTensor

/// One inverted-residual block of a MobileNetV3 table: kernel, expanded and output channels,
/// squeeze-excitation, hard-swish (else ReLU) and stride.
public struct MobileNetV3BlockSpec: Sendable, Hashable {
    public var kernel: Int
    public var expanded: Int
    public var out: Int
    public var squeezeExcite: Bool
    public var hardSwish: Bool
    public var stride: Int

    public init(kernel: Int, expanded: Int, out: Int, squeezeExcite: Bool, hardSwish: Bool, stride: Int) {
        (self.kernel, self.expanded, self.out, self.squeezeExcite, self.hardSwish, self.stride) =
            (kernel, expanded, out, squeezeExcite, hardSwish, stride)
    }
}

/// The shape of a MobileNetV3: stem width, block table, last convolution, classifier width.
public struct MobileNetV3Configuration: Sendable, Hashable {
    public var stem: Int
    public var blocks: [MobileNetV3BlockSpec]
    public var lastConv: Int
    public var lastChannel: Int
    public var classes: Int

    public init(stem: Int, blocks: [MobileNetV3BlockSpec], lastConv: Int, lastChannel: Int, classes: Int = 1000) {
        (self.stem, self.blocks, self.lastConv, self.lastChannel, self.classes) = (stem, blocks, lastConv, lastChannel, classes)
    }

    /// MobileNetV3-Small (Howard et al., 2019, table 2), as torchvision defines it: 2,542,856 parameters.
    public static let small: MobileNetV3Configuration = {
        func b(_ k: Int, _ e: Int, _ o: Int, _ se: Bool, _ hs: Bool, _ s: Int) -> MobileNetV3BlockSpec {
            MobileNetV3BlockSpec(kernel: k, expanded: e, out: o, squeezeExcite: se, hardSwish: hs, stride: s)
        }
        return MobileNetV3Configuration(
            stem: 16,
            blocks: [
                b(3, 16, 16, true, false, 2), b(3, 72, 24, false, false, 2), b(3, 88, 24, false, false, 1),
                b(5, 96, 40, true, true, 2), b(5, 240, 40, true, true, 1), b(5, 240, 40, true, true, 1),
                b(5, 120, 48, true, true, 1), b(5, 144, 48, true, true, 1), b(5, 288, 96, true, true, 2),
                b(5, 576, 96, true, true, 1), b(5, 576, 96, true, true, 1),
            ],
            lastConv: 576, lastChannel: 1024)
    }()
}

/// MobileNetV3 (Howard et al., 2019) over NCHW images, with torchvision's structure and names:
/// `features.0` (3×3 stride-2 stem, batch norm, hard-swish), `features.1…n` inverted-residual
/// blocks (`block.<i>`: 1×1 expansion, depthwise k×k, optional squeeze-excitation, 1×1
/// projection), `features.<n+1>` (1×1 convolution), global average pool, then `classifier.0`,
/// hard-swish, `classifier.3`. Batch norm uses ε = 0.001 as torchvision does; dropout before the
/// last layer is left out (it has no parameters and inference skips it).
public final class MobileNetV3: Module {
    public let configuration: MobileNetV3Configuration
    public let mode: ModelMode
    let stem: MobileNetConvBN
    let blocks: [MobileNetInvertedResidual]
    let last: MobileNetConvBN
    let fc1: ZooLinear
    let fc2: ZooLinear

    public init(_ configuration: MobileNetV3Configuration, inChannels: Int = 3, factory: inout ParameterFactory) throws {
        self.configuration = configuration
        mode = factory.mode
        stem = try MobileNetConvBN(inChannels, configuration.stem, kernel: 3, stride: 2, activation: .hardSwish, factory: &factory).named("features.0")
        var channels = configuration.stem
        var blocks: [MobileNetInvertedResidual] = []
        for (i, spec) in configuration.blocks.enumerated() {
            blocks.append(try MobileNetInvertedResidual(channels, spec, factory: &factory).named("features.\(i + 1)"))
            channels = spec.out
        }
        self.blocks = blocks
        let lastIndex = configuration.blocks.count + 1
        last = try MobileNetConvBN(channels, configuration.lastConv, kernel: 1, activation: .hardSwish, factory: &factory).named("features.\(lastIndex)")
        fc1 = try ZooLinear(configuration.lastConv, configuration.lastChannel, factory: &factory).named("classifier.0")
        fc2 = try ZooLinear(configuration.lastChannel, configuration.classes, factory: &factory).named("classifier.3")
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        guard x.rank == 4 else { throw NNError(.shapeMismatch, "MobileNetV3: input must be [N, C, H, W] images, got \(x.shape)") }
        var h = try stem(x, scope: "features.0")
        for (i, block) in blocks.enumerated() { h = try block(h, scope: "features.\(i + 1)") }
        h = try last(h, scope: "features.\(blocks.count + 1)")
        h = try h.zooRecord(.reduce(.mean, axes: [2, 3], keepDims: false), name: "avgpool")
        h = try fc1(h, scope: "classifier.0").hardSwish(name: "classifier.1")
        return try fc2(h, scope: "classifier.3")
    }

    public var parameters: [Parameter] {
        stem.parameters + blocks.flatMap(\.parameters) + last.parameters + fc1.parameters + fc2.parameters
    }
}

/// torchvision's `_make_divisible`: `v` rounded to the nearest multiple of 8, never more than 10 % down.
func makeDivisible(_ v: Double, _ divisor: Int = 8) -> Int {
    var rounded = max(divisor, Int(v + Double(divisor) / 2) / divisor * divisor)
    if Double(rounded) < 0.9 * v { rounded += divisor }
    return rounded
}

/// Convolution (no bias), batch norm (ε 0.001), then an activation: torchvision's `Conv2dNormActivation`
/// (children `0` and `1`).
final class MobileNetConvBN: Module {
    enum Activation { case none, relu, hardSwish }
    let conv: ZooConv2d
    let bn: ZooBatchNorm2d
    let activation: Activation

    init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, groups: Int = 1, activation: Activation, factory: inout ParameterFactory) throws {
        conv = try ZooConv2d(
            inChannels, outChannels, kernelSize: kernel, stride: stride, padding: (kernel - 1) / 2, groups: groups, factory: &factory
        ).named("0")
        bn = try ZooBatchNorm2d(outChannels, epsilon: 1e-3, factory: &factory).named("1")
        self.activation = activation
    }

    func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let h = try bn(conv(x, scope: "0"), scope: "1")
        switch activation {
        case .none: return h
        case .relu: return try h.zooRecord(.unary(.relu), name: "2.relu")
        case .hardSwish: return try h.hardSwish(name: "2.hardswish")
        }
    }

    var parameters: [Parameter] { conv.parameters + bn.parameters }
}

/// Squeeze-excitation: global average pool, 1×1 down (`fc1`), ReLU, 1×1 up (`fc2`), hard-sigmoid,
/// and a channel-wise scale of the input.
final class MobileNetSqueezeExcitation: Module {
    let fc1: ZooConv2d
    let fc2: ZooConv2d

    init(_ channels: Int, _ squeeze: Int, factory: inout ParameterFactory) throws {
        fc1 = try ZooConv2d(channels, squeeze, kernelSize: 1, bias: true, weightInitializer: .torchDefault, factory: &factory).named("fc1")
        fc2 = try ZooConv2d(squeeze, channels, kernelSize: 1, bias: true, weightInitializer: .torchDefault, factory: &factory).named("fc2")
    }

    func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let pooled = try x.zooRecord(.reduce(.mean, axes: [2, 3], keepDims: true), name: "avgpool")
        let s = try fc2(fc1(pooled, scope: "fc1").zooRecord(.unary(.relu), name: "relu"), scope: "fc2").hardSigmoid(name: "hardsigmoid")
        return try x.zooRecord(.binary(.mul), [s], name: "scale")
    }

    var parameters: [Parameter] { fc1.parameters + fc2.parameters }
}

/// The MobileNetV3 inverted residual, torchvision's `InvertedResidual` (children `block.<i>`),
/// with a residual connection when stride is 1 and the channel count is kept.
final class MobileNetInvertedResidual: Module {
    let layers: [any Module]
    let residual: Bool

    init(_ inChannels: Int, _ spec: MobileNetV3BlockSpec, factory: inout ParameterFactory) throws {
        let act: MobileNetConvBN.Activation = spec.hardSwish ? .hardSwish : .relu
        var layers: [any Module] = []
        if spec.expanded != inChannels {
            layers.append(try MobileNetConvBN(inChannels, spec.expanded, kernel: 1, activation: act, factory: &factory))
        }
        layers.append(
            try MobileNetConvBN(
                spec.expanded, spec.expanded, kernel: spec.kernel, stride: spec.stride, groups: spec.expanded, activation: act, factory: &factory))
        if spec.squeezeExcite {
            layers.append(try MobileNetSqueezeExcitation(spec.expanded, makeDivisible(Double(spec.expanded / 4)), factory: &factory))
        }
        layers.append(try MobileNetConvBN(spec.expanded, spec.out, kernel: 1, activation: .none, factory: &factory))
        for (i, layer) in layers.enumerated() { layer.named("block.\(i)") }
        self.layers = layers
        residual = spec.stride == 1 && inChannels == spec.out
    }

    func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        var h = x
        for (i, layer) in layers.enumerated() { h = try layer(h, scope: "block.\(i)") }
        return residual ? try h.zooRecord(.binary(.add), [x], name: "residual") : h
    }

    var parameters: [Parameter] { layers.flatMap(\.parameters) }
}

public import DeepseekGraph
public import DeepseekNN
import DeepseekTensor

/// The shape of a ResNet: block kind, blocks per stage, stem width and classes.
///
/// `resnet18`, `resnet34` and `resnet50` are the torchvision definitions (ResNet-50 is "v1.5": the
/// stride of a bottleneck sits on its 3×3 convolution). Smaller widths and fewer blocks give the
/// tiny variants tests train.
public struct ResNetConfiguration: Sendable, Hashable {
    /// Two 3×3 convolutions per block (ResNet-18/34) or the 1×1–3×3–1×1 bottleneck (ResNet-50 and up).
    public enum Block: Sendable, Hashable { case basic, bottleneck }
    public var block: Block
    /// Blocks in each of the four stages.
    public var layers: [Int]
    /// Channels after the stem; stage `i` has `width · 2ⁱ` (times 4 at a bottleneck's output).
    public var width: Int
    public var classes: Int

    public init(block: Block, layers: [Int], width: Int = 64, classes: Int = 1000) {
        self.block = block
        self.layers = layers
        self.width = width
        self.classes = classes
    }

    public static let resnet18 = ResNetConfiguration(block: .basic, layers: [2, 2, 2, 2])
    public static let resnet34 = ResNetConfiguration(block: .basic, layers: [3, 4, 6, 3])
    public static let resnet50 = ResNetConfiguration(block: .bottleneck, layers: [3, 4, 6, 3])
    public static let resnet101 = ResNetConfiguration(block: .bottleneck, layers: [3, 4, 23, 3])
    public static let resnet152 = ResNetConfiguration(block: .bottleneck, layers: [3, 8, 36, 3])

    /// Output channels of a block over its inner width (1 for basic blocks, 4 for bottlenecks).
    public var expansion: Int { block == .basic ? 1 : 4 }
}

/// A residual network (He et al., 2015) over NCHW images, with torchvision's parameter names:
/// `conv1`, `bn1`, `layer<s>.<b>.{conv1,bn1,conv2,bn2[,conv3,bn3]}`, `layer<s>.<b>.downsample.{0,1}`, `fc`.
///
/// Stem: 7×7 stride-2 convolution, batch norm, ReLU, 3×3 stride-2 max pool; four stages (the
/// first block of stages 2–4 halves the resolution); global average pool; `fc`. Any input of at
/// least 32×32 works; ImageNet models take `[N, 3, 224, 224]`.
///
/// ```swift
/// var factory = ParameterFactory(materialize: false)
/// let resnet50 = try ResNet(.resnet50, factory: &factory)
/// resnet50.trainableParameterCount   // 25_557_032
/// ```
public final class ResNet: Module {
    public let configuration: ResNetConfiguration
    /// Training (batch statistics) or inference (running statistics) for every batch-norm layer.
    public let mode: ModelMode
    let conv1: ZooConv2d
    let bn1: ZooBatchNorm2d
    let stages: [[any Module]]
    let fc: ZooLinear

    public init(_ configuration: ResNetConfiguration, inChannels: Int = 3, factory: inout ParameterFactory) throws {
        guard configuration.layers.count == 4, configuration.layers.allSatisfy({ $0 >= 1 }) else {
            throw NNError(.invalidArgument, "ResNet: layers must list 4 stages of at least one block, got \(configuration.layers)")
        }
        try zooRequirePositive("ResNet", ["width": configuration.width, "classes": configuration.classes, "inChannels": inChannels])
        self.configuration = configuration
        mode = factory.mode
        let w = configuration.width
        conv1 = try ZooConv2d(inChannels, w, kernelSize: 7, stride: 2, padding: 3, factory: &factory).named("conv1")
        bn1 = try ZooBatchNorm2d(w, factory: &factory).named("bn1")
        var channels = w
        var stages: [[any Module]] = []
        for (s, count) in configuration.layers.enumerated() {
            let inner = w << s
            var blocks: [any Module] = []
            for b in 0..<count {
                let stride = (s > 0 && b == 0) ? 2 : 1
                let name = "layer\(s + 1).\(b)"
                switch configuration.block {
                case .basic:
                    blocks.append(try ResNetBasicBlock(channels, inner, stride: stride, factory: &factory).named(name))
                case .bottleneck:
                    blocks.append(try ResNetBottleneck(channels, inner, stride: stride, factory: &factory).named(name))
                }
                channels = inner * configuration.expansion
            }
            stages.append(blocks)
        }
        self.stages = stages
        fc = try ZooLinear(channels, configuration.classes, factory: &factory).named("fc")
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        guard x.rank == 4, x.shape[2] >= 32, x.shape[3] >= 32 else {
            throw NNError(.shapeMismatch, "ResNet: input must be [N, C, H, W] images of at least 32×32, got \(x.shape)")
        }
        var h = try bn1(conv1(x, scope: "conv1"), scope: "bn1").zooRecord(.unary(.relu), name: "relu")
        h = try h.zooRecord(.pool2d(.max, Pool2dParameters(kernel: (3, 3), stride: (2, 2), padding: (1, 1, 1, 1))), name: "maxpool")
        for (s, blocks) in stages.enumerated() {
            for (b, block) in blocks.enumerated() { h = try block(h, scope: "layer\(s + 1).\(b)") }
        }
        h = try h.zooRecord(.reduce(.mean, axes: [2, 3], keepDims: false), name: "avgpool")
        return try fc(h, scope: "fc")
    }

    public var parameters: [Parameter] {
        conv1.parameters + bn1.parameters + stages.flatMap { $0.flatMap(\.parameters) } + fc.parameters
    }
}

/// The ResNet-18/34 block: two 3×3 convolutions with batch norm, and a 1×1 projection on the
/// shortcut when the stride or the width changes.
final class ResNetBasicBlock: Module {
    let conv1: ZooConv2d, bn1: ZooBatchNorm2d, conv2: ZooConv2d, bn2: ZooBatchNorm2d
    let downsample: Sequential?

    init(_ inChannels: Int, _ channels: Int, stride: Int, factory: inout ParameterFactory) throws {
        conv1 = try ZooConv2d(inChannels, channels, kernelSize: 3, stride: stride, padding: 1, factory: &factory).named("conv1")
        bn1 = try ZooBatchNorm2d(channels, factory: &factory).named("bn1")
        conv2 = try ZooConv2d(channels, channels, kernelSize: 3, padding: 1, factory: &factory).named("conv2")
        bn2 = try ZooBatchNorm2d(channels, factory: &factory).named("bn2")
        downsample = try resNetShortcut(inChannels, channels, stride: stride, factory: &factory)
    }

    func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        var h = try bn1(conv1(x, scope: "conv1"), scope: "bn1").zooRecord(.unary(.relu), name: "relu1")
        h = try bn2(conv2(h, scope: "conv2"), scope: "bn2")
        let shortcut = try downsample.map { try $0(x, scope: "downsample") } ?? x
        return try h.zooRecord(.binary(.add), [shortcut], name: "residual").zooRecord(.unary(.relu), name: "relu2")
    }

    var parameters: [Parameter] {
        conv1.parameters + bn1.parameters + conv2.parameters + bn2.parameters + (downsample?.parameters ?? [])
    }
}

/// The bottleneck block: 1×1 down to `channels`, 3×3 (carrying the stride), 1×1 up to `4·channels`.
final class ResNetBottleneck: Module {
    let conv1: ZooConv2d, bn1: ZooBatchNorm2d, conv2: ZooConv2d, bn2: ZooBatchNorm2d, conv3: ZooConv2d, bn3: ZooBatchNorm2d
    let downsample: Sequential?

    init(_ inChannels: Int, _ channels: Int, stride: Int, factory: inout ParameterFactory) throws {
        conv1 = try ZooConv2d(inChannels, channels, kernelSize: 1, factory: &factory).named("conv1")
        bn1 = try ZooBatchNorm2d(channels, factory: &factory).named("bn1")
        conv2 = try ZooConv2d(channels, channels, kernelSize: 3, stride: stride, padding: 1, factory: &factory).named("conv2")
        bn2 = try ZooBatchNorm2d(channels, factory: &factory).named("bn2")
        conv3 = try ZooConv2d(channels, channels * 4, kernelSize: 1, factory: &factory).named("conv3")
        bn3 = try ZooBatchNorm2d(channels * 4, factory: &factory).named("bn3")
        downsample = try resNetShortcut(inChannels, channels * 4, stride: stride, factory: &factory)
    }

    func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        var h = try bn1(conv1(x, scope: "conv1"), scope: "bn1").zooRecord(.unary(.relu), name: "relu1")
        h = try bn2(conv2(h, scope: "conv2"), scope: "bn2").zooRecord(.unary(.relu), name: "relu2")
        h = try bn3(conv3(h, scope: "conv3"), scope: "bn3")
        let shortcut = try downsample.map { try $0(x, scope: "downsample") } ?? x
        return try h.zooRecord(.binary(.add), [shortcut], name: "residual").zooRecord(.unary(.relu), name: "relu3")
    }

    var parameters: [Parameter] {
        conv1.parameters + bn1.parameters + conv2.parameters + bn2.parameters + conv3.parameters + bn3.parameters
            + (downsample?.parameters ?? [])
    }
}

/// The projection shortcut (1×1 convolution with the block's stride, then batch norm), or `nil`
/// when the block keeps its shape.
private func resNetShortcut(_ inChannels: Int, _ outChannels: Int, stride: Int, factory: inout ParameterFactory) throws -> Sequential? {
    guard stride != 1 || inChannels != outChannels else { return nil }
    return Sequential([
        try ZooConv2d(inChannels, outChannels, kernelSize: 1, stride: stride, factory: &factory),
        try ZooBatchNorm2d(outChannels, factory: &factory),
    ]).named("downsample")
}

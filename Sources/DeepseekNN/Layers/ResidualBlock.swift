public import DeepseekCore
public import DeepseekGraph
import DeepseekTensor

/// The ResNet basic block: `relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))`.
///
/// Both convolutions are 3×3 without bias (the batch norms supply it); `conv1` carries the
/// stride. When the stride is not 1 or the channel count changes, the shortcut is a 1×1
/// convolution and a batch norm (`downsample.0`, `downsample.1`); otherwise it is the identity.
/// Names follow torchvision's `BasicBlock`, so its checkpoints map one to one.
///
/// Parameters: `conv1.weight`, `bn1.*`, `conv2.weight`, `bn2.*`, and `downsample.{0,1}.*` when present.
/// Nodes: the children's under the same names, plus `relu1`, `residual`, `relu2`.
public final class ResidualBlock: Module {
    public let conv1: Conv2d
    public let bn1: BatchNorm2d
    public let conv2: Conv2d
    public let bn2: BatchNorm2d
    /// The projection shortcut, or `nil` for the identity.
    public let downsample: Sequential?

    public init(inChannels: Int, outChannels: Int, stride: Int = 1, rng: inout SeededRandom) throws {
        conv1 = try Conv2d(
            inChannels: inChannels, outChannels: outChannels, kernelSize: 3, stride: stride, padding: 1, bias: false,
            weightInitializer: .kaimingNormal(mode: .fanOut), rng: &rng
        ).named("conv1")
        bn1 = try BatchNorm2d(numFeatures: outChannels).named("bn1")
        conv2 = try Conv2d(
            inChannels: outChannels, outChannels: outChannels, kernelSize: 3, padding: 1, bias: false,
            weightInitializer: .kaimingNormal(mode: .fanOut), rng: &rng
        ).named("conv2")
        bn2 = try BatchNorm2d(numFeatures: outChannels).named("bn2")
        if stride != 1 || inChannels != outChannels {
            downsample = try Sequential([
                Conv2d(
                    inChannels: inChannels, outChannels: outChannels, kernelSize: 1, stride: stride, bias: false,
                    weightInitializer: .kaimingNormal(mode: .fanOut), rng: &rng),
                BatchNorm2d(numFeatures: outChannels),
            ]).named("downsample")
        } else {
            downsample = nil
        }
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        var h = try bn1(conv1(x, scope: "conv1"), scope: "bn1").unary(.relu, name: "relu1")
        h = try bn2(conv2(h, scope: "conv2"), scope: "bn2")
        let shortcut = try downsample.map { try $0(x, scope: "downsample") } ?? x
        return try h.recording(.binary(.add), [shortcut], name: "residual").unary(.relu, name: "relu2")
    }

    public var parameters: [Parameter] {
        conv1.parameters + bn1.parameters + conv2.parameters + bn2.parameters + (downsample?.parameters ?? [])
    }
}

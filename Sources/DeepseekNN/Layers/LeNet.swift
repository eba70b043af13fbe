public import DeepseekCore
public import DeepseekGraph
import DeepseekTensor

/// A LeNet-5 style convolutional classifier for 28×28 single-channel images (MNIST, Fashion-MNIST).
///
/// `conv1` (1→6, 5×5, padding 2) → ReLU → 2×2 max pool → `conv2` (6→16, 5×5) → ReLU → 2×2 max pool
/// → flatten (16·5·5 = 400) → `fc1` (400→120) → ReLU → `fc2` (120→84) → ReLU → `fc3` (84→classes).
/// With ten classes it has 61 706 parameters. Weights start from PyTorch's defaults, drawn from
/// `rng` in the order the layers are listed, and the names follow the usual PyTorch definition
/// (`conv1`, `conv2`, `fc1`, `fc2`, `fc3`), so its state dict loads one to one.
///
/// The input is `[N, 1, 28, 28]`, or `[N, 784]` rows as `Batches` hands out Fashion-MNIST, which
/// are viewed as `[N, 1, 28, 28]` first.
///
/// ```swift
/// let model = try LeNet(seed: 0)
/// let graph = try model.trace(TensorType([64, 1, 28, 28]))   // output float32[64, 10]
/// ```
///
/// Parameters: `conv1.weight` `[6, 1, 5, 5]`, `conv1.bias`, `conv2.weight` `[16, 6, 5, 5]`,
/// `conv2.bias`, `fc1.weight` `[120, 400]`, `fc1.bias`, `fc2.weight` `[84, 120]`, `fc2.bias`,
/// `fc3.weight` `[classes, 84]`, `fc3.bias`.
/// Nodes: `unflatten` (rank-2 input only), `conv1.conv2d`, `relu1`, `pool1`, `conv2.conv2d`, `relu2`,
/// `pool2`, `flatten`, `fc1.*`, `relu3`, `fc2.*`, `relu4`, `fc3.*`.
public final class LeNet: Module {
    public let conv1: Conv2d
    public let conv2: Conv2d
    public let fc1: Linear
    public let fc2: Linear
    public let fc3: Linear
    /// The number of output logits.
    public let classes: Int

    private static let pool = Pool2dParameters(kernel: (2, 2), stride: (2, 2))

    public init(classes: Int = 10, rng: inout SeededRandom) throws {
        try requirePositive("LeNet", ["classes": classes])
        self.classes = classes
        conv1 = try Conv2d(inChannels: 1, outChannels: 6, kernelSize: 5, padding: 2, rng: &rng).named("conv1")
        conv2 = try Conv2d(inChannels: 6, outChannels: 16, kernelSize: 5, rng: &rng).named("conv2")
        fc1 = try Linear(inFeatures: 16 * 5 * 5, outFeatures: 120, rng: &rng).named("fc1")
        fc2 = try Linear(inFeatures: 120, outFeatures: 84, rng: &rng).named("fc2")
        fc3 = try Linear(inFeatures: 84, outFeatures: classes, rng: &rng).named("fc3")
    }

    /// Builds the model from a seed.
    public convenience init(classes: Int = 10, seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        try self.init(classes: classes, rng: &rng)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        var h = x
        if x.rank == 2, x.shape[1] == 28 * 28 {
            h = try x.recording(.reshape([x.shape[0], 1, 28, 28]), name: "unflatten")
        }
        guard h.rank == 4, Array(h.shape.dims.dropFirst()) == [1, 28, 28] else {
            throw NNError(
                .shapeMismatch, "LeNet: input must be [N, 1, 28, 28] or [N, 784], got \(x.shape); resize or pad the images to 28×28")
        }
        h = try conv1(h, scope: "conv1").unary(.relu, name: "relu1").recording(.pool2d(.max, Self.pool), name: "pool1")
        h = try conv2(h, scope: "conv2").unary(.relu, name: "relu2").recording(.pool2d(.max, Self.pool), name: "pool2")
        h = try h.recording(.reshape([h.shape[0], 16 * 5 * 5]), name: "flatten")
        h = try fc1(h, scope: "fc1").unary(.relu, name: "relu3")
        h = try fc2(h, scope: "fc2").unary(.relu, name: "relu4")
        return try fc3(h, scope: "fc3")
    }

    public var parameters: [Parameter] {
        conv1.parameters + conv2.parameters + fc1.parameters + fc2.parameters + fc3.parameters
    }
}

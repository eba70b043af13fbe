import DeepseekCore
public import DeepseekGraph
public import DeepseekNN
public import DeepseekTensor
import Synchronization

/// How a zoo model creates its parameters: values drawn from a seeded generator, or meta tensors
/// that carry only a shape and a dtype.
///
/// Full-size models are simulated, not run: GPT-3's 175 billion parameters would need 700 GB as
/// float32. With `materialize == false` every parameter is a `Tensor.meta`, so building GPT-3
/// costs a few megabytes of bookkeeping, and the same module traces, counts its parameters and
/// runs on `MetaBackend`. With `materialize == true` the parameters start from PyTorch's
/// initialisers, drawn in construction order, so a model built twice from one seed is identical.
///
/// ```swift
/// var factory = ParameterFactory(seed: 0, materialize: false)
/// let model = try ResNet(.resnet50, factory: &factory)   // no weight bytes allocated
/// ```
public struct ParameterFactory: Sendable {
    /// Whether parameters hold values (`true`) or are meta tensors (`false`).
    public let materialize: Bool
    /// The dtype of every parameter.
    public let dtype: DType
    /// The switch the model's batch-norm layers read (shared by every layer this factory builds).
    public let mode: ModelMode
    /// The seed the parameters are drawn from.
    public let seed: UInt64
    private var rng: SeededRandom

    public init(seed: UInt64 = 0, materialize: Bool = true, dtype: DType = .float32) {
        self.materialize = materialize
        self.dtype = dtype
        self.mode = ModelMode()
        self.seed = seed
        self.rng = SeededRandom(seed: seed)
    }

    /// A new parameter named `name`, shaped `shape`, filled by `initializer` (or meta).
    public mutating func make(_ name: String, _ shape: Shape, _ initializer: Initializer, trainable: Bool = true) throws -> Parameter {
        let value = materialize ? try initializer.make(shape, dtype: dtype, rng: &rng) : Tensor.meta(shape, dtype: dtype)
        return Parameter(name, value, trainable: trainable)
    }

    /// A constant for the graph: `build()` when materialising, a meta tensor of `shape` otherwise
    /// (so a 2048×2048 attention mask is not filled for a shape-only model).
    public func constant(_ shape: Shape, dtype: DType = .float32, _ build: () throws -> Tensor) rethrows -> Tensor {
        materialize ? try build() : Tensor.meta(shape, dtype: dtype)
    }
}

/// Whether a model runs in training mode (batch-norm with batch statistics) or inference mode
/// (running statistics). Shared by every layer of one model; the forward pass reads it when traced.
public final class ModelMode: Sendable {
    private let training = Mutex(false)
    public init() {}
    /// `true` while the model is traced for training.
    public var isTraining: Bool {
        get { training.withLock { $0 } }
        set { training.withLock { $0 = newValue } }
    }
}

/// A fully connected layer `y = x·Wᵀ + b` whose parameters may be meta tensors; the same
/// parameters and nodes as `DeepseekNN.Linear` (`weight` `[out, in]`, `bias`; `transpose`, `matmul`, `add`).
public final class ZooLinear: Module {
    public let weight: Parameter
    public let bias: Parameter?

    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, weightInitializer: Initializer = .torchDefault, factory: inout ParameterFactory) throws {
        try zooRequirePositive("Linear", ["inFeatures": inFeatures, "outFeatures": outFeatures])
        weight = try factory.make("weight", [outFeatures, inFeatures], weightInitializer)
        self.bias = bias ? try factory.make("bias", [outFeatures], Initializer.torchBias(fanIn: inFeatures)) : nil
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let wT = try weight.traced(in: x.tracer).zooRecord(.permute([1, 0]), name: "transpose")
        let y = try x.zooRecord(.matmul, [wT], name: "matmul")
        guard let bias else { return y }
        return try y.zooRecord(.binary(.add), [bias.traced(in: x.tracer)], name: "add")
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}

/// A 2-D convolution over NCHW input whose parameters may be meta tensors; `groups == inChannels`
/// makes it depthwise. Parameters `weight` `[out, in/groups, k, k]`, `bias`; node `conv2d`.
public final class ZooConv2d: Module {
    public let settings: Conv2dParameters
    public let weight: Parameter
    public let bias: Parameter?

    public init(
        _ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0, groups: Int = 1, bias: Bool = false,
        weightInitializer: Initializer = .kaimingNormal(mode: .fanOut), factory: inout ParameterFactory
    ) throws {
        try zooRequirePositive("Conv2d", ["inChannels": inChannels, "outChannels": outChannels, "kernelSize": kernelSize, "stride": stride, "groups": groups])
        guard inChannels % groups == 0, outChannels % groups == 0 else {
            throw NNError(.invalidArgument, "Conv2d: inChannels \(inChannels) and outChannels \(outChannels) must both divide by groups \(groups)")
        }
        settings = Conv2dParameters(stride: stride, padding: padding, groups: groups)
        weight = try factory.make("weight", [outChannels, inChannels / groups, kernelSize, kernelSize], weightInitializer)
        let fanIn = inChannels / groups * kernelSize * kernelSize
        self.bias = bias ? try factory.make("bias", [outChannels], Initializer.torchBias(fanIn: fanIn)) : nil
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        try x.conv2d(weight.traced(in: x.tracer), bias: bias.map { try $0.traced(in: x.tracer) }, parameters: settings, name: "conv2d")
    }

    public var parameters: [Parameter] { [weight] + (bias.map { [$0] } ?? []) }
}

/// Batch normalisation over the channels of NCHW input, PyTorch's names (`weight`, `bias`, buffers
/// `running_mean`, `running_var`). In inference mode it records `batchNorm` with the running
/// statistics; in training mode (`ModelMode.isTraining`) `batchNormTraining` with the batch's own
/// statistics (the moving-average update of the buffers is the trainer's job).
public final class ZooBatchNorm2d: Module {
    public let epsilon: Double
    public let mode: ModelMode
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVar: Parameter

    public init(_ features: Int, epsilon: Double = 1e-5, factory: inout ParameterFactory) throws {
        try zooRequirePositive("BatchNorm2d", ["numFeatures": features])
        self.epsilon = epsilon
        mode = factory.mode
        weight = try factory.make("weight", [features], .ones)
        bias = try factory.make("bias", [features], .zeros)
        runningMean = try factory.make("running_mean", [features], .zeros, trainable: false)
        runningVar = try factory.make("running_var", [features], .ones, trainable: false)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let t = x.tracer
        if mode.isTraining {
            return try t.apply(.batchNormTraining(epsilon: epsilon), [x, weight.traced(in: t), bias.traced(in: t)], name: "batchNorm")[0]
        }
        return try x.batchNorm(
            scale: weight.traced(in: t), bias: bias.traced(in: t), mean: runningMean.traced(in: t), variance: runningVar.traced(in: t),
            epsilon: epsilon, name: "batchNorm")
    }

    public var parameters: [Parameter] { [weight, bias, runningMean, runningVar] }
}

/// Layer normalisation over the last axis (`weight`, `bias` of `[dim]`; node `layerNorm`).
public final class ZooLayerNorm: Module {
    public let epsilon: Double
    public let weight: Parameter
    public let bias: Parameter

    public init(_ dim: Int, epsilon: Double = 1e-5, factory: inout ParameterFactory) throws {
        try zooRequirePositive("LayerNorm", ["dim": dim])
        self.epsilon = epsilon
        weight = try factory.make("weight", [dim], .ones)
        bias = try factory.make("bias", [dim], .zeros)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let t = x.tracer
        return try x.layerNorm(weight: weight.traced(in: t), bias: bias.traced(in: t), axis: -1, epsilon: epsilon, name: "layerNorm")
    }

    public var parameters: [Parameter] { [weight, bias] }
}

/// A lookup table `[count, dim]` read with integer ids (`weight`; node `gather`).
public final class ZooEmbedding: Module {
    public let weight: Parameter

    public init(_ count: Int, _ dim: Int, std: Double = 0.02, factory: inout ParameterFactory) throws {
        try zooRequirePositive("Embedding", ["numEmbeddings": count, "embeddingDim": dim])
        weight = try factory.make("weight", [count, dim], .normal(std: std))
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        guard x.dtype == .int32 || x.dtype == .int64 else {
            throw NNError(.dtypeMismatch, "Embedding: ids must be int32 or int64, got \(x.type); feed token ids, not embeddings")
        }
        return try weight.traced(in: x.tracer).zooRecord(.gather(axis: 0), [x], name: "gather")
    }

    public var parameters: [Parameter] { [weight] }
}

extension SymbolicTensor {
    /// Records `op` on this tensor (and `others`) as a node named `name` in the current scope.
    func zooRecord(_ op: GraphOp, _ others: [SymbolicTensor] = [], name: String) throws -> SymbolicTensor {
        try tracer.apply(op, [self] + others, name: name)[0]
    }

    /// `self ⊙ scalar` with the scalar recorded as a constant of this tensor's dtype.
    func zooScalar(_ op: BinaryOp, _ value: Double, name: String) throws -> SymbolicTensor {
        try zooRecord(.binary(op), [tracer.constant(Tensor(scalar: value, dtype: dtype))], name: name)
    }

    /// `relu6(x + 3) / 6`, PyTorch's `hardsigmoid`, recorded as `<name>.shift` (add), `.floor`
    /// (maximum), `.ceiling` (minimum) and `.scale` (mul) nodes: the op set has no single kernel
    /// for it, and autodiff differentiates each node.
    public func hardSigmoid(name: String) throws -> SymbolicTensor {
        try zooScalar(.add, 3, name: "\(name).shift").zooScalar(.maximum, 0, name: "\(name).floor")
            .zooScalar(.minimum, 6, name: "\(name).ceiling").zooScalar(.mul, 1.0 / 6, name: "\(name).scale")
    }

    /// `x · hardsigmoid(x)`, PyTorch's `hardswish`; the product node is named `name`.
    public func hardSwish(name: String) throws -> SymbolicTensor {
        try zooRecord(.binary(.mul), [hardSigmoid(name: name)], name: name)
    }
}

/// Throws unless every size is positive, naming the layer and the argument.
func zooRequirePositive(_ layer: String, _ sizes: KeyValuePairs<String, Int>) throws {
    for (name, value) in sizes where value <= 0 {
        throw NNError(.invalidArgument, "\(layer): \(name) must be positive, got \(value)")
    }
}

public import DeepseekGraph
import DeepseekTensor

/// Batch normalisation over the channel axis of NCHW input, in inference form.
///
/// `y = (x − runningMean) / √(runningVar + ε) · weight + bias`, recorded as one `batchNorm`
/// node. The running statistics are parameters with `isTrainable == false` (PyTorch's buffers):
/// they are fed like weights, so new statistics need no retrace, and optimizers skip them.
/// Training-mode normalisation with batch statistics (`.batchNormTraining`) and the moving-average
/// update of the running statistics belong to the trainer, which reads `momentum` from here.
///
/// Parameters: `weight` (ones), `bias` (zeros), `running_mean` (zeros), `running_var` (ones) —
/// PyTorch's names, so checkpoints map one to one. Nodes: `batchNorm`.
public final class BatchNorm2d: Module {
    public let numFeatures: Int
    public let epsilon: Double
    /// The weight of the newest batch in the running averages (used by training).
    public let momentum: Double
    public let weight: Parameter
    public let bias: Parameter
    public let runningMean: Parameter
    public let runningVar: Parameter

    public init(numFeatures: Int, epsilon: Double = 1e-5, momentum: Double = 0.1) throws {
        try requirePositive("BatchNorm2d", ["numFeatures": numFeatures])
        guard epsilon > 0 else { throw NNError(.invalidArgument, "BatchNorm2d: epsilon must be positive, got \(epsilon)") }
        self.numFeatures = numFeatures
        self.epsilon = epsilon
        self.momentum = momentum
        weight = Parameter("weight", try Tensor.ones([numFeatures]))
        bias = Parameter("bias", try Tensor.zeros([numFeatures]))
        runningMean = Parameter("running_mean", try Tensor.zeros([numFeatures]), trainable: false)
        runningVar = Parameter("running_var", try Tensor.ones([numFeatures]), trainable: false)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let t = x.tracer
        return try x.batchNorm(
            scale: weight.traced(in: t), bias: bias.traced(in: t), mean: runningMean.traced(in: t),
            variance: runningVar.traced(in: t), epsilon: epsilon, name: "batchNorm")
    }

    public var parameters: [Parameter] { [weight, bias, runningMean, runningVar] }
}

/// Layer normalisation over the trailing axes given by `normalizedShape`, PyTorch's `nn.LayerNorm`.
///
/// Parameters (when `elementwiseAffine`): `weight` (ones) and `bias` (zeros), each shaped
/// `normalizedShape`. Nodes: `layerNorm` (its mean and inverse standard deviation outputs are
/// there for the backward pass).
public final class LayerNorm: Module {
    public let normalizedShape: [Int]
    public let epsilon: Double
    public let weight: Parameter?
    public let bias: Parameter?

    public init(normalizedShape: [Int], epsilon: Double = 1e-5, elementwiseAffine: Bool = true) throws {
        guard !normalizedShape.isEmpty, normalizedShape.allSatisfy({ $0 > 0 }) else {
            throw NNError(.invalidArgument, "LayerNorm: normalizedShape must be non-empty with positive sizes, got \(normalizedShape)")
        }
        guard epsilon > 0 else { throw NNError(.invalidArgument, "LayerNorm: epsilon must be positive, got \(epsilon)") }
        self.normalizedShape = normalizedShape
        self.epsilon = epsilon
        weight = elementwiseAffine ? Parameter("weight", try Tensor.ones(Shape(normalizedShape))) : nil
        bias = elementwiseAffine ? Parameter("bias", try Tensor.zeros(Shape(normalizedShape))) : nil
    }

    /// Normalises over the last axis of size `dim`.
    public convenience init(_ dim: Int, epsilon: Double = 1e-5) throws {
        try self.init(normalizedShape: [dim], epsilon: epsilon)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let k = normalizedShape.count
        guard x.rank >= k, Array(x.shape.dims.suffix(k)) == normalizedShape else {
            throw NNError(
                .shapeMismatch,
                "LayerNorm: input of shape \(x.shape) does not end in normalizedShape \(normalizedShape); the last \(k) axes must match")
        }
        let t = x.tracer
        return try x.layerNorm(
            weight: weight.map { try $0.traced(in: t) }, bias: bias.map { try $0.traced(in: t) }, axis: -k, epsilon: epsilon,
            name: "layerNorm")
    }

    public var parameters: [Parameter] { [weight, bias].compactMap { $0 } }
}

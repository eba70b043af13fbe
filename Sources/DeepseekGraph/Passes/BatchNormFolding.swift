public import DeepseekTensor

/// Folds an inference batch normalisation into the convolution before it: computes the
/// convolution's new weight and bias.
///
/// With `s = γ / √(var + ε)` per output channel, `bn(conv(x, w) + b)` equals
/// `conv(x, w · s) + (b − μ) · s + β`. Inputs are the convolution's `weight` `[O, C/g, KH, KW]`,
/// the batch norm's `scale` (γ), `bias` (β), `mean` (μ) and `variance`, each with `O`
/// elements, and, when `hasConvolutionBias`, the convolution's bias; outputs are the folded
/// weight and the folded bias `[O]`. As a graph node it recomputes the fold from the current
/// parameter values on every run (a few kernels over weight-sized tensors instead of a pass
/// over the activations); when every input is a constant, `ConvBatchNormFoldingPass` runs it
/// once at pass time instead.
public struct BatchNormFolding: CustomGraphOp {
    public let epsilon: Double
    public let hasConvolutionBias: Bool

    public init(epsilon: Double, hasConvolutionBias: Bool) {
        self.epsilon = epsilon
        self.hasConvolutionBias = hasConvolutionBias
    }

    public var label: String { "foldBatchNorm" }
    public var signature: String { "foldBatchNorm(epsilon: \(epsilon), convolutionBias: \(hasConvolutionBias))" }
    public var outputCount: Int { 2 }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.count == (hasConvolutionBias ? 6 : 5) else {
            throw GraphError(
                .arity,
                "\(label): takes weight, scale, bias, mean, variance\(hasConvolutionBias ? " and the convolution bias" : ""), got \(inputs.count) inputs")
        }
        let weight = inputs[0]
        guard weight.rank == 4, weight.dtype.isFloatingPoint else {
            throw GraphError(.inference, "\(label): needs a floating-point convolution weight [O, C/groups, KH, KW], got \(weight.dtype)\(weight.shape)")
        }
        let channels = weight.shape[0]
        func perChannel(_ t: Tensor, _ name: String) throws -> Tensor {
            guard t.elementCount == channels else {
                throw GraphError(.inference, "\(label): \(name) has shape \(t.shape) but the weight \(weight.shape) has \(channels) output channels")
            }
            return try t.cast(to: weight.dtype).reshaped([channels])
        }
        let scale = try perChannel(inputs[1], "scale")
        let shift = try perChannel(inputs[2], "bias")
        let mean = try perChannel(inputs[3], "mean")
        let variance = try perChannel(inputs[4], "variance")
        let s = try scale * (variance + epsilon).rsqrt()
        let foldedWeight = try weight * s.reshaped([channels, 1, 1, 1])
        let centred = hasConvolutionBias ? try perChannel(inputs[5], "convolution bias") - mean : try mean.neg()
        let foldedBias = try centred * s + shift
        return [foldedWeight, foldedBias]
    }
}

public import DeepseekTensor

/// The weight gradient of a one-group 2-D convolution: inputs `x` `[N, C, H, W]` and the
/// output gradient `g` `[N, O, OH, OW]`; output `[O, C, KH, KW]` in `g`'s dtype, equal to
/// `Σₙ gₙ · im2col(xₙ)ᵀ`.
///
/// On a backend with `ConvolutionGradientKernels` (the CPU backend) each image's columns are
/// unfolded into a buffer that stays in cache and multiplied at once; elsewhere the op composes
/// `Im2col` (per image), a batched `matmul` and a sum — the same arithmetic with the columns of
/// the whole batch in memory. The gradient builder uses it for small convolutions on the CPU.
public struct Conv2dWeightGradient: CustomGraphOp {
    public let parameters: Conv2dParameters
    public let kernelHeight: Int
    public let kernelWidth: Int

    public init(_ parameters: Conv2dParameters, kernel: (h: Int, w: Int)) {
        self.parameters = parameters
        self.kernelHeight = kernel.h
        self.kernelWidth = kernel.w
    }

    public var label: String { "conv2dWeightGradient" }
    public var signature: String { "conv2dWeightGradient(kernel: \(kernelHeight)x\(kernelWidth), \(parameters.summary))" }
    /// Host loops and BLAS over CPU memory.
    public var deviceKinds: Set<DeviceKind>? { [.cpu] }

    /// One multiply-add per output gradient element and kernel tap of its window.
    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        let gradient = Double(inputs.count > 1 ? inputs[1].shape.elementCount : 0)
        let patch = Double(outputs.first.map { $0.shape.elementCount / Swift.max(1, $0.shape.dims.first ?? 1) } ?? 0)
        return KernelCost(
            flops: 2 * gradient * patch, bytesRead: inputs.reduce(0) { $0 + Double($1.byteCount) },
            bytesWritten: Double(outputs.first?.byteCount ?? 0), kernels: 1)
    }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.count == 2, inputs[0].rank == 4, inputs[1].rank == 4 else {
            throw TensorError(.shapeMismatch, "\(label): needs the input [N, C, H, W] and the output gradient [N, O, OH, OW], got \(inputs.map(\.shape))")
        }
        let (x, g) = (inputs[0], inputs[1])
        guard g.dtype.isFloatingPoint, x.dtype.isFloatingPoint else {
            throw TensorError(.dtypeMismatch, "\(label): needs floating-point tensors, got \(x.dtype) and \(g.dtype)")
        }
        guard parameters.groups == 1 else {
            throw TensorError(.invalidArgument, "\(label): handles one group, got \(parameters.groups); use Im2col and matmul for grouped convolutions")
        }
        let window = try ConvolutionWindow(
            parameters, kernelHeight: kernelHeight, kernelWidth: kernelWidth, height: x.shape[2], width: x.shape[3], op: label)
        let (n, c, o) = (x.shape[0], x.shape[1], g.shape[1])
        guard g.shape == [n, o, window.outputHeight, window.outputWidth] else {
            throw TensorError(
                .shapeMismatch,
                "\(label): the output gradient \(g.shape) does not match a \(kernelHeight)x\(kernelWidth) convolution of \(x.shape) (\(parameters.summary))")
        }
        let shape: Shape = [o, c, kernelHeight, kernelWidth]
        if x.isMeta || g.isMeta { return [Tensor.meta(shape, dtype: g.dtype)] }
        let input = x.dtype == g.dtype ? x : try x.cast(to: g.dtype)
        if let kernels = KernelBackends.current as? any ConvolutionGradientKernels,
            let dw = try kernels.conv2dWeightGradient(input, gradient: g, kernel: (kernelHeight, kernelWidth), parameters: parameters)
        {
            return [dw]
        }
        let columns = try Im2col(parameters, kernel: (kernelHeight, kernelWidth), layout: .perImage).evaluate([input])[0]
        let perImage = try g.reshaped([n, o, window.positions])
        return [try perImage.matmul(columns.transposed(1, 2)).sum(axes: [0]).reshaped(shape)]
    }
}

/// The input gradient of a one-group 2-D convolution: inputs the output gradient `g`
/// `[N, O, OH, OW]` and the weight `[O, C, KH, KW]` (in `g`'s dtype); output `[N, C, H, W]`,
/// equal to `col2im(Wᵀ · gₙ)` for every image.
///
/// On a backend with `ConvolutionGradientKernels` each image's columns are produced into a
/// buffer that stays in cache and folded at once; elsewhere the op composes a batched `matmul`
/// and `Col2im` (per image).
public struct Conv2dInputGradient: CustomGraphOp {
    public let parameters: Conv2dParameters
    /// The height of the convolution's input.
    public let height: Int
    /// The width of the convolution's input.
    public let width: Int

    public init(_ parameters: Conv2dParameters, height: Int, width: Int) {
        self.parameters = parameters
        self.height = height
        self.width = width
    }

    public var label: String { "conv2dInputGradient" }
    public var signature: String { "conv2dInputGradient(image: \(height)x\(width), \(parameters.summary))" }
    /// Host loops and BLAS over CPU memory.
    public var deviceKinds: Set<DeviceKind>? { [.cpu] }

    /// One multiply-add per output gradient element and weight element of its output channel.
    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        let gradient = Double(inputs.first?.shape.elementCount ?? 0)
        let perChannel = Double(inputs.count > 1 ? inputs[1].shape.elementCount / Swift.max(1, inputs[1].shape.dims.first ?? 1) : 0)
        return KernelCost(
            flops: 2 * gradient * perChannel, bytesRead: inputs.reduce(0) { $0 + Double($1.byteCount) },
            bytesWritten: Double(outputs.first?.byteCount ?? 0), kernels: 1)
    }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.count == 2, inputs[0].rank == 4, inputs[1].rank == 4 else {
            throw TensorError(.shapeMismatch, "\(label): needs the output gradient [N, O, OH, OW] and the weight [O, C, KH, KW], got \(inputs.map(\.shape))")
        }
        let (g, weight) = (inputs[0], inputs[1])
        guard g.dtype.isFloatingPoint, weight.dtype == g.dtype else {
            throw TensorError(.dtypeMismatch, "\(label): the gradient (\(g.dtype)) and the weight (\(weight.dtype)) must share one floating-point dtype")
        }
        guard parameters.groups == 1 else {
            throw TensorError(.invalidArgument, "\(label): handles one group, got \(parameters.groups); use matmul and Col2im for grouped convolutions")
        }
        let (n, o) = (g.shape[0], g.shape[1])
        let (c, kh, kw) = (weight.shape[1], weight.shape[2], weight.shape[3])
        let window = try ConvolutionWindow(parameters, kernelHeight: kh, kernelWidth: kw, height: height, width: width, op: label)
        guard weight.shape[0] == o, g.shape == [n, o, window.outputHeight, window.outputWidth] else {
            throw TensorError(
                .shapeMismatch,
                "\(label): the output gradient \(g.shape) does not match a convolution with weight \(weight.shape) of a \(height)x\(width) input (\(parameters.summary))")
        }
        let shape: Shape = [n, c, height, width]
        if g.isMeta || weight.isMeta { return [Tensor.meta(shape, dtype: g.dtype)] }
        if let kernels = KernelBackends.current as? any ConvolutionGradientKernels,
            let dx = try kernels.conv2dInputGradient(g, weight: weight, height: height, width: width, parameters: parameters)
        {
            return [dx]
        }
        let wt = try weight.reshaped([1, o, c * kh * kw]).transposed(1, 2).expanded(to: [n, c * kh * kw, o])
        let columns = try wt.matmul(g.reshaped([n, o, window.positions]))
        return try Col2im(parameters, kernel: (kh, kw), height: height, width: width, layout: .perImage).evaluate([columns])
    }
}

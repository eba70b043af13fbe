/// Convolution gradients computed image by image, which a backend may offer besides the
/// primitive set of `KernelBackend`.
///
/// Written with primitives, a convolution's gradients unfold every image's windows into one
/// column tensor (`[N, C·KH·KW, OH·OW]`, several MiB for a LeNet batch) and multiply it in a
/// second pass: both passes stream the columns through memory. A backend that conforms unfolds
/// one image at a time into a buffer that stays in cache and multiplies it at once. Callers
/// check for the capability (`KernelBackends.current as? any ConvolutionGradientKernels`) and
/// compose the primitives when it is missing or a method returns `nil`.
///
/// Results are deterministic: they do not depend on the number of threads.
public protocol ConvolutionGradientKernels {
    /// The gradient of `conv2d(x, weight, parameters:)` with respect to its weight.
    ///
    /// - Parameters:
    ///   - x: the convolution's input `[N, C, H, W]`.
    ///   - gradient: the gradient of its output `[N, O, OH, OW]`.
    ///   - kernel: the kernel's height and width.
    /// - Returns: `[O, C/groups, KH, KW]` in the gradient's dtype, or `nil` when this backend does
    ///   not handle these dtypes or parameters.
    func conv2dWeightGradient(_ x: Tensor, gradient: Tensor, kernel: (h: Int, w: Int), parameters: Conv2dParameters) throws -> Tensor?

    /// The gradient of `conv2d(x, weight, parameters:)` with respect to `x`.
    ///
    /// - Parameters:
    ///   - gradient: the gradient of the convolution's output `[N, O, OH, OW]`.
    ///   - weight: its weight `[O, C/groups, KH, KW]`, in the gradient's dtype.
    ///   - height: the height of `x` (a strided convolution does not determine it).
    ///   - width: the width of `x`.
    /// - Returns: `[N, C, height, width]`, or `nil` when this backend does not handle these
    ///   dtypes or parameters.
    func conv2dInputGradient(_ gradient: Tensor, weight: Tensor, height: Int, width: Int, parameters: Conv2dParameters) throws -> Tensor?
}

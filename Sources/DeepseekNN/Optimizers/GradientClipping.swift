public import DeepseekTensor

/// Scales gradients down so that their global L2 norm is at most `maxNorm` — PyTorch's
/// `torch.nn.utils.clip_grad_norm_` with `norm_type = 2`.
///
/// The norm is taken over all tensors together, `‖g‖ = √(Σ over tensors Σ gᵢ²)`, so clipping
/// keeps the direction of the whole update. When the norm exceeds the threshold every tensor is
/// multiplied by `maxNorm / (norm + 1e-6)`, the same factor PyTorch uses (the 1e-6 keeps the
/// clipped norm just under `maxNorm`); otherwise the gradients are returned as they are. As in
/// PyTorch, "exceeds" means the factor is below 1, so a norm within 1e-6 under `maxNorm` is
/// scaled by a factor just under 1 as well.
///
/// A non-finite norm (a NaN or infinite gradient, typically an overflow under mixed precision)
/// is reported and the gradients are returned unscaled. PyTorch would multiply them by a
/// NaN or zero factor, which destroys the information a caller needs; here the caller checks
/// `norm.isFinite` and skips the step (or lowers its loss scale).
///
/// ```swift
/// let (clipped, norm) = try clipGradients(gradients, maxNorm: 1.0)
/// if norm.isFinite { try optimizer.step(model.parameters, gradients: clipped) }
/// ```
///
/// - Parameters:
///   - gradients: floating-point gradients by parameter name.
///   - maxNorm: the largest norm allowed, `> 0`; `.infinity` only measures the norm.
/// - Returns: the (possibly scaled) gradients and the norm measured before scaling.
/// - Throws: `NNError.invalidArgument` for a `maxNorm` that is not `> 0`, `NNError.dtypeMismatch`
///   for an integer or bool gradient.
/// - Complexity: one reduction per tensor (read back as one scalar each), and one multiply per
///   tensor when clipping.
public func clipGradients(_ gradients: [String: Tensor], maxNorm: Double) throws -> (clipped: [String: Tensor], norm: Double) {
    guard maxNorm > 0 else {
        throw NNError(.invalidArgument, "clipGradients: maxNorm must be > 0, got \(maxNorm); pass .infinity to measure the norm without clipping")
    }
    // Sorted names make the summation order, and so the norm's last bit, reproducible.
    let names = gradients.keys.sorted()
    var sumOfSquares = 0.0
    for name in names {
        let g = gradients[name]!
        guard g.dtype.isFloatingPoint else {
            throw NNError(.dtypeMismatch, "clipGradients: the gradient of \"\(name)\" is \(g.dtype) \(g.shape); gradients must be floating point")
        }
        sumOfSquares += try squaredNorm(g)
    }
    let norm = sumOfSquares.squareRoot()
    guard norm.isFinite else { return (gradients, norm) }
    let scale = maxNorm / (norm + 1e-6)
    guard scale < 1 else { return (gradients, norm) }
    var clipped: [String: Tensor] = [:]
    for name in names { clipped[name] = try gradients[name]! * scale }
    return (clipped, norm)
}

/// `Σ xᵢ²` of a floating-point tensor, reduced on the current backend and read back as a Double.
///
/// Half-precision tensors are widened to `float32` first: their squares overflow above 256.
func squaredNorm(_ x: Tensor) throws -> Double {
    if x.elementCount == 0 { return 0 }
    let wide = x.dtype == .float16 || x.dtype == .bfloat16 ? try x.cast(to: .float32) : x
    return try wide.square().sum().item(as: Double.self)
}

/// The L2 norm `√(Σ xᵢ²)` of a floating-point tensor as a Double.
func l2Norm(_ x: Tensor) throws -> Double { try squaredNorm(x).squareRoot() }

public import DeepseekGraph
public import DeepseekTensor

/// The Kullback–Leibler divergence `KL(q ‖ p)` of target probabilities `q` from predicted
/// log-probabilities `log p`, summed over every element and divided by the batch size — PyTorch's
/// `kl_div(input, target, reduction="batchmean")` with the default `log_target=False`.
///
/// `Σ q·(log q − log p) / N`, where `N` is the size of the first axis. Elements with `q = 0`
/// contribute 0 (the limit of `q·log q`), as in PyTorch. Pass log-probabilities, usually from
/// `logSoftmax`, not probabilities — the usual distillation loss reads
///
/// ```swift
/// let loss = try klDivergence(logProbabilities: student.logSoftmax(axis: -1),
///                             targetProbabilities: teacher.softmax(axis: -1))
/// ```
///
/// Recorded as nodes `kl_clamp`, `kl_logTarget`, `kl_diff`, `kl_pointwise`, `kl_sum` and `kl`.
/// `log q` is taken of `max(q, smallest normal)`, so a zero target gives a finite gradient
/// rather than `0·∞`.
///
/// - Throws: `NNError.shapeMismatch` when the shapes differ or the input is a scalar (broadcasting
///   would silently change what is averaged), `NNError.dtypeMismatch` for non-float tensors.
public func klDivergence(logProbabilities: SymbolicTensor, targetProbabilities: SymbolicTensor) throws -> SymbolicTensor {
    try requireDivergenceOperands(logProbabilities.type, targetProbabilities.type)
    let q = targetProbabilities
    let tiny = try q.tracer.constant(Tensor(scalar: smallestNormal(q.dtype), dtype: q.dtype))
    let logQ = try q.recording(.binary(.maximum), [tiny], name: "kl_clamp").recording(.unary(.log), name: "kl_logTarget")
    let diff = try logQ.recording(.binary(.sub), [logProbabilities], name: "kl_diff")
    let pointwise = try q.recording(.binary(.mul), [diff], name: "kl_pointwise")
    let sum = try pointwise.recording(.reduce(.sum, axes: Array(0..<pointwise.rank), keepDims: false), name: "kl_sum")
    return try sum.scaled(by: 1 / Double(logProbabilities.shape[0]), name: "kl")
}

/// `KL(q ‖ p)` over concrete tensors, with the same formula and reduction (see the symbolic overload).
public func klDivergence(logProbabilities: Tensor, targetProbabilities: Tensor) throws -> Tensor {
    try requireDivergenceOperands(
        TensorType(logProbabilities.shape, logProbabilities.dtype), TensorType(targetProbabilities.shape, targetProbabilities.dtype))
    let q = targetProbabilities
    let logQ = try q.maximum(Tensor(scalar: smallestNormal(q.dtype), dtype: q.dtype)).log()
    let sum = try (q * (logQ - logProbabilities)).sum()
    return try sum / Double(logProbabilities.shape[0])
}

private func requireDivergenceOperands(_ input: TensorType, _ target: TensorType) throws {
    guard input.shape == target.shape else {
        throw NNError(
            .shapeMismatch,
            "klDivergence: log-probabilities \(input.shape) and target probabilities \(target.shape) differ in shape; give both the same shape")
    }
    guard input.shape.rank >= 1 else {
        throw NNError(.shapeMismatch, "klDivergence: needs a batch axis to average over, got scalars; reshape them to [1]")
    }
    guard input.dtype.isFloatingPoint, target.dtype.isFloatingPoint else {
        throw NNError(.dtypeMismatch, "klDivergence: needs floating-point tensors, got \(input.dtype) and \(target.dtype)")
    }
}

/// The smallest positive normal number of a float dtype: `log` of it is finite.
private func smallestNormal(_ dtype: DType) -> Double {
    switch dtype {
    case .float64: Double.leastNormalMagnitude
    case .float16: Double(Float16.leastNormalMagnitude)
    default: Double(Float.leastNormalMagnitude)  // float32 and bfloat16 share float32's exponent range
    }
}

public import DeepseekGraph
public import DeepseekTensor

/// Mean cross-entropy of `logits` `[N, C]` (or `[N, C, d…]`) against integer class `labels` `[N]`
/// (or `[N, d…]`), recorded as one node named `crossEntropy`.
///
/// The loss is computed from the logits with a stable log-softmax; do not apply softmax first.
///
/// ```swift
/// let loss = try crossEntropy(logits: model(x), labels: tracer.input("y", TensorType([64], .int64)))
/// ```
public func crossEntropy(logits: SymbolicTensor, labels: SymbolicTensor, labelSmoothing: Double = 0) throws -> SymbolicTensor {
    try logits.recording(.crossEntropy(labelSmoothing: labelSmoothing), [labels], name: "crossEntropy")
}

/// Mean cross-entropy of concrete logits against integer labels (see the symbolic overload).
public func crossEntropy(logits: Tensor, labels: Tensor, labelSmoothing: Double = 0) throws -> Tensor {
    try logits.crossEntropy(labels: labels, labelSmoothing: labelSmoothing)
}

/// The mean of `(predictions − targets)²` over every element, recorded as nodes `mse_diff`,
/// `mse_square` and `mse`.
///
/// - Throws: `NNError.shapeMismatch` when the shapes differ: broadcasting a `[N]` target against
///   `[N, 1]` predictions would silently average an `[N, N]` matrix, so it is refused.
public func meanSquaredError(_ predictions: SymbolicTensor, _ targets: SymbolicTensor) throws -> SymbolicTensor {
    try requireSameShape(predictions.shape, targets.shape)
    let diff = try predictions.recording(.binary(.sub), [targets], name: "mse_diff")
    let square = try diff.recording(.unary(.square), name: "mse_square")
    return try square.recording(.reduce(.mean, axes: Array(0..<square.rank), keepDims: false), name: "mse")
}

/// The mean of `(predictions − targets)²` over concrete tensors (see the symbolic overload).
public func meanSquaredError(_ predictions: Tensor, _ targets: Tensor) throws -> Tensor {
    try requireSameShape(predictions.shape, targets.shape)
    return try (predictions - targets).square().mean()
}

/// The fraction of rows whose largest logit is at the label: `mean(argmax(logits, 1) == labels)`.
///
/// - Parameters:
///   - logits: `[N, C]` scores.
///   - labels: `[N]` integer classes.
/// - Returns: a value in `[0, 1]`; `0` for an empty batch.
public func accuracy(logits: Tensor, labels: Tensor) throws -> Double {
    guard logits.rank == 2, labels.rank == 1, labels.shape[0] == logits.shape[0] else {
        throw NNError(.shapeMismatch, "accuracy: needs logits [N, C] and labels [N], got \(logits.shape) and \(labels.shape)")
    }
    guard labels.dtype.isInteger else {
        throw NNError(.dtypeMismatch, "accuracy: labels must be integer classes, got \(labels.dtype)")
    }
    let n = labels.shape[0]
    if n == 0 { return 0 }
    let predicted = try logits.argmax(axis: 1).scalars(as: Int64.self)
    let truth = try labels.scalars(as: Int64.self)
    let correct = zip(predicted, truth).reduce(0) { $0 + ($1.0 == $1.1 ? 1 : 0) }
    return Double(correct) / Double(n)
}

private func requireSameShape(_ a: Shape, _ b: Shape) throws {
    guard a == b else {
        throw NNError(
            .shapeMismatch, "meanSquaredError: predictions \(a) and targets \(b) differ in shape; reshape the targets to \(a)")
    }
}

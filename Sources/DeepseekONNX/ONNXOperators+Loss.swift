import DeepseekTensor

extension ONNXOperators {
    static func registerLosses(_ t: inout [String: ONNXOperator]) {
        t["NegativeLogLikelihoodLoss"] = { c in
            [try negativeLogLikelihood(c, logProbabilities: c.input(0), target: c.input(1), weight: c.optionalInput(2))]
        }
        t["SoftmaxCrossEntropyLoss"] = { c in
            let scores = try c.input(0)
            guard scores.rank >= 2 else { throw c.invalid("scores must be [N, C, …], got \(scores.shape)") }
            let logProbabilities = try scores.logSoftmax(axis: 1)
            let loss = try negativeLogLikelihood(c, logProbabilities: logProbabilities, target: c.input(1), weight: c.optionalInput(2))
            return [loss, logProbabilities]
        }
    }

    /// The loss `-input[n, target[n, d…], d…] · weight[target]`, with `ignore_index` targets
    /// contributing nothing, reduced by `reduction` (`none`, `sum`, or `mean` — the weighted mean).
    static func negativeLogLikelihood(_ c: NodeContext, logProbabilities x: Tensor, target: Tensor, weight: Tensor?) throws -> Tensor {
        guard x.rank >= 2 else { throw c.invalid("input must be [N, C, …], got \(x.shape)") }
        guard target.dtype.isInteger else { throw c.invalid("target must be an integer tensor, got \(target.dtype)") }
        var expected = x.shape.dims
        expected.remove(at: 1)
        guard target.shape.dims == expected else {
            throw c.invalid("target has shape \(target.shape) but input \(x.shape) needs \(Shape(expected))")
        }
        let reduction = try c.string("reduction", default: "mean")
        guard ["none", "sum", "mean"].contains(reduction) else { throw c.invalid("reduction '\(reduction)' is not none, sum or mean") }
        let classes = x.shape[1]
        // Select each target's class with a one-hot mask; a target outside 0..<C (the ignored
        // index, typically negative) selects nothing and gets weight 0.
        var classShape = [Int](repeating: 1, count: x.rank)
        classShape[1] = classes
        let classIndex = try indexTensor(Array(0..<classes), shape: Shape(classShape))
        let oneHot = try target.unsqueezed(axis: 1).equal(classIndex).cast(to: x.dtype)
        let picked = try (x * oneHot).sum(axes: [1])
        var elementWeight: Tensor
        if let weight {
            guard weight.shape == [classes] else { throw c.invalid("weight must be [\(classes)], got \(weight.shape)") }
            elementWeight = try (oneHot * weight.reshaped(Shape(classShape))).sum(axes: [1])
        } else {
            elementWeight = try oneHot.sum(axes: [1])
        }
        if let ignore = try c.optionalInt("ignore_index") {
            let kept = try target.notEqual(Tensor(scalar: Double(ignore), dtype: target.dtype)).cast(to: x.dtype)
            elementWeight = try elementWeight * kept
        }
        let loss = try (picked * elementWeight).neg()
        switch reduction {
        case "none": return loss
        case "sum": return try loss.sum()
        default: return try loss.sum() / elementWeight.sum()
        }
    }
}

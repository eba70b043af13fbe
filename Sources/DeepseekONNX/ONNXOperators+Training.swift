#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DeepseekTensor

extension ONNXOperators {
    /// The domain of ONNX's training operators (optimizer updates).
    static let trainingDomain = "ai.onnx.preview.training"

    /// Optimizer updates from `ai.onnx.preview.training`, composed from Deepseek tensor ops.
    ///
    /// Each takes a learning rate `R` and step count `T` (scalars, read on the host), then
    /// groups of tensors — parameters, gradients and optimizer state — and returns the updated
    /// parameters followed by the updated state.
    static let trainingTable: [String: ONNXOperator] = {
        var t: [String: ONNXOperator] = [:]
        t["Momentum"] = { c in
            let (r, step, groups) = try optimizerInputs(c, stateCount: 1)
            let alpha = Double(try c.float("alpha", default: 0))
            let beta = Double(try c.float("beta", default: 0))
            let norm = Double(try c.float("norm_coefficient", default: 0))
            let mode = try c.string("mode", default: "standard")
            guard mode == "standard" || mode == "nesterov" else { throw c.invalid("mode must be standard or nesterov") }
            // The first step takes the whole gradient; later ones scale it by beta.
            let betaAdjusted = step > 0 ? beta : 1
            var parameters: [Tensor?] = []
            var states: [Tensor?] = []
            for g in groups {
                let regularized = try g.parameter * norm + g.gradient
                let velocity = try g.state[0] * alpha + regularized * betaAdjusted
                let direction = mode == "standard" ? velocity : try regularized + velocity * alpha
                parameters.append(try g.parameter - direction * r)
                states.append(velocity)
            }
            return parameters + states
        }
        t["Adagrad"] = { c in
            let (r, step, groups) = try optimizerInputs(c, stateCount: 1)
            let decay = Double(try c.float("decay_factor", default: 0))
            let epsilon = Double(try c.float("epsilon", default: 1e-6))
            let norm = Double(try c.float("norm_coefficient", default: 0))
            let rate = r / (1 + Double(step) * decay)
            var parameters: [Tensor?] = []
            var states: [Tensor?] = []
            for g in groups {
                let regularized = try g.parameter * norm + g.gradient
                let accumulated = try g.state[0] + regularized.square()
                parameters.append(try g.parameter - regularized * rate / (accumulated.sqrt() + epsilon))
                states.append(accumulated)
            }
            return parameters + states
        }
        t["Adam"] = { c in
            let (r, step, groups) = try optimizerInputs(c, stateCount: 2)
            let alpha = Double(try c.float("alpha", default: 0.9))
            let beta = Double(try c.float("beta", default: 0.999))
            let epsilon = Double(try c.float("epsilon", default: 1e-6))
            let norm = Double(try c.float("norm_coefficient", default: 0))
            let normPost = Double(try c.float("norm_coefficient_post", default: 0))
            // Bias correction folds into the learning rate from the second step on.
            let rate = step > 0 ? r * (1 - pow(beta, Double(step))).squareRoot() / (1 - pow(alpha, Double(step))) : r
            var parameters: [Tensor?] = []
            var firstMoments: [Tensor?] = []
            var secondMoments: [Tensor?] = []
            for g in groups {
                let regularized = try g.parameter * norm + g.gradient
                let v = try g.state[0] * alpha + regularized * (1 - alpha)
                let h = try g.state[1] * beta + regularized.square() * (1 - beta)
                let updated = try g.parameter - (v / (h.sqrt() + epsilon)) * rate
                parameters.append(try updated * (1 - normPost))
                firstMoments.append(v)
                secondMoments.append(h)
            }
            return parameters + firstMoments + secondMoments
        }
        return t
    }()

    /// One parameter tensor with its gradient and optimizer state.
    struct OptimizerGroup {
        var parameter: Tensor
        var gradient: Tensor
        var state: [Tensor]
    }

    /// Splits `R, T, X…, G…, S1…, S2…` into the rate, the step and per-parameter groups.
    static func optimizerInputs(_ c: NodeContext, stateCount: Int) throws -> (Double, Int64, [OptimizerGroup]) {
        guard let r = try c.scalarValue(0), let step = try c.intValues(1)?.first else {
            throw c.invalid("inputs R and T are required scalars")
        }
        let tensors = try (2..<c.inputs.count).map { try c.input($0) }
        let perGroup = 2 + stateCount
        guard !tensors.isEmpty, tensors.count % perGroup == 0 else {
            throw c.invalid("expects R, T and \(perGroup) tensors per parameter, got \(c.inputs.count) inputs")
        }
        let n = tensors.count / perGroup
        let groups = (0..<n).map { i in
            OptimizerGroup(
                parameter: tensors[i], gradient: tensors[n + i], state: (0..<stateCount).map { tensors[(2 + $0) * n + i] })
        }
        return (r, Int64(step), groups)
    }
}

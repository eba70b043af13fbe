#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DeepseekTensor

/// The per-parameter state shared by Adam, AdamW and LAMB: the moving average of the gradient
/// (`m`), of its square (`v`), and how many updates each parameter has had.
///
/// Update counts are kept per parameter, as PyTorch does: a layer that first receives a gradient
/// at step 100 (unfrozen late) starts its bias correction at 1, where a single global count would
/// divide its fresh moments by `1 − β₁¹⁰¹ ≈ 1` and take a tiny first step.
///
/// Checkpoint layout (`OptimizerState`): tensors `m.<name>` and `v.<name>`; scalars
/// `step.<name>` (the parameter's update count) and `learningRate`; `step` counts `step` calls.
struct AdaptiveMoments: Sendable {
    var first: [String: Tensor] = [:]
    var second: [String: Tensor] = [:]
    var counts: [String: Int] = [:]
    /// Calls to `step` so far.
    var steps = 0

    /// Checks every stored moment against its parameter before anything is updated, so a bad
    /// restored state fails the step without leaving some parameters updated and others not.
    mutating func prepare(_ pairs: [(parameter: Parameter, gradient: Tensor)], optimizer: String) throws {
        for (p, g) in pairs {
            for (label, table) in [("m", first), ("v", second)] {
                guard let moment = table[p.name] else { continue }
                guard moment.shape == g.shape else {
                    throw NNError(
                        .shapeMismatch,
                        "\(optimizer): the state tensor \(label).\(p.name) has shape \(moment.shape) but the parameter has shape \(g.shape); restore a state saved for this model")
                }
                if moment.dtype != g.dtype {
                    // A state saved in another precision continues in the parameter's dtype.
                    let cast = try moment.cast(to: g.dtype)
                    if label == "m" { first[p.name] = cast } else { second[p.name] = cast }
                }
            }
        }
    }

    /// Folds `g` into the moments of `name` and returns them with the parameter's update count
    /// (1 on its first update).
    ///
    /// Missing moments are zeros, so the first update is `m = (1 − β₁)·g`, `v = (1 − β₂)·g²`.
    mutating func update(_ name: String, gradient g: Tensor, beta1: Double, beta2: Double) throws -> (m: Tensor, v: Tensor, t: Int) {
        let gm = try g * (1 - beta1)
        let gv = try g.square() * (1 - beta2)
        let m = try first[name].map { try $0 * beta1 + gm } ?? gm
        let v = try second[name].map { try $0 * beta2 + gv } ?? gv
        let t = (counts[name] ?? 0) + 1
        first[name] = m
        second[name] = v
        counts[name] = t
        return (m, v, t)
    }

    /// `m̂ / (√v̂ + ε)` as `(m / (√v / √(1 − β₂ᵗ) + ε)) / divisor` with `divisor = 1 − β₁ᵗ`,
    /// PyTorch's order of operations (the divisor goes into the step size, a scalar); without
    /// bias correction `m / (√v + ε)` with divisor 1.
    static func direction(
        m: Tensor, v: Tensor, t: Int, beta1: Double, beta2: Double, epsilon: Double, biasCorrection: Bool
    ) throws -> (direction: Tensor, divisor: Double) {
        guard biasCorrection else { return (try m / (v.sqrt() + epsilon), 1) }
        let correction1 = 1 - pow(beta1, Double(t))
        let correction2 = 1 - pow(beta2, Double(t))
        let denominator = try v.sqrt() / correction2.squareRoot() + epsilon
        return (try m / denominator, correction1)
    }

    func state(kind: String, learningRate: Double) -> OptimizerState {
        var scalars: [String: Double] = ["learningRate": learningRate]
        var tensors: [String: Tensor] = [:]
        for (name, m) in first {
            tensors["m.\(name)"] = m
            tensors["v.\(name)"] = second[name]
            scalars["step.\(name)"] = Double(counts[name] ?? 0)
        }
        return OptimizerState(kind: kind, step: steps, scalars: scalars, tensors: tensors)
    }

    /// Reads a state written by `state(kind:learningRate:)`; returns its learning rate, if any.
    ///
    /// A moment without a `step.<name>` scalar (a state built by hand, e.g. from another
    /// framework's checkpoint) takes the state's global `step` as its update count.
    static func restoring(_ state: OptimizerState, kind: String) throws -> (moments: AdaptiveMoments, learningRate: Double?) {
        try state.check(kind: kind)
        guard state.step >= 0 else {
            throw NNError(.invalidArgument, "\(kind): the state's step count is \(state.step); it must be ≥ 0")
        }
        var restored = AdaptiveMoments()
        restored.steps = state.step
        for (key, value) in state.tensors {
            if key.hasPrefix("m.") {
                restored.first[String(key.dropFirst(2))] = value
            } else if key.hasPrefix("v.") {
                restored.second[String(key.dropFirst(2))] = value
            } else {
                throw NNError(.invalidArgument, "\(kind): the state holds a tensor \"\(key)\"; only m.<parameter> and v.<parameter> belong to this optimizer")
            }
        }
        for name in Set(restored.first.keys).symmetricDifference(restored.second.keys).sorted() {
            let missing = restored.first[name] == nil ? "m" : "v"
            throw NNError(.invalidArgument, "\(kind): the state has no \(missing).\(name) to go with the other moment of \"\(name)\"; both are needed")
        }
        for name in restored.first.keys {
            guard restored.first[name]!.shape == restored.second[name]!.shape else {
                throw NNError(.shapeMismatch, "\(kind): m.\(name) has shape \(restored.first[name]!.shape) but v.\(name) has \(restored.second[name]!.shape)")
            }
            let count = state.scalars["step.\(name)"] ?? Double(state.step)
            guard count >= 0, count.rounded() == count, count < 9.0e15 else {
                throw NNError(.invalidArgument, "\(kind): step.\(name) is \(count); an update count must be a whole number ≥ 0")
            }
            restored.counts[name] = Int(count)
        }
        return (restored, state.scalars["learningRate"])
    }
}

/// Throws unless every setting is finite and in range; shared by the Adam family's initialisers.
func checkAdamSettings(_ optimizer: String, learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double) throws {
    for (name, value) in [("learningRate", learningRate), ("epsilon", epsilon), ("weightDecay", weightDecay)]
    where !(value >= 0 && value.isFinite) {
        throw NNError(.invalidArgument, "\(optimizer): \(name) must be finite and ≥ 0, got \(value)")
    }
    for (name, value) in [("beta1", beta1), ("beta2", beta2)] where !(value >= 0 && value < 1) {
        throw NNError(.invalidArgument, "\(optimizer): \(name) must be in [0, 1), got \(value)")
    }
}

/// Throws unless the (schedulable) learning rate is finite and ≥ 0 at the time of a step.
func checkLearningRate(_ optimizer: String, _ learningRate: Double) throws {
    guard learningRate >= 0 && learningRate.isFinite else {
        throw NNError(.invalidArgument, "\(optimizer): the learning rate is \(learningRate) at this step; a schedule or caller set it out of range (it must be finite and ≥ 0)")
    }
}

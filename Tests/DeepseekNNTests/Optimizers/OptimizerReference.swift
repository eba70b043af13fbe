import DeepseekNN
import DeepseekTensor
import Foundation

/// The update rules written out in Double, element by element, in their textbook form — the
/// oracle the optimizers are checked against.
enum OptimizerReference {
    /// Settings shared by the Adam family.
    struct Settings {
        var learningRate = 0.01
        var beta1 = 0.9
        var beta2 = 0.99
        // Large enough that misplacing ε (on √v rather than √v̂) shows at 1e-6.
        var epsilon = 1e-2
        var weightDecay = 0.1
    }

    enum Rule { case adam, adamW, lamb }

    /// One parameter tensor's value and moments.
    struct ParameterState {
        var p: [Double]
        var m: [Double]
        var v: [Double]
    }

    /// Runs `rule` over the steps in `gradients` (one `[name: values]` per step) from `start`.
    static func run(
        _ rule: Rule, _ s: Settings, start: [String: [Double]], gradients: [[String: [Double]]]
    ) -> [String: ParameterState] {
        var states = start.mapValues { ParameterState(p: $0, m: [Double](repeating: 0, count: $0.count), v: [Double](repeating: 0, count: $0.count)) }
        var counts: [String: Int] = [:]
        for stepGradients in gradients {
            for (name, g0) in stepGradients {
                var x = states[name]!
                let t = (counts[name] ?? 0) + 1
                counts[name] = t
                let g = rule == .adam ? zip(g0, x.p).map { $0 + s.weightDecay * $1 } : g0
                if rule == .adamW { x.p = x.p.map { $0 * (1 - s.learningRate * s.weightDecay) } }
                x.m = zip(x.m, g).map { s.beta1 * $0 + (1 - s.beta1) * $1 }
                x.v = zip(x.v, g).map { s.beta2 * $0 + (1 - s.beta2) * $1 * $1 }
                let mHat = x.m.map { $0 / (1 - pow(s.beta1, Double(t))) }
                let vHat = x.v.map { $0 / (1 - pow(s.beta2, Double(t))) }
                var r = zip(mHat, vHat).map { $0 / ($1.squareRoot() + s.epsilon) }
                var ratio = 1.0
                if rule == .lamb {
                    r = zip(r, x.p).map { $0 + s.weightDecay * $1 }
                    let wNorm = x.p.map { $0 * $0 }.reduce(0, +).squareRoot()
                    let rNorm = r.map { $0 * $0 }.reduce(0, +).squareRoot()
                    ratio = wNorm > 0 && rNorm > 0 ? wNorm / rNorm : 1
                }
                x.p = zip(x.p, r).map { $0 - s.learningRate * ratio * $1 }
                states[name] = x
            }
        }
        return states
    }

    /// A weight `[2, 3]` and a zero bias `[3]` (exercising LAMB's ratio of 1 on a zero tensor).
    static let start: [String: [Double]] = [
        "fc.weight": [0.5, -0.75, 1.25, -0.4, 0.9, -1.1],
        "fc.bias": [0, 0, 0],
    ]
    static let shapes: [String: Shape] = ["fc.weight": [2, 3], "fc.bias": [3]]

    /// Three steps of gradients; the bias gradients keep their sign so the bias moves away from 0.
    static let gradients: [[String: [Double]]] = [
        ["fc.weight": [0.3, -0.2, 0.8, 0.05, -0.6, 0.4], "fc.bias": [0.2, -0.1, 0.5]],
        ["fc.weight": [-0.1, 0.4, 0.7, -0.3, -0.2, 0.9], "fc.bias": [0.4, -0.3, 0.1]],
        ["fc.weight": [0.25, 0.1, -0.5, 0.6, 0.3, -0.2], "fc.bias": [0.1, -0.6, 0.3]],
    ]

    /// Parameters holding `start` in `dtype`.
    static func parameters(_ dtype: DType) throws -> [Parameter] {
        try ["fc.weight", "fc.bias"].map { Parameter($0, try tensor(start[$0]!, shapes[$0]!, dtype)) }
    }

    /// The gradients of step `i` in `dtype`.
    static func gradients(_ i: Int, _ dtype: DType) throws -> [String: Tensor] {
        try gradients[i].reduce(into: [:]) { out, entry in out[entry.key] = try tensor(entry.value, shapes[entry.key]!, dtype) }
    }

    /// The values rounded to `dtype`, so the Double reference starts from exactly what the
    /// tensors hold.
    static func rounded(_ values: [String: [Double]], _ dtype: DType) -> [String: [Double]] {
        dtype == .float32 ? values.mapValues { $0.map { Double(Float($0)) } } : values
    }

    static func tensor(_ values: [Double], _ shape: Shape, _ dtype: DType) throws -> Tensor {
        try Tensor(values, shape: shape).cast(to: dtype)
    }
}

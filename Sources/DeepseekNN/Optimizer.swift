public import DeepseekTensor

/// Updates parameters from their gradients, one step at a time.
///
/// An optimizer is a value holding its hyper-parameters and per-parameter state (momentum
/// buffers, Adam's moments) keyed by parameter name, so saving it in a checkpoint is a copy.
/// Gradients arrive by parameter name — what reverse-mode autodiff of a traced graph produces —
/// and the update writes `Parameter.value`, which the next traced run reads.
///
/// A new optimizer implements `step` and usually starts with `matchGradients`, which checks names
/// and shapes the same way for every optimizer.
///
/// ```swift
/// var optimizer = try SGD(learningRate: 0.1, momentum: 0.9)
/// try optimizer.step(model.parameters, gradients: gradients)   // [String: Tensor]
/// ```
public protocol Optimizer: Sendable {
    /// The step size; schedules change it between steps.
    var learningRate: Double { get set }
    /// Applies one update to every trainable parameter that has a gradient.
    ///
    /// Parameters without a gradient (frozen, or unused by this step's graph) are left unchanged;
    /// buffers (`isTrainable == false`) are never updated.
    /// - Throws: `NNError` when a gradient names no trainable parameter or has the wrong shape.
    mutating func step(_ parameters: [Parameter], gradients: [String: Tensor]) throws
    /// Everything the optimizer carries from step to step, for checkpoints.
    var state: OptimizerState { get }
    /// Continues from a checkpointed state; throws when it belongs to another optimizer kind.
    mutating func restore(_ state: OptimizerState) throws
}

/// An optimizer's state between steps: its kind, step count, scalar settings that change during
/// training and per-parameter tensors (`momentum.<parameter>`, `m.<parameter>`, …).
public struct OptimizerState: Sendable {
    /// `sgd`, `adam`, `adamw`, `lamb`, …: a checkpoint of one kind cannot restore another.
    public var kind: String
    public var step: Int
    public var scalars: [String: Double]
    public var tensors: [String: Tensor]

    public init(kind: String, step: Int = 0, scalars: [String: Double] = [:], tensors: [String: Tensor] = [:]) {
        self.kind = kind
        self.step = step
        self.scalars = scalars
        self.tensors = tensors
    }

    /// Throws unless the state is of `kind`.
    public func check(kind expected: String) throws {
        guard kind == expected else {
            throw NNError(.invalidArgument, "optimizer state is for \"\(kind)\" but the optimizer is \"\(expected)\"; resume with the optimizer the checkpoint was made with")
        }
    }
}

extension Optimizer {
    /// Pairs each trainable parameter with its gradient (cast to the parameter's dtype).
    ///
    /// - Throws: `NNError.unknownParameter` for a gradient whose name is not a trainable
    ///   parameter (a typo would otherwise silently skip an update), `NNError.shapeMismatch` for a
    ///   gradient whose shape differs from its parameter's.
    public func matchGradients(_ parameters: [Parameter], _ gradients: [String: Tensor]) throws -> [(parameter: Parameter, gradient: Tensor)] {
        var byName: [String: Parameter] = [:]
        for p in parameters { byName[p.name] = p }
        for name in gradients.keys.sorted() {
            guard let p = byName[name] else {
                throw NNError(
                    .unknownParameter,
                    "optimizer: a gradient is given for \"\(name)\", which is not among the \(parameters.count) parameters passed to step; pass the model's parameters or fix the name")
            }
            guard p.isTrainable else {
                throw NNError(
                    .unknownParameter, "optimizer: a gradient is given for \"\(name)\", which is a buffer (not trainable); leave it out of the gradients")
            }
        }
        var pairs: [(parameter: Parameter, gradient: Tensor)] = []
        for p in parameters where p.isTrainable {
            guard let g = gradients[p.name] else { continue }
            let value = p.value
            guard g.shape == value.shape else {
                throw NNError(.shapeMismatch, "optimizer: the gradient of \"\(p.name)\" has shape \(g.shape) but the parameter is \(value.dtype)\(value.shape)")
            }
            pairs.append((p, g.dtype == value.dtype ? g : try g.cast(to: value.dtype)))
        }
        return pairs
    }
}

/// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay —
/// PyTorch's `torch.optim.SGD` without dampening.
///
/// Per parameter `p` with gradient `g`:
/// ```
/// d = g + weightDecay·p
/// buf = d on the first step, momentum·buf + d after       (when momentum ≠ 0)
/// d = nesterov ? d + momentum·buf : buf                   (when momentum ≠ 0)
/// p = p − learningRate·d
/// ```
/// With neither momentum nor weight decay, the update is exactly `p − learningRate·g`.
public struct SGD: Optimizer {
    public var learningRate: Double
    public var momentum: Double
    public var weightDecay: Double
    public var nesterov: Bool
    /// The momentum buffer of each parameter that has taken a step, by name.
    public var momentumBuffers: [String: Tensor] = [:]

    /// - Throws: `NNError.invalidArgument` for a negative rate, momentum or decay, or Nesterov without momentum.
    public init(learningRate: Double, momentum: Double = 0, weightDecay: Double = 0, nesterov: Bool = false) throws {
        for (name, value) in [("learningRate", learningRate), ("momentum", momentum), ("weightDecay", weightDecay)]
        where !(value >= 0 && value.isFinite) {
            throw NNError(.invalidArgument, "SGD: \(name) must be finite and ≥ 0, got \(value)")
        }
        guard !nesterov || momentum > 0 else {
            throw NNError(.invalidArgument, "SGD: Nesterov momentum needs momentum > 0")
        }
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public mutating func step(_ parameters: [Parameter], gradients: [String: Tensor]) throws {
        for (p, g) in try matchGradients(parameters, gradients) {
            let value = p.value
            var d = weightDecay == 0 ? g : try g + value * weightDecay
            if momentum != 0 {
                let buffer = try momentumBuffers[p.name].map { try $0 * momentum + d } ?? d
                momentumBuffers[p.name] = buffer
                d = nesterov ? try d + buffer * momentum : buffer
            }
            p.value = try value - d * learningRate
        }
        steps += 1
    }

    /// Steps taken so far.
    public private(set) var steps = 0

    public var state: OptimizerState {
        OptimizerState(
            kind: "sgd", step: steps, scalars: ["learningRate": learningRate],
            tensors: Dictionary(uniqueKeysWithValues: momentumBuffers.map { ("momentum.\($0.key)", $0.value) }))
    }

    public mutating func restore(_ state: OptimizerState) throws {
        try state.check(kind: "sgd")
        steps = state.step
        if let lr = state.scalars["learningRate"] { learningRate = lr }
        momentumBuffers = [:]
        for (key, value) in state.tensors where key.hasPrefix("momentum.") {
            momentumBuffers[String(key.dropFirst("momentum.".count))] = value
        }
    }
}

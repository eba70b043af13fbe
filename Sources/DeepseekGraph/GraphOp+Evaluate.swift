public import DeepseekTensor

extension GraphOp {
    /// The number of inputs the op accepts.
    public var arity: ClosedRange<Int> {
        switch self {
        case .input, .parameter, .constant: 0...0
        case .unary, .cast, .reduce, .argReduce, .softmax, .logSoftmax, .pool2d, .reshape, .permute, .slice, .expand: 1...1
        case .binary, .matmul, .gather, .crossEntropy: 2...2
        case .select: 3...3
        case .layerNorm: 1...3
        case .batchNorm: 5...5
        case .batchNormTraining: 3...3
        case .conv2d: 2...3
        case .concat: 1...Int.max
        case .custom: 0...Int.max
        }
    }

    /// Runs the op on `KernelBackends.current` through the `Tensor` front-end.
    ///
    /// Sources cannot be evaluated: the executor supplies their values. On `MetaBackend` with meta
    /// inputs this is shape and dtype inference.
    public func evaluate(_ x: [Tensor]) throws -> [Tensor] {
        switch self {
        case .input(let name), .parameter(let name):
            throw GraphError(.feed, "\(label) \"\(name)\" has no value; feed it when running the graph")
        case .constant(let t): return [t]
        case .unary(let op): return [try x[0].unary(op)]
        case .binary(let op): return [try x[0].binary(op, x[1])]
        case .select: return [try x[0].where(x[1], x[2])]
        case .cast(let dtype): return [try x[0].cast(to: dtype)]
        case .reduce(let op, let axes, let keep): return [try x[0].reduce(op, axes: axes, keepDims: keep)]
        case .argReduce(let op, let axis, let keep):
            return [op == .argmax ? try x[0].argmax(axis: axis, keepDims: keep) : try x[0].argmin(axis: axis, keepDims: keep)]
        case .matmul: return [try x[0].matmul(x[1])]
        case .softmax(let axis): return [try x[0].softmax(axis: axis)]
        case .logSoftmax(let axis): return [try x[0].logSoftmax(axis: axis)]
        case .layerNorm(let axis, let eps):
            let r = try x[0].layerNorm(weight: x.count > 1 ? x[1] : nil, bias: x.count > 2 ? x[2] : nil, axis: axis, epsilon: eps)
            return [r.output, r.mean, r.inverseStdDev]
        case .batchNorm(let eps):
            return [try x[0].batchNorm(scale: x[1], bias: x[2], mean: x[3], variance: x[4], epsilon: eps)]
        case .batchNormTraining(let eps):
            let r = try x[0].batchNormTraining(scale: x[1], bias: x[2], epsilon: eps)
            return [r.output, r.mean, r.variance]
        case .conv2d(let p): return [try x[0].conv2d(x[1], bias: x.count > 2 ? x[2] : nil, parameters: p)]
        case .pool2d(let kind, let p): return [kind == .max ? try x[0].maxPool2d(p) : try x[0].avgPool2d(p)]
        case .gather(let axis): return [try x[0].gather(indices: x[1], axis: axis)]
        case .concat(let axis): return [try Tensor.concat(x, axis: axis)]
        case .reshape(let shape): return [try x[0].reshaped(shape)]
        case .permute(let axes): return [try x[0].permuted(axes)]
        case .slice(let axis, let start, let end, let step): return [try x[0].sliced(axis: axis, start: start, end: end, step: step)]
        case .expand(let shape): return [try x[0].expanded(to: shape)]
        case .crossEntropy(let s): return [try x[0].crossEntropy(labels: x[1], labelSmoothing: s)]
        case .custom(let op):
            let outputs = try op.evaluate(x)
            guard outputs.count == op.outputCount else {
                throw GraphError(.execution, "\(op.label) returned \(outputs.count) outputs but declares \(op.outputCount)")
            }
            return outputs
        }
    }

    /// Infers output types by evaluating on meta tensors with `MetaBackend`.
    public func inferTypes(_ inputs: [TensorType]) throws -> [TensorType] {
        if case .constant(let t) = self { return [TensorType(t.shape, t.dtype)] }
        let metas = inputs.map { Tensor.meta($0.shape, dtype: $0.dtype) }
        let outputs = try KernelBackends.using(MetaBackend()) { try evaluate(metas) }
        return outputs.map { TensorType($0.shape, $0.dtype) }
    }
}

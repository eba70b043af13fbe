import DeepseekTensor

extension GradientBuilder {
    /// Builds the vector-Jacobian product of one forward node.
    ///
    /// - Parameters:
    ///   - upstream: the gradient of each output, `nil` where the loss does not depend on it.
    ///   - needs: for each input, whether its gradient is wanted.
    /// - Returns: for each input, a gradient contribution (any shape that broadcasts to or sums
    ///   down to the input's, any float dtype — `conform` fits it), or `nil` for none (zero).
    mutating func vectorJacobian(_ node: Graph.Node, upstream: [ValueID?], needs: [Bool]) throws -> [ValueID?] {
        let x = node.inputs
        let y = node.outputs
        func single() throws -> ValueID {
            guard let g = upstream[0] else { throw GraphError(.notDifferentiable, "gradients: no upstream gradient for \(y[0])") }
            return g
        }
        switch node.op {
        case .input, .parameter, .constant, .argReduce:
            return x.map { _ in nil }
        case .unary(let op):
            return [try unaryGradient(op, x: x[0], y: y[0], g: single())]
        case .binary(let op):
            return try binaryGradient(op, a: x[0], b: x[1], y: y[0], g: single(), needs: needs)
        case .select:
            let g = try single()
            return [
                nil,
                needs[1] ? try mask(g, where: x[0]) : nil,
                needs[2] ? try select(x[0], scalar(0, dtype(g)), g) : nil,
            ]
        case .cast:
            return [try single()]
        case .reduce(let op, let axes, let keepDims):
            return [try reduceGradient(op, axes: axes, keepDims: keepDims, x: x[0], y: y[0], g: single())]
        case .matmul:
            return try matmulGradient(a: x[0], b: x[1], g: single(), needs: needs)
        case .softmax(let axis):
            return [try softmaxGradient(axis: axis, y: y[0], g: single())]
        case .logSoftmax(let axis):
            return [try logSoftmaxGradient(axis: axis, y: y[0], g: single())]
        case .crossEntropy(let smoothing):
            return [try crossEntropyGradient(smoothing: smoothing, logits: x[0], labels: x[1], g: single()), nil]
        case .layerNorm(let axis, let epsilon):
            return try layerNormGradient(axis: axis, epsilon: epsilon, node: node, upstream: upstream, needs: needs)
        case .batchNorm(let epsilon):
            return try batchNormGradient(epsilon: epsilon, inputs: x, g: single(), needs: needs)
        case .batchNormTraining(let epsilon):
            return try batchNormTrainingGradient(epsilon: epsilon, node: node, upstream: upstream, needs: needs)
        case .conv2d(let p):
            return try conv2dGradient(p, inputs: x, g: single(), needs: needs)
        case .pool2d(let kind, let p):
            return [try pool2dGradient(kind, p, x: x[0], g: single())]
        case .gather(let axis):
            return [try gatherGradient(axis: axis, x: x[0], indices: x[1], g: single()), nil]
        case .concat(let axis):
            return try concatGradient(axis: axis, inputs: x, g: single(), needs: needs)
        case .reshape:
            return [try reshape(single(), shape(x[0]))]
        case .permute(let axes):
            return [try permuteGradient(axes: axes, g: single())]
        case .slice(let axis, let start, let end, let step):
            return [try sliceGradient(axis: axis, start: start, end: end, step: step, x: x[0], g: single())]
        case .expand:
            return [try unbroadcast(single(), to: shape(x[0]))]
        case .custom(let op):
            throw GraphError(
                .notDifferentiable,
                "gradients: \(forward.describe(node.id)) is a custom op (\(op.signature)) without a gradient rule, and the loss depends on a target through it; differentiate the graph before passes replace ops with custom kernels, or stop the gradient with a cast to an integer type")
        }
    }

    // MARK: - Element-wise

    mutating func unaryGradient(_ op: UnaryOp, x: ValueID, y: ValueID, g: ValueID) throws -> ValueID? {
        let dt = dtype(x)
        switch op {
        case .neg: return try neg(g)
        case .abs: return try mul(g, unary(.sign, x))
        case .exp: return try mul(g, y)
        case .log: return try div(g, x)
        case .sqrt: return try div(scale(g, by: 0.5), y)
        case .rsqrt:  // d/dx x^(-1/2) = -1/2 · y / x
            return try mul(scale(g, by: -0.5), div(y, x))
        case .reciprocal: return try neg(mul(g, unary(.square, y)))
        case .square: return try mul(g, scale(x, by: 2))
        case .tanh: return try mul(g, subtract(unary(.square, y), from: 1))
        case .sigmoid: return try mul(g, mul(y, subtract(y, from: 1)))
        case .relu:  // y > 0 exactly where x > 0 (NaN in both: not), and reading y lets x be fused away
            return try mask(g, where: binary(.greater, y, scalar(0, dt)))
        case .silu:  // σ(x) · (1 + x · (1 − σ(x)))
            let s = try unary(.sigmoid, x)
            return try mul(g, mul(s, shift(mul(x, subtract(s, from: 1)), by: 1)))
        case .softplus: return try mul(g, unary(.sigmoid, x))
        case .erf:  // 2/√π · exp(−x²)
            return try mul(g, scale(unary(.exp, neg(unary(.square, x))), by: 2 / Double.pi.squareRoot()))
        case .geluExact:  // Φ(x) + x·φ(x)
            let cdf = try scale(shift(unary(.erf, scale(x, by: 1 / 2.0.squareRoot())), by: 1), by: 0.5)
            let pdf = try scale(unary(.exp, scale(unary(.square, x), by: -0.5)), by: 1 / (2 * Double.pi).squareRoot())
            return try mul(g, add(cdf, mul(x, pdf)))
        case .geluTanh:  // ½(1 + t) + ½x(1 − t²)·c(1 + 3k x²), t = tanh(c(x + k x³))
            let c = (2 / Double.pi).squareRoot()
            let k = 0.044715
            let x2 = try unary(.square, x)
            let inner = try scale(mul(x, shift(scale(x2, by: k), by: 1)), by: c)
            let t = try unary(.tanh, inner)
            let left = try scale(shift(t, by: 1), by: 0.5)
            let slope = try scale(shift(scale(x2, by: 3 * k), by: 1), by: 0.5 * c)
            let right = try mul(mul(x, subtract(unary(.square, t), from: 1)), slope)
            return try mul(g, add(left, right))
        case .leakyRelu(let alpha):
            return try select(binary(.greaterEqual, x, scalar(0, dt)), g, scale(g, by: Double(alpha)))
        case .elu(let alpha):  // for x < 0: α·eˣ = y + α
            return try select(binary(.greaterEqual, x, scalar(0, dt)), g, mul(g, shift(y, by: Double(alpha))))
        case .sin: return try mul(g, unary(.cos, x))
        case .cos: return try neg(mul(g, unary(.sin, x)))
        case .floor, .ceil, .round, .sign:
            return nil  // piecewise constant: the derivative is zero wherever it exists
        case .logicalNot:
            return nil  // bool → bool; never carries a gradient
        }
    }

    mutating func binaryGradient(_ op: BinaryOp, a: ValueID, b: ValueID, y: ValueID, g: ValueID, needs: [Bool]) throws -> [ValueID?] {
        switch op {
        case .add:
            return [g, g]
        case .sub:
            return [g, needs[1] ? try neg(g) : nil]
        case .mul:
            return [needs[0] ? try mul(g, b) : nil, needs[1] ? try mul(g, a) : nil]
        case .div:
            return [needs[0] ? try div(g, b) : nil, needs[1] ? try neg(div(mul(g, y), b)) : nil]
        case .pow:
            var ga: ValueID?
            var gb: ValueID?
            if needs[0] {  // b · a^(b−1)
                let one = try scalar(1, dtype(y))
                ga = try mul(g, mul(b, binary(.pow, a, sub(b, one))))
            }
            if needs[1] {  // y · ln a, taken as 0 where a = 0 (there y is 0 or ∞ and ln a is −∞)
                let zero = try scalar(0, dtype(y))
                let raw = try mul(g, mul(y, unary(.log, cast(a, to: dtype(y)))))
                gb = try select(binary(.equal, a, zero), zero, raw)
            }
            return [ga, gb]
        case .maximum, .minimum:
            // The operand that wins takes the gradient; at a tie each takes half.
            let wins = try cast(binary(op == .maximum ? .greater : .less, a, b), to: dtype(y))
            let ties = try cast(binary(.equal, a, b), to: dtype(y))
            let share = try add(wins, scale(ties, by: 0.5))
            let ga = try mul(g, share)
            return [needs[0] ? ga : nil, needs[1] ? try sub(g, ga) : nil]
        case .mod:  // a − b·floor(a/b)
            return [g, needs[1] ? try neg(mul(g, unary(.floor, div(a, b)))) : nil]
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .logicalAnd, .logicalOr, .logicalXor:
            return [nil, nil]  // bool results carry no gradient
        }
    }
}

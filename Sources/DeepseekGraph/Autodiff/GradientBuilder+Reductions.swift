import DeepseekTensor

extension GradientBuilder {
    /// Gradients of `sum`, `mean`, `max`, `min` and `prod` over `axes`.
    mutating func reduceGradient(_ op: ReduceOp, axes: [Int], keepDims: Bool, x: ValueID, y: ValueID, g: ValueID) throws -> ValueID? {
        let xs = shape(x)
        if xs.rank == 0 { return g }  // reducing a scalar returns it unchanged
        let reduced = try xs.normalizedAxes(axes, op: op.rawValue)
        // The reduced axes kept as size 1, so results broadcast back over the input.
        let kept = Shape(xs.indices.map { reduced.contains($0) ? 1 : xs[$0] })
        let gk = try reshape(g, kept)
        switch op {
        case .sum:
            return try expand(gk, to: xs)
        case .mean:
            let count = reduced.reduce(1) { $0 * xs[$1] }
            return try expand(scale(gk, by: 1 / Double(count)), to: xs)
        case .max, .min:
            // Elements equal to the extreme share the gradient equally.
            let hits = try cast(binary(.equal, x, reshape(y, kept)), to: dtype(x))
            let count = try sum(hits, axes: reduced)
            return try mul(hits, div(gk, count))
        case .prod:
            return try prodGradient(x: x, yk: reshape(y, kept), gk: gk, axes: reduced)
        }
    }

    /// ∂ prod / ∂ xᵢ is the product of the other elements: y / xᵢ when no element is zero, the
    /// product of the non-zero elements at a lone zero, and 0 everywhere else.
    private mutating func prodGradient(x: ValueID, yk: ValueID, gk: ValueID, axes: [Int]) throws -> ValueID {
        let dt = dtype(x)
        let zero = try scalar(0, dt)
        let isZero = try binary(.equal, x, zero)
        let nonZero = try select(isZero, scalar(1, dt), x)
        let productOfNonZero = try reduce(.prod, nonZero, axes: axes, keepDims: true)
        let zeroCount = try sum(cast(isZero, to: dt), axes: axes)
        let noZeros = try binary(.equal, zeroCount, zero)
        let loneZero = try binary(.logicalAnd, isZero, binary(.equal, zeroCount, scalar(1, dt)))
        let others = try select(noZeros, div(yk, x), select(loneZero, productOfNonZero, zero))
        return try mul(gk, others)
    }

    /// Matrix product with NumPy semantics: 1-D operands and broadcast batch axes.
    mutating func matmulGradient(a: ValueID, b: ValueID, g: ValueID, needs: [Bool]) throws -> [ValueID?] {
        let sa = shape(a)
        let sb = shape(b)
        // The matrices the kernel multiplied: a row for 1-D `a`, a column for 1-D `b`.
        let a2 = sa.rank == 1 ? Shape([1, sa[0]]) : sa
        let b2 = sb.rank == 1 ? Shape([sb[0], 1]) : sb
        let batch = try Shape.broadcast(Shape(Array(a2.dims.dropLast(2))), Shape(Array(b2.dims.dropLast(2))), op: "matmul")
        let m = a2[a2.rank - 2]
        let n = b2[b2.rank - 1]
        let g2 = try reshape(g, Shape(batch.dims + [m, n]))
        var ga: ValueID?
        var gb: ValueID?
        // When an operand is itself a transposed value (`Linear`'s weight), its gradient goes back
        // through a transpose; computing the gradient transposed (gᵀ·a instead of aᵀ·g) lets the
        // two transposes cancel, so the weight's gradient is the dense tensor the GEMM wrote.
        if needs[0] {
            if sa.rank == 2 && sb.rank == 2 && isForwardTranspose(a) {
                ga = try transposeMatrices(matmul(b, transposeMatrices(g2)))
            } else {
                let product = try matmul(g2, transposeMatrices(reshape(b, b2)))
                ga = try unbroadcast(product, to: a2)
            }
        }
        if needs[1] {
            if sa.rank == 2 && sb.rank == 2 && isForwardTranspose(b) {
                gb = try transposeMatrices(matmul(transposeMatrices(g2), a))
            } else {
                let product = try matmul(transposeMatrices(reshape(a, a2)), g2)
                gb = try unbroadcast(product, to: b2)
            }
        }
        return [ga, gb]
    }

    /// y ⊙ (g − Σ g⊙y) along the axis.
    mutating func softmaxGradient(axis: Int, y: ValueID, g: ValueID) throws -> ValueID? {
        let s = shape(y)
        if s.rank == 0 { return nil }  // the softmax of a scalar is the constant 1
        let a = try s.normalizedAxis(axis, op: "softmax")
        return try mul(y, sub(g, sum(mul(g, y), axes: [a])))
    }

    /// g − softmax ⊙ Σ g along the axis (softmax = exp of the output).
    mutating func logSoftmaxGradient(axis: Int, y: ValueID, g: ValueID) throws -> ValueID? {
        let s = shape(y)
        if s.rank == 0 { return nil }  // the log-softmax of a scalar is the constant 0
        let a = try s.normalizedAxis(axis, op: "logSoftmax")
        return try sub(g, mul(unary(.exp, y), sum(g, axes: [a])))
    }

    /// (softmax(logits) − target) · g / count, with target = (1 − s)·one-hot + s / classes.
    mutating func crossEntropyGradient(smoothing s: Double, logits: ValueID, labels: ValueID, g: ValueID) throws -> ValueID? {
        let xs = shape(logits)
        let dt = dtype(logits)
        let classes = xs[1]
        let count = xs.elementCount / Swift.max(classes, 1)
        let probabilities = try emit(.softmax(axis: 1), [logits])
        var labelShape = shape(labels).dims
        labelShape.insert(1, at: 1)
        let classIndex = try Tensor.arange(classes).reshaped(Shape([1, classes] + Array(repeating: 1, count: xs.rank - 2)))
        let hits = try binary(.equal, reshape(labels, Shape(labelShape)), constant(classIndex))
        var target = try cast(hits, to: dt)
        if s != 0 { target = try shift(scale(target, by: 1 - s), by: s / Double(classes)) }
        return try mul(sub(probabilities, target), scale(g, by: 1 / Double(count)))
    }
}

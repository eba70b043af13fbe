import DeepseekTensor

extension ONNXOperators {
    static func registerReductions(_ t: inout [String: ONNXOperator]) {
        // Each reduction: the Deepseek reduce op, an element-wise step before it, one after it,
        // and the opset from which `axes` moved from an attribute to an input.
        typealias Step = @Sendable (Tensor) throws -> Tensor
        let reductions: [(String, ReduceOp, Step?, Step?, Int)] = [
            ("ReduceSum", .sum, nil, nil, 13),
            ("ReduceMean", .mean, nil, nil, 18),
            ("ReduceMax", .max, nil, nil, 18),
            ("ReduceMin", .min, nil, nil, 18),
            ("ReduceProd", .prod, nil, nil, 18),
            ("ReduceSumSquare", .sum, { try $0.square() }, nil, 18),
            ("ReduceL1", .sum, { try $0.abs() }, nil, 18),
            ("ReduceL2", .sum, { try $0.square() }, { try $0.sqrt() }, 18),
            ("ReduceLogSum", .sum, nil, { try $0.log() }, 18),
            ("ReduceLogSumExp", .sum, { try $0.exp() }, { try $0.log() }, 18),
        ]
        for (name, op, before, after, axesInputFrom) in reductions {
            t[name] = { c in
                let x = try c.input(0)
                let keepDims = try c.int("keepdims", default: 1) != 0
                let axes = try c.axes(attributeBefore: axesInputFrom, inputIndex: 1) ?? []
                if try axes.isEmpty && c.int("noop_with_empty_axes", default: 0) != 0 {
                    guard before == nil && after == nil else {
                        throw c.unsupported("noop_with_empty_axes on \(name) not supported")
                    }
                    return [x]
                }
                var y = try before?(x) ?? x
                y = try y.reduce(op, axes: axes.isEmpty ? nil : axes, keepDims: keepDims)
                return [try after?(y) ?? y]
            }
        }

        for (name, op) in [("ArgMax", ArgReduceOp.argmax), ("ArgMin", .argmin)] {
            t[name] = { c in
                let x = try c.input(0)
                let axis = try c.int("axis", default: 0)
                let keepDims = try c.int("keepdims", default: 1) != 0
                let last = try c.int("select_last_index", default: 0) != 0
                return [
                    op == .argmax
                        ? try x.argmax(axis: axis, keepDims: keepDims, selectLastIndex: last)
                        : try x.argmin(axis: axis, keepDims: keepDims, selectLastIndex: last)
                ]
            }
        }

        for (name, log) in [("Softmax", false), ("LogSoftmax", true)] {
            t[name] = { c in
                let x = try c.input(0)
                if c.opset < 13 {
                    // Before opset 13 the input is coerced to 2-D at `axis` and normalised
                    // over the flattened trailing axes.
                    let axis = try c.int("axis", default: 1)
                    let flat = try flattenTo2D(x, axis: axis, c)
                    let y = log ? try flat.logSoftmax(axis: 1) : try flat.softmax(axis: 1)
                    return [try y.reshaped(x.shape)]
                }
                let axis = try c.int("axis", default: -1)
                return [log ? try x.logSoftmax(axis: axis) : try x.softmax(axis: axis)]
            }
        }

        t["Hardmax"] = { c in
            var x = try c.input(0)
            let original = x.shape
            var axis = try c.int("axis", default: c.opset < 13 ? 1 : -1)
            if c.opset < 13 {
                x = try flattenTo2D(x, axis: axis, c)
                axis = 1
            }
            let a = try x.shape.normalizedAxis(axis, op: "Hardmax")
            // One-hot of the first maximum: compare the argmax with each position on the axis.
            let index = try x.argmax(axis: a, keepDims: true)
            var positionShape = [Int](repeating: 1, count: x.rank)
            positionShape[a] = x.shape[a]
            let positions = try indexTensor(Array(0..<x.shape[a]), shape: Shape(positionShape))
            return [try index.equal(positions).cast(to: x.dtype).reshaped(original)]
        }

        t["CumSum"] = { c in
            let x = try c.input(0)
            guard let axis = try c.intValues(1)?.first else { throw c.invalid("input 1 (axis) is required") }
            let a = try x.shape.normalizedAxis(axis, op: "CumSum")
            let exclusive = try c.int("exclusive", default: 0) != 0
            let reverse = try c.int("reverse", default: 0) != 0
            // A running sum is a product with a triangular matrix of ones: entry (j, i) is 1 when
            // element j contributes to output i.
            let n = x.shape[a]
            var mask = [Int](repeating: 0, count: n * n)
            for j in 0..<n {
                for i in 0..<n {
                    let contributes = reverse ? (exclusive ? j > i : j >= i) : (exclusive ? j < i : j <= i)
                    mask[j * n + i] = contributes ? 1 : 0
                }
            }
            let triangle = try indexTensor(mask, shape: [n, n]).cast(to: x.dtype)
            let moved = try x.transposed(a, -1)
            return [try moved.matmul(triangle).transposed(a, -1)]
        }
    }

    /// The 2-D view `[d0·…·d(axis-1), d(axis)·…]` that opset < 13 softmax-like ops work on.
    static func flattenTo2D(_ x: Tensor, axis: Int, _ c: NodeContext) throws -> Tensor {
        let a = axis < 0 ? axis + x.rank : axis
        guard a >= 0 && a <= x.rank else { throw c.invalid("axis \(axis) is out of range for rank \(x.rank)") }
        let outer = x.shape.dims[..<a].reduce(1, *)
        let inner = x.shape.dims[a...].reduce(1, *)
        return try x.reshaped([outer, inner])
    }
}

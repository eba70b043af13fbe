import DeepseekTensor

extension ONNXOperators {
    static func registerNN(_ t: inout [String: ONNXOperator]) {
        t["MatMul"] = { c in [try c.input(0).matmul(c.input(1))] }

        t["Gemm"] = { c in
            var a = try c.input(0)
            var b = try c.input(1)
            guard a.rank == 2, b.rank == 2 else { throw c.invalid("A and B must be matrices, got \(a.shape) and \(b.shape)") }
            if try c.int("transA", default: 0) != 0 { a = try a.transposed() }
            if try c.int("transB", default: 0) != 0 { b = try b.transposed() }
            let alpha = Double(try c.float("alpha", default: 1))
            let beta = Double(try c.float("beta", default: 1))
            var y = try a.matmul(b)
            if alpha != 1 { y = try y * alpha }
            if let bias = c.optionalInput(2) {
                y = try y + (beta != 1 ? try bias * beta : bias)
            }
            return [y]
        }

        t["LayerNormalization"] = { c in
            let x = try c.input(0)
            let axis = try c.int("axis", default: -1)
            let epsilon = Double(try c.float("epsilon", default: 1e-5))
            let stash = try c.int("stash_type", default: 1)
            guard let stashType = ONNXDataType(rawValue: Int32(truncatingIfNeeded: stash)).dtype, stashType.isFloatingPoint else {
                throw c.unsupported("stash_type \(stash) not supported")
            }
            let r = try x.layerNorm(weight: c.optionalInput(1), bias: c.optionalInput(2), axis: axis, epsilon: epsilon)
            return [r.output, try r.mean.cast(to: stashType), try r.inverseStdDev.cast(to: stashType)]
        }

        t["BatchNormalization"] = { c in
            let x = try c.input(0)
            let scale = try c.input(1)
            let bias = try c.input(2)
            let mean = try c.input(3)
            let variance = try c.input(4)
            let epsilon = Double(try c.float("epsilon", default: 1e-5))
            let training = c.opset >= 14 ? try c.int("training_mode", default: 0) != 0 : false
            if c.opset < 7, try c.int("is_test", default: 0) == 0 {
                throw c.unsupported("training mode before opset 7 (is_test=0) not supported")
            }
            if c.opset < 9, try c.int("spatial", default: 1) == 0 {
                throw c.unsupported("spatial=0 (per-activation statistics) not supported")
            }
            if !training {
                if (1..<c.node.outputs.count).contains(where: c.wantsOutput) {
                    throw c.unsupported("running-statistics outputs outside training_mode not supported")
                }
                return [try x.batchNorm(scale: scale, bias: bias, mean: mean, variance: variance, epsilon: epsilon)]
            }
            // Training mode: normalise with this batch's statistics and blend them into the
            // running ones with `momentum`.
            let momentum = Double(try c.float("momentum", default: 0.9))
            let r = try x.batchNormTraining(scale: scale, bias: bias, epsilon: epsilon)
            let runningMean = try mean * momentum + (r.mean * (1 - momentum))
            let runningVariance = try variance * momentum + (r.variance * (1 - momentum))
            return [r.output, runningMean, runningVariance]
        }

        t["InstanceNormalization"] = { c in
            let x = try c.input(0)
            let scale = try c.input(1)
            let bias = try c.input(2)
            guard x.rank >= 3 else { throw c.invalid("input must be [N, C, D1, …], got \(x.shape)") }
            let epsilon = Double(try c.float("epsilon", default: 1e-5))
            // Instance normalisation is layer normalisation over the spatial axes, followed by a
            // per-channel scale and shift.
            let normalized = try x.layerNorm(axis: 2, epsilon: epsilon).output
            let channelShape = Shape([1, x.shape[1]] + Array(repeating: 1, count: x.rank - 2))
            return [try normalized * scale.reshaped(channelShape) + bias.reshaped(channelShape)]
        }

        t["Conv"] = { c in
            let x = try c.input(0)
            let w = try c.input(1)
            guard x.rank >= 3, w.rank == x.rank else {
                throw c.invalid("X must be [N, C, spatial…] and W [M, C/group, kernel…] of the same rank, got \(x.shape) and \(w.shape)")
            }
            let spatial = x.rank - 2
            guard spatial <= 2 else { throw c.unsupported("\(spatial)-D convolution not supported (conv2d only)") }
            let kernel = c.ints("kernel_shape") ?? Array(w.shape.dims[2...])
            guard kernel == Array(w.shape.dims[2...]) else {
                throw c.invalid("kernel_shape \(kernel) differs from the weight's spatial shape \(Array(w.shape.dims[2...]))")
            }
            let window = try WindowGeometry(c, input: Array(x.shape.dims[2...]), kernel: kernel)
            let group = try c.int("group", default: 1)
            // 1-D convolution runs as 2-D with a height of one.
            let x4 = spatial == 1 ? try x.unsqueezed(axis: 2) : x
            let w4 = spatial == 1 ? try w.unsqueezed(axis: 2) : w
            let p = Conv2dParameters(
                stride: (window.strides2D[0], window.strides2D[1]), padding: window.padding2D,
                dilation: (window.dilations2D[0], window.dilations2D[1]), groups: group)
            let y = try x4.conv2d(w4, bias: c.optionalInput(2), parameters: p)
            return [spatial == 1 ? try y.squeezed(axes: [2]) : y]
        }

        t["Dropout"] = { c in
            let x = try c.input(0)
            var training = false
            var ratio = 0.5
            if c.opset >= 12 {
                ratio = try c.scalarValue(1) ?? 0.5
                training = (try c.scalarValue(2) ?? 0) != 0
            } else {
                ratio = Double(try c.float("ratio", default: 0.5))
                if c.opset < 7 { training = try c.int("is_test", default: 0) == 0 }
            }
            if training && ratio != 0 {
                throw c.unsupported("training mode with ratio \(ratio) draws a random mask that cannot match the reference")
            }
            // Inference (or ratio 0): the output is the input and nothing is masked.
            let mask = c.opset >= 10 ? try Tensor.ones(x.shape, dtype: .bool) : try Tensor.ones(x.shape, dtype: x.dtype)
            return [x, mask]
        }
    }
}

/// Strides, dilations and padding of a convolution or pooling window over 1-D or 2-D spatial
/// axes, resolved from ONNX's `strides`, `dilations`, `pads` and `auto_pad` attributes.
///
/// One spatial axis is lifted to two (a leading axis of size 1), since Deepseek's kernels are 2-D.
struct WindowGeometry {
    var strides2D: [Int]
    var dilations2D: [Int]
    var padding2D: (top: Int, left: Int, bottom: Int, right: Int)

    init(_ c: NodeContext, input: [Int], kernel: [Int], ceilMode: Bool = false) throws {
        let n = input.count
        let strides = c.ints("strides") ?? Array(repeating: 1, count: n)
        let dilations = c.ints("dilations") ?? Array(repeating: 1, count: n)
        guard strides.count == n, dilations.count == n, kernel.count == n else {
            throw c.invalid("strides \(strides), dilations \(dilations) and kernel \(kernel) must each have \(n) entries")
        }
        // The upper bound keeps window arithmetic on corrupt attributes far from overflow.
        let limit = 1 << 24
        guard (strides + dilations + kernel).allSatisfy({ $0 >= 1 && $0 <= limit }), input.allSatisfy({ $0 <= limit }) else {
            throw c.invalid("strides \(strides), dilations \(dilations) and kernel \(kernel) must be in 1...\(limit)")
        }
        var begin = [Int](repeating: 0, count: n)
        var end = [Int](repeating: 0, count: n)
        let autoPad = try c.string("auto_pad", default: "NOTSET")
        switch autoPad {
        case "NOTSET", "":
            let pads = c.ints("pads") ?? Array(repeating: 0, count: 2 * n)
            guard pads.count == 2 * n else { throw c.invalid("pads \(pads) must have \(2 * n) entries") }
            guard pads.allSatisfy({ $0 >= 0 }) else { throw c.unsupported("negative pads \(pads) not supported") }
            guard pads.allSatisfy({ $0 <= limit }) else { throw c.invalid("pads \(pads) exceed \(limit)") }
            begin = Array(pads[..<n])
            end = Array(pads[n...])
        case "VALID":
            break
        case "SAME_UPPER", "SAME_LOWER":
            // The output keeps ceil(input / stride) positions; the padding that needs is split
            // evenly, with the odd one at the end (SAME_UPPER) or the beginning (SAME_LOWER).
            for i in 0..<n {
                let out = (input[i] + strides[i] - 1) / strides[i]
                let span = (kernel[i] - 1) * dilations[i] + 1
                let total = Swift.max(0, (out - 1) * strides[i] + span - input[i])
                let small = total / 2
                begin[i] = autoPad == "SAME_UPPER" ? small : total - small
                end[i] = total - begin[i]
            }
        default:
            throw c.invalid("auto_pad '\(autoPad)' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
        }
        if n == 1 {
            strides2D = [1, strides[0]]
            dilations2D = [1, dilations[0]]
            padding2D = (0, begin[0], 0, end[0])
        } else {
            strides2D = strides
            dilations2D = dilations
            padding2D = (begin[0], begin[1], end[0], end[1])
        }
    }
}

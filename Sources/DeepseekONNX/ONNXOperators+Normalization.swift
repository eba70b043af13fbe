import DeepseekTensor

extension ONNXOperators {
    static func registerNormalization(_ t: inout [String: ONNXOperator]) {
        t["MeanVarianceNormalization"] = { c in
            let x = try c.input(0)
            let axes = c.ints("axes") ?? [0, 2, 3]
            // (x - E[x]) / (sqrt(E[x²] - E[x]²) + 1e-9), as ONNX defines it.
            let mean = try x.mean(axes: axes, keepDims: true)
            let meanOfSquares = try x.square().mean(axes: axes, keepDims: true)
            let deviation = try (meanOfSquares - mean.square()).sqrt()
            return [try (x - mean) / (deviation + 1e-9)]
        }

        t["LRN"] = { c in
            let x = try c.input(0)
            guard x.rank >= 3 else { throw c.invalid("input must be [N, C, D1, …], got \(x.shape)") }
            let size = try c.int("size", default: 0)
            guard size >= 1 && size <= 1 << 16 else { throw c.invalid("attribute 'size' must be in 1...65536, got \(size)") }
            let alpha = Double(try c.float("alpha", default: 1e-4))
            let beta = Double(try c.float("beta", default: 0.75))
            let bias = Double(try c.float("bias", default: 1))
            // Sum the squares over a window of `size` channels: pad the channel axis with zeros
            // and add `size` shifted slices.
            let channels = x.shape[1]
            let before = (size - 1) / 2
            let after = size - 1 - before
            var padShape = x.shape
            padShape[1] = before
            var pieces = [try Tensor.zeros(padShape, dtype: x.dtype), try x.square()]
            padShape[1] = after
            pieces.append(try Tensor.zeros(padShape, dtype: x.dtype))
            let padded = try Tensor.concat(pieces, axis: 1)
            var sum = try padded.sliced(axis: 1, start: 0, end: channels)
            for k in 1..<size { sum = try sum + padded.sliced(axis: 1, start: k, end: k + channels) }
            return [try x / (sum * (alpha / Double(size)) + bias).pow(beta)]
        }
    }
}

import DeepseekTensor

extension ONNXOperators {
    static func registerPooling(_ t: inout [String: ONNXOperator]) {
        for (name, kind) in [("MaxPool", PoolKind.max), ("AveragePool", .average)] {
            t[name] = { c in
                let x = try c.input(0)
                if kind == .max && c.wantsOutput(1) { throw c.unsupported("MaxPool Indices output not supported") }
                guard x.rank >= 3 else { throw c.invalid("X must be [N, C, spatial…], got \(x.shape)") }
                let spatial = x.rank - 2
                guard spatial <= 2 else { throw c.unsupported("\(spatial)-D pooling not supported (2-D kernels only)") }
                guard let kernel = c.ints("kernel_shape") else { throw c.invalid("attribute 'kernel_shape' is required") }
                let ceilMode = try c.int("ceil_mode", default: 0) != 0
                let window = try WindowGeometry(c, input: Array(x.shape.dims[2...]), kernel: kernel)
                let countIncludePad = try c.int("count_include_pad", default: 0) != 0
                let kernel2D = spatial == 1 ? [1, kernel[0]] : kernel
                let p = Pool2dParameters(
                    kernel: (kernel2D[0], kernel2D[1]), stride: (window.strides2D[0], window.strides2D[1]),
                    padding: window.padding2D, dilation: (window.dilations2D[0], window.dilations2D[1]),
                    ceilMode: ceilMode, countIncludePad: countIncludePad)
                let x4 = spatial == 1 ? try x.unsqueezed(axis: 2) : x
                let y = kind == .max ? try x4.maxPool2d(p) : try x4.avgPool2d(p)
                return [spatial == 1 ? try y.squeezed(axes: [2]) : y]
            }
        }
        for (name, op) in [("GlobalMaxPool", ReduceOp.max), ("GlobalAveragePool", .mean)] {
            t[name] = { c in
                let x = try c.input(0)
                guard x.rank >= 3 else { throw c.invalid("X must be [N, C, spatial…], got \(x.shape)") }
                return [try x.reduce(op, axes: Array(2..<x.rank), keepDims: true)]
            }
        }
    }
}

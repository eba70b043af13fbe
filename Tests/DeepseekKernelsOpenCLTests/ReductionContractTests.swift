import DeepseekKernelsOpenCL
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// Reductions and normalisations of the OpenCL backend against the reference backend.
@Suite(.enabled(if: OpenCLBackend.isAvailable))
struct ReductionContractTests {
    static let axisSets: [[Int]] = [[0], [1], [2], [0, 2], [1, 2], [0, 1, 2]]

    @Test(arguments: [DType.float32, .float64, .float16])
    func reductionsAgreeOverEveryAxisSet(dtype: DType) throws {
        for (layout, x) in try Inputs.layouts([4, 5, 6], dtype) {
            for op in ReduceOp.allCases {
                for axes in Self.axisSets {
                    for keep in [false, true] {
                        try expectAgreement("\(op) \(axes) keep \(keep) \(layout) \(dtype)") {
                            try x.reduce(op, axes: axes, keepDims: keep)
                        }
                    }
                }
            }
        }
    }

    @Test func maxAndMinPropagateNaN() throws {
        let x = try Inputs.specials(24).reshaped([4, 6])
        for op: ReduceOp in [.max, .min, .sum, .prod] {
            try expectAgreement("\(op) specials axis 1") { try x.reduce(op, axes: [1]) }
            try expectAgreement("\(op) specials axis 0") { try x.reduce(op, axes: [0]) }
        }
    }

    @Test func longRowsReduceInParallelParts() throws {
        let x = try Inputs.values([3, 70001])
        for op: ReduceOp in [.sum, .mean, .max, .min] {
            try expectAgreement("\(op) long rows", tolerance: Tolerance(absolute: 1e-4, relative: 1e-5)) {
                try x.reduce(op, axes: [1])
            }
        }
        let all = try Inputs.values([50001])
        try expectAgreement("sum of everything", tolerance: Tolerance(absolute: 1e-4, relative: 1e-5)) { try all.sum() }
        let ones = try Tensor.full([40000], value: 1.00001)
        try expectAgreement("prod long", tolerance: Tolerance(absolute: 1e-5, relative: 1e-5)) { try ones.prod() }
    }

    @Test func emptyGroupsAndEmptyOutputs() throws {
        let x = try Tensor.zeros([3, 0])
        for op: ReduceOp in [.sum, .mean, .prod] {
            try expectAgreement("\(op) over an empty axis") { try x.reduce(op, axes: [1]) }
            try expectAgreement("\(op) of an empty output") { try x.reduce(op, axes: [0]) }
        }
    }

    @Test func integerReductionsAreDelegated() throws {
        let x = try Inputs.values([4, 5], .int32)
        for op in ReduceOp.allCases {
            try expectAgreement("\(op) int32") { try x.reduce(op, axes: [1]) }
        }
    }

    @Test(arguments: [DType.float32, .float64, .float16])
    func argReductionsAgreeWithTiesAndNaN(dtype: DType) throws {
        let ties = try Tensor([1, 3, 3, 0, -1, -1, 2, 2, 5, 5, -4, -4] as [Float], shape: [3, 4]).cast(to: dtype)
        let specials = try Inputs.specials(24, dtype).reshaped([4, 6])
        let strided = try Inputs.values([5, 6, 7], dtype).permuted([2, 0, 1])
        for x in [ties, specials, strided] {
            for op in ArgReduceOp.allCases {
                for axis in 0..<x.rank {
                    for last in [false, true] {
                        try expectAgreement("\(op) axis \(axis) last \(last) \(x.shape)") {
                            try op == .argmax
                                ? x.argmax(axis: axis, keepDims: last, selectLastIndex: last)
                                : x.argmin(axis: axis, keepDims: !last, selectLastIndex: last)
                        }
                    }
                }
            }
        }
    }

    @Test(arguments: [DType.float32, .float64, .float16])
    func softmaxAgreesAlongEveryAxis(dtype: DType) throws {
        for (layout, x) in try Inputs.layouts([3, 4, 5], dtype) {
            let big = try x * 40
            for axis in 0..<3 {
                try expectAgreement("softmax \(axis) \(layout)") { try big.softmax(axis: axis) }
                try expectAgreement("logSoftmax \(axis) \(layout)") { try big.logSoftmax(axis: axis) }
            }
        }
        let rows = try Inputs.values([6, 37], dtype) * 30
        try expectAgreement("softmax long rows") { try rows.softmax(axis: 1) }
        try expectAgreement("logSoftmax long rows") { try rows.logSoftmax(axis: 1) }
        let longSpecials = try Inputs.specials(40, dtype).reshaped([2, 20])
        try expectAgreement("softmax long specials") { try longSpecials.softmax(axis: 1) }
        try expectAgreement("logSoftmax long specials") { try longSpecials.logSoftmax(axis: 1) }
        let specials = try Inputs.specials(20, dtype).reshaped([4, 5])
        try expectAgreement("softmax specials") { try specials.softmax(axis: 1) }
        try expectAgreement("logSoftmax specials") { try specials.logSoftmax(axis: 0) }
    }

    @Test(arguments: [DType.float32, .float64, .float16, .bfloat16])
    func layerNormAgreesWithAndWithoutAffine(dtype: DType) throws {
        let x = try Inputs.values([2, 3, 8], dtype).transposed(0, 1)
        let w = try Inputs.values([8], dtype, seed: 2)
        let b = try Inputs.values([8], dtype, seed: 3)
        let w2 = try Inputs.values([2, 8], dtype, seed: 4).sliced(axis: 0, start: 1)
        let tolerance = dtype == .float32 ? Tolerance(absolute: 1e-5, relative: 1e-4) : nil
        func all(_ r: LayerNormResult) -> [Tensor] { [r.output, r.mean, r.inverseStdDev] }
        try expectAgreement("layerNorm plain", tolerance: tolerance) { all(try x.layerNorm()) }
        try expectAgreement("layerNorm affine", tolerance: tolerance) { all(try x.layerNorm(weight: w, bias: b)) }
        try expectAgreement("layerNorm weight view", tolerance: tolerance) { all(try x.layerNorm(weight: w2)) }
        try expectAgreement("layerNorm two axes", tolerance: tolerance) { all(try x.layerNorm(axis: 1, epsilon: 1e-3)) }
    }

    @Test(arguments: [DType.float32, .float64, .float16])
    func batchNormAgreesPerChannel(dtype: DType) throws {
        for shape: Shape in [[2, 3, 4, 5], [4, 3]] {
            let x = try Inputs.values(shape, dtype)
            let scale = try Inputs.values([3], dtype, seed: 2)
            let bias = try Inputs.values([3], dtype, seed: 3)
            let mean = try Inputs.values([3], dtype, seed: 4)
            let variance = try Inputs.values([6], dtype, seed: 5).abs().sliced(axis: 0, step: 2)
            try expectAgreement("batchNorm \(shape)", tolerance: dtype == .float32 ? Tolerance(absolute: 1e-5, relative: 1e-4) : nil) {
                try x.batchNorm(scale: scale, bias: bias, mean: mean, variance: variance)
            }
        }
    }
}

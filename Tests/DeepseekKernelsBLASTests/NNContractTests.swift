import DeepseekKernelsBLAS
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct ReductionContractTests {
    static let axesCases: [[Int]?] = [nil, [0], [1], [2], [0, 2], [1, 2], [0, 1]]

    @Test(arguments: ReduceOp.allCases, [DType.float32, .float16, .bfloat16, .float64, .int32])
    func reduceMatchesReference(op: ReduceOp, dtype: DType) throws {
        for (layout, x) in try Inputs.layouts([4, 5, 6], dtype) {
            for axes in Self.axesCases {
                for keep in [false, true] {
                    // Products of 120 values in [-2, 2) stay in range; compare them relatively.
                    expectAgreement("\(op) \(dtype) \(layout) axes \(axes ?? []) keep \(keep)") {
                        try x.reduce(op, axes: axes, keepDims: keep)
                    }
                }
            }
        }
        let specials = try Inputs.specials(40, dtype == .int32 ? .float32 : dtype, huge: op == .max || op == .min).reshaped([5, 8])
        expectAgreement("\(op) special values rows") { try specials.reduce(op, axes: [1]) }
        expectAgreement("\(op) special values columns") { try specials.reduce(op, axes: [0]) }
        let broadcast = try Inputs.values([3, 1, 5], dtype).expanded(to: [3, 4, 5])
        expectAgreement("\(op) broadcast input") { try broadcast.reduce(op, axes: [1]) }
    }

    @Test(arguments: [ArgReduceOp.argmax, .argmin])
    func argReduceMatchesReferenceIncludingTiesAndNaN(op: ArgReduceOp) throws {
        let ties = try Tensor([Float(1), 3, 3, 0, -1, -1, 2, 2, .nan, 5, 1, .nan], shape: [3, 4])
        for last in [false, true] {
            for axis in [0, 1] {
                for keep in [false, true] {
                    expectAgreement("\(op) ties axis \(axis) last \(last) keep \(keep)") {
                        try ties.argReduce(op, axis: axis, keepDims: keep, selectLastIndex: last)
                    }
                }
            }
        }
        for (layout, x) in try Inputs.layouts([4, 7, 5]) {
            for axis in 0..<3 {
                expectAgreement("\(op) \(layout) axis \(axis)") { try x.argReduce(op, axis: axis, keepDims: false, selectLastIndex: false) }
            }
        }
        let h = try Inputs.values([6, 5], .float16)
        expectAgreement("\(op) float16") { try h.argReduce(op, axis: 1, keepDims: false, selectLastIndex: false) }
    }
}

extension Tensor {
    func argReduce(_ op: ArgReduceOp, axis: Int, keepDims: Bool, selectLastIndex: Bool) throws -> Tensor {
        op == .argmax
            ? try argmax(axis: axis, keepDims: keepDims, selectLastIndex: selectLastIndex)
            : try argmin(axis: axis, keepDims: keepDims, selectLastIndex: selectLastIndex)
    }
}

@Suite struct NormalizationContractTests {
    @Test(arguments: [DType.float32, .float16, .bfloat16, .float64])
    func softmaxAndLogSoftmaxMatchReference(dtype: DType) throws {
        for (layout, x) in try Inputs.layouts([3, 5, 7], dtype) {
            for axis in [0, 1, 2] {
                expectAgreement("softmax \(dtype) \(layout) axis \(axis)") { try x.softmax(axis: axis) }
                expectAgreement("logSoftmax \(dtype) \(layout) axis \(axis)") { try x.logSoftmax(axis: axis) }
            }
        }
        let big = try KernelBackends.using(Backends.reference) { try Inputs.values([4, 9], dtype) * 40 }
        expectAgreement("softmax large logits \(dtype)") { try big.softmax() }
        expectAgreement("logSoftmax large logits \(dtype)") { try big.logSoftmax() }
        let specials = try Inputs.specials(36, dtype).reshaped([4, 9])
        expectAgreement("softmax special values \(dtype)") { try specials.softmax() }
    }

    @Test(arguments: [DType.float32, .float16, .bfloat16, .float64])
    func layerNormMatchesReference(dtype: DType) throws {
        let x = try Inputs.values([3, 4, 10], dtype)
        let w = try Inputs.values([10], dtype, seed: 2)
        let b = try Inputs.values([10], dtype, seed: 3)
        for (label, weight, bias) in [("plain", nil, nil), ("weight", w, nil), ("bias", nil, b), ("both", w, b)] as [(String, Tensor?, Tensor?)] {
            expectAgreement("layerNorm \(dtype) \(label)") {
                let r = try x.layerNorm(weight: weight, bias: bias)
                return [r.output, r.mean, r.inverseStdDev]
            }
        }
        let w2 = try Inputs.values([4, 10], dtype, seed: 4)
        expectAgreement("layerNorm \(dtype) over two axes") {
            let r = try x.layerNorm(weight: w2, axis: 1, epsilon: 1e-3)
            return [r.output, r.mean, r.inverseStdDev]
        }
        // A large mean next to a small spread: float32 subtraction would cancel.
        let offset = try KernelBackends.using(Backends.reference) { try Inputs.values([2, 64], dtype) * 0.01 + 1000 }
        expectAgreement("layerNorm \(dtype) large mean", tolerance: dtype == .float32 ? Tolerance(absolute: 1e-4, relative: 1e-4) : nil) {
            let r = try offset.layerNorm()
            return [r.output, r.mean, r.inverseStdDev]
        }
        let view = try Inputs.values([10, 6], dtype).transposed()
        expectAgreement("layerNorm \(dtype) transposed view") { try [view.layerNorm().output] }
    }

    @Test(arguments: [DType.float32, .float16, .bfloat16, .float64])
    func batchNormMatchesReference(dtype: DType) throws {
        for shape in [[5, 3], [2, 3, 4, 5], [2, 3, 7]] as [Shape] {
            let x = try Inputs.values(shape, dtype)
            let scale = try Inputs.values([3], dtype, seed: 2)
            let bias = try Inputs.values([3], dtype, seed: 3)
            let mean = try Inputs.values([3], dtype, seed: 4)
            let variance = try KernelBackends.using(Backends.reference) { try Inputs.values([3], dtype, seed: 5).abs() + 0.1 }
            expectAgreement("batchNorm \(dtype) \(shape)") {
                try x.batchNorm(scale: scale, bias: bias, mean: mean, variance: variance)
            }
            expectAgreement("batchNorm training \(dtype) \(shape)") {
                let r = try x.batchNormTraining(scale: scale, bias: bias)
                return [r.output, r.mean, r.variance]
            }
        }
    }
}

@Suite struct PoolingAndIndexingContractTests {
    static let poolCases: [(String, Pool2dParameters)] = [
        ("2×2", Pool2dParameters(kernel: (2, 2))),
        ("3×3 stride 1 pad 1", Pool2dParameters(kernel: (3, 3), stride: (1, 1), padding: (1, 1, 1, 1))),
        ("3×3 stride 2 ceil", Pool2dParameters(kernel: (3, 3), stride: (2, 2), ceilMode: true)),
        ("ceil with padding", Pool2dParameters(kernel: (3, 3), stride: (2, 2), padding: (1, 1, 1, 1), ceilMode: true)),
        ("count pad", Pool2dParameters(kernel: (3, 3), stride: (2, 2), padding: (1, 1, 1, 1), countIncludePad: true)),
        ("count pad ceil", Pool2dParameters(kernel: (3, 2), stride: (2, 2), padding: (1, 0, 1, 1), ceilMode: true, countIncludePad: true)),
        ("dilation", Pool2dParameters(kernel: (2, 3), stride: (1, 2), padding: (0, 1, 1, 1), dilation: (2, 2))),
        ("asymmetric", Pool2dParameters(kernel: (2, 2), stride: (3, 1), padding: (1, 0, 0, 1))),
    ]

    @Test(arguments: [PoolKind.max, .average], [DType.float32, .float16, .bfloat16, .float64])
    func pool2dMatchesReference(kind: PoolKind, dtype: DType) throws {
        for (layout, x) in try Inputs.layouts([2, 3, 9, 8], dtype) {
            for (name, p) in Self.poolCases {
                expectAgreement("\(kind) \(dtype) \(layout) \(name)") {
                    kind == .max ? try x.maxPool2d(p) : try x.avgPool2d(p)
                }
            }
        }
        let specials = try Inputs.specials(32, dtype).reshaped([1, 2, 4, 4])
        expectAgreement("\(kind) special values") {
            let p = Pool2dParameters(kernel: (2, 2))
            return kind == .max ? try specials.maxPool2d(p) : try specials.avgPool2d(p)
        }
    }

    @Test(arguments: [DType.float32, .float16, .int64, .int8, .bool, .float64])
    func gatherMatchesReference(dtype: DType) throws {
        let x = try Inputs.values([5, 4, 3], dtype)
        let i64 = try Tensor([Int64(4), 0, 2, 2, -1, 1], shape: [2, 3])
        let i32 = try Tensor([Int32(1), 3, 0], shape: [3])
        for axis in 0..<3 {
            expectAgreement("gather \(dtype) axis \(axis) int32") { try x.gather(indices: i32.sliced(axis: 0, end: axis == 2 ? 2 : 3), axis: axis) }
        }
        expectAgreement("gather \(dtype) int64 2-D indices") { try x.gather(indices: i64, axis: 0) }
        expectAgreement("gather \(dtype) from a view") { try x.transposed().gather(indices: i32, axis: 1) }
        expectAgreement("gather \(dtype) no indices") { try x.gather(indices: Tensor([Int64](), shape: [0]), axis: 1) }
    }

    @Test(arguments: [DType.float32, .float16, .int64, .int8, .bool, .float64])
    func concatMatchesReference(dtype: DType) throws {
        let a = try Inputs.values([2, 3, 4], dtype, seed: 1)
        let b = try Inputs.values([2, 3, 4], dtype, seed: 2)
        for axis in 0..<3 {
            expectAgreement("concat \(dtype) axis \(axis)") { try Tensor.concat([a, b.transposed(0, 1).transposed(0, 1), a], axis: axis) }
        }
        let empty = try Tensor.zeros([2, 0, 4], dtype: dtype)
        expectAgreement("concat \(dtype) with an empty piece") { try Tensor.concat([a, empty, b], axis: 1) }
        let view = try Inputs.values([4, 3, 2], dtype).permuted([2, 1, 0])
        expectAgreement("concat \(dtype) of a permuted view") { try Tensor.concat([a, view], axis: 2) }
        expectAgreement("stack \(dtype)") { try Tensor.stack([a, b], axis: 1) }
    }
}

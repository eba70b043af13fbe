import DeepseekKernelsOpenCL
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// Matrix products, convolution, pooling, gather and concat against the reference backend.
@Suite(.enabled(if: OpenCLBackend.isAvailable))
struct LinearAlgebraContractTests {
    /// Sizes around the 8×32 register tile: smaller, odd, exact multiples and one past.
    static let shapes: [(m: Int, k: Int, n: Int)] = [(1, 1, 1), (7, 5, 3), (8, 16, 32), (9, 33, 33), (33, 17, 65), (64, 70, 96)]

    @Test(arguments: OpenCLMatmulKernel.allCases)
    func matmulAgreesAcrossShapesAndLayouts(kernel: OpenCLMatmulKernel) throws {
        var backend = try Shared.backend()
        backend.matmulKernel = kernel
        for (m, k, n) in Self.shapes {
            let tolerance = Tolerance.accumulation(.float32, terms: k)
            for (la, a) in try Inputs.layouts([m, k]) {
                for (lb, b) in try Inputs.layouts([k, n], seed: 2) where la == "dense" || lb == "dense" || la == lb {
                    try expectAgreement("\(kernel) \(m)×\(k)×\(n) \(la)·\(lb)", tolerance: tolerance, on: backend) {
                        try a.matmul(b)
                    }
                }
            }
        }
    }

    @Test(arguments: OpenCLMatmulKernel.allCases)
    func batchedMatmulAgreesWithBroadcastBatches(kernel: OpenCLMatmulKernel) throws {
        var backend = try Shared.backend()
        backend.matmulKernel = kernel
        let a = try Inputs.values([2, 3, 5, 4])
        let b = try Inputs.values([2, 3, 4, 6], seed: 2)
        let shared = try Inputs.values([4, 6], seed: 3)
        let perBatch = try Inputs.values([3, 1, 4, 6], seed: 4)
        let permuted = try Inputs.values([5, 2, 3, 4], seed: 5).permuted([1, 2, 0, 3])
        let vector = try Inputs.values([4], seed: 6)
        for (label, body) in [
            ("batched", { try a.matmul(b) }), ("shared right", { try a.matmul(shared) }),
            ("shared left", { try shared.transposed().matmul(b.transposed()) }), ("broadcast batch", { try a.matmul(perBatch) }),
            ("permuted batch", { try permuted.matmul(b) }), ("matrix·vector", { try a.matmul(vector) }),
            ("vector·matrix", { try vector.matmul(b) }),
        ] as [(String, () throws -> Tensor)] {
            try expectAgreement("\(kernel) \(label)", on: backend, body)
        }
    }

    @Test func matmulOfEmptyAndOtherDtypes() throws {
        try expectAgreement("k = 0") { try Tensor.zeros([3, 0]).matmul(Tensor.zeros([0, 4])) }
        try expectAgreement("m = 0") { try Tensor.zeros([0, 3]).matmul(Tensor.ones([3, 4])) }
        try expectAgreement("float64") { try Inputs.values([9, 13], .float64).matmul(Inputs.values([13, 40], .float64, seed: 2)) }
        try expectAgreement("float16") { try Inputs.values([9, 13], .float16).matmul(Inputs.values([13, 40], .float16, seed: 2)) }
        try expectAgreement("bfloat16") { try Inputs.values([9, 13], .bfloat16).matmul(Inputs.values([13, 40], .bfloat16, seed: 2)) }
        try expectAgreement("int32 (delegated)") { try Inputs.values([4, 5], .int32).matmul(Inputs.values([5, 3], .int32)) }
    }

    @Test func timedMatmulReportsKernelAndWallTime() throws {
        let a = try Inputs.values([64, 64])
        let b = try Inputs.values([64, 64], seed: 2)
        for kernel in OpenCLMatmulKernel.allCases {
            var backend = try Shared.backend()
            backend.matmulKernel = kernel
            let timing = try backend.timedMatmul(a, b)
            #expect(timing.kernelSeconds > 0)
            #expect(timing.wallSeconds > 0)
            expectClose(timing.output, try KernelBackends.using(Shared.reference) { try a.matmul(b) }, tolerance: .accumulation(.float32, terms: 64))
        }
        #expect(throws: TensorError.self) { _ = try Shared.backend().timedMatmul(Tensor.zeros([2, 2], dtype: .int32), Tensor.zeros([2, 2], dtype: .int32)) }
    }

    static let convolutions: [(label: String, input: Shape, weight: Shape, parameters: Conv2dParameters)] = [
        ("3×3 pad 1", [2, 3, 9, 9], [5, 3, 3, 3], .init(padding: 1)),
        ("stride 2 dilation 2 asymmetric", [1, 4, 11, 10], [6, 4, 3, 2], .init(stride: (2, 1), padding: (1, 0, 2, 3), dilation: (2, 2), groups: 1)),
        ("groups 2", [2, 4, 7, 7], [6, 2, 3, 3], .init(stride: 2, padding: 1, groups: 2)),
        ("depthwise", [1, 3, 6, 6], [3, 1, 3, 3], .init(padding: 1, groups: 3)),
        ("1×1 wide", [1, 40, 5, 7], [33, 40, 1, 1], .init()),
    ]

    @Test(arguments: [DType.float32, .float64, .float16])
    func conv2dAgreesAcrossParameters(dtype: DType) throws {
        for (label, inputShape, weightShape, parameters) in Self.convolutions {
            let x = try Inputs.values(inputShape, dtype)
            let w = try Inputs.values(weightShape, dtype, seed: 2)
            let bias = try Inputs.values([weightShape[0]], dtype, seed: 3)
            let terms = weightShape[1] * weightShape[2] * weightShape[3]
            let tolerance = Tolerance.accumulation(dtype, terms: terms)
            try expectAgreement("conv \(label) \(dtype)", tolerance: tolerance) { try x.conv2d(w, bias: bias, parameters: parameters) }
            try expectAgreement("conv \(label) no bias", tolerance: tolerance) { try x.conv2d(w, parameters: parameters) }
        }
        let permuted = try Inputs.values([2, 7, 3, 7], dtype).permuted([0, 2, 1, 3])
        let w = try Inputs.values([4, 3, 2, 2], dtype, seed: 2)
        try expectAgreement("conv strided input \(dtype)", tolerance: .accumulation(dtype, terms: 12)) { try permuted.conv2d(w) }
    }

    static let pools: [Pool2dParameters] = [
        .init(kernel: (2, 2)),
        .init(kernel: (3, 3), stride: (2, 2), padding: (1, 1, 1, 1), ceilMode: true),
        .init(kernel: (3, 3), stride: (2, 2), padding: (1, 1, 1, 1), ceilMode: true, countIncludePad: true),
        .init(kernel: (2, 3), stride: (1, 2), padding: (0, 1, 1, 0), dilation: (2, 1), ceilMode: false, countIncludePad: true),
        .init(kernel: (3, 2), stride: (3, 3), ceilMode: true),
    ]

    @Test(arguments: [DType.float32, .float64, .float16])
    func pool2dAgreesWithCeilModeAndPadding(dtype: DType) throws {
        let x = try Inputs.values([2, 3, 8, 7], dtype).transposed(0, 1)
        for p in Self.pools {
            try expectAgreement("maxPool \(p.kernel) \(p.stride) ceil \(p.ceilMode)") { try x.maxPool2d(p) }
            try expectAgreement("avgPool \(p.kernel) \(p.stride) pad \(p.countIncludePad)") { try x.avgPool2d(p) }
        }
        let specials = try Inputs.specials(32, dtype).reshaped([1, 2, 4, 4])
        try expectAgreement("maxPool NaN") { try specials.maxPool2d(.init(kernel: (2, 2))) }
        try expectAgreement("avgPool NaN") { try specials.avgPool2d(.init(kernel: (2, 2), stride: (1, 1))) }
    }

    @Test(arguments: [DType.float32, .float16, .int64, .int8, .bool, .float64])
    func gatherAgreesForEveryDtype(dtype: DType) throws {
        let table = try Inputs.values([5, 4, 3], dtype)
        let ids32 = try Tensor([4, 0, -1, 2, 2, 1] as [Int32], shape: [2, 3])
        let ids64 = Tensor([3, 0, 3] as [Int64])
        try expectAgreement("gather axis 0 \(dtype)") { try table.gather(indices: ids32, axis: 0) }
        try expectAgreement("gather axis 1 \(dtype)") { try table.gather(indices: ids64, axis: 1) }
        try expectAgreement("gather axis 2 strided \(dtype)") { try table.transposed(0, 2).gather(indices: ids64.sliced(axis: 0, end: 1), axis: 2) }
        try expectAgreement("gather nothing \(dtype)") { try table.gather(indices: Tensor([] as [Int64]), axis: 1) }
    }

    @Test(arguments: [DType.float32, .float64, .bfloat16, .int8, .int32, .bool])
    func concatAgreesForEveryDtypeAndAxis(dtype: DType) throws {
        let a = try Inputs.values([2, 3, 4], dtype)
        let b = try Inputs.values([4, 3, 2], dtype, seed: 2).permuted([2, 1, 0])
        let c = try Inputs.values([2, 3, 8], dtype, seed: 3).sliced(axis: 2, step: 2)
        let empty = try Tensor.zeros([2, 3, 0], dtype: dtype)
        for axis in 0..<3 {
            try expectAgreement("concat axis \(axis) \(dtype)") { try Tensor.concat([a, b, c], axis: axis) }
        }
        try expectAgreement("concat with empty \(dtype)") { try Tensor.concat([a, empty, c], axis: 2) }
        try expectAgreement("stack \(dtype)") { try Tensor.stack([a, c], axis: 1) }
    }
}

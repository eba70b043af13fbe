@testable import DeepseekKernelsBLAS
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// Products accumulate many terms, so the absolute tolerance grows with the inner dimension.
func productTolerance(_ dtype: DType, k: Int) -> Tolerance {
    var t = Tolerance.for(dtype)
    if dtype == .float32 { t.absolute = 1e-6 * Double(max(k, 1)) }
    return t
}

@Suite struct MatmulContractTests {
    static let cases: [(String, Shape, Shape)] = [
        ("small", [2, 3], [3, 4]),
        ("odd sizes", [37, 53], [53, 29]),
        ("batched", [2, 3, 5, 7], [2, 3, 7, 4]),
        ("broadcast right", [4, 5, 6], [6, 3]),
        ("broadcast left", [5, 6], [3, 6, 2]),
        ("broadcast both", [2, 1, 4, 3], [1, 3, 3, 5]),
        ("vector times matrix", [6], [6, 4]),
        ("matrix times vector", [4, 6], [6]),
        ("dot", [9], [9]),
        ("empty inner", [3, 0], [0, 4]),
        ("empty rows", [0, 5], [5, 2]),
        ("row vector batch", [3, 1, 8], [3, 8, 1]),
    ]

    @Test(arguments: [DType.float32, .float64, .float16, .bfloat16, .int32])
    func matmulMatchesReference(dtype: DType) throws {
        for backend in [Backends.cpu, Backends.portable] {
            for (name, sa, sb) in Self.cases {
                let a = try Inputs.values(sa, dtype, seed: 1)
                let b = try Inputs.values(sb, dtype, seed: 2)
                let k = sa.dims.last ?? 1
                expectAgreement("\(name) \(dtype) gemm \(backend.usesOpenBLAS ? "blas" : "portable")", on: backend,
                                tolerance: productTolerance(dtype, k: k)) { try a.matmul(b) }
            }
        }
    }

    @Test func matmulReadsEveryOperandLayout() throws {
        let layoutsA = try Inputs.layouts([13, 11], seed: 1)
        let layoutsB = try Inputs.layouts([11, 17], seed: 2)
        for backend in [Backends.cpu, Backends.portable] {
            for (la, a) in layoutsA {
                for (lb, b) in layoutsB {
                    expectAgreement("\(la) × \(lb)", on: backend, tolerance: productTolerance(.float32, k: 11)) { try a.matmul(b) }
                }
            }
        }
        // A batched transposed view, a stride-0 matrix axis, and a broadcast batch of a view.
        let at = try Inputs.values([3, 7, 5]).transposed()
        let bt = try Inputs.values([3, 6, 7], seed: 3).transposed()
        expectAgreement("batched transposed") { try at.matmul(bt) }
        let rows = try Inputs.values([1, 7]).expanded(to: [4, 7])
        let b = try Inputs.values([7, 3], seed: 4)
        expectAgreement("broadcast rows in a matrix") { try rows.matmul(b) }
        let x = try Inputs.values([2, 4, 6], seed: 5).sliced(axis: 2, step: 2)
        let w = try Inputs.values([5, 3], seed: 6).transposed()
        expectAgreement("linear layer on a view") { try x.matmul(w) }
    }

    @Test func bigBatchedLinearLayerMatchesReference() throws {
        let x = try Inputs.values([4, 33, 65], seed: 1)
        let w = try Inputs.values([65, 47], seed: 2)
        expectAgreement("[4, 33, 65] × [65, 47]", tolerance: productTolerance(.float32, k: 65)) { try x.matmul(w) }
        expectAgreement("[4, 33, 65] × transposed", tolerance: productTolerance(.float32, k: 65)) {
            try x.matmul(Inputs.values([47, 65], seed: 3).transposed())
        }
    }

    @Test func layoutRuleAcceptsExactlyWhatBLASCanRead() {
        #expect(BLASMatrixLayoutProbe.of(rows: 4, cols: 5, rowStride: 5, colStride: 1) == "N5")
        #expect(BLASMatrixLayoutProbe.of(rows: 4, cols: 5, rowStride: 8, colStride: 1) == "N8")
        #expect(BLASMatrixLayoutProbe.of(rows: 4, cols: 5, rowStride: 1, colStride: 4) == "T4")
        #expect(BLASMatrixLayoutProbe.of(rows: 1, cols: 5, rowStride: 0, colStride: 1) == "N5")
        #expect(BLASMatrixLayoutProbe.of(rows: 4, cols: 1, rowStride: 3, colStride: 0) == "N3")
        #expect(BLASMatrixLayoutProbe.of(rows: 4, cols: 5, rowStride: 0, colStride: 1) == nil)
        #expect(BLASMatrixLayoutProbe.of(rows: 4, cols: 5, rowStride: 10, colStride: 2) == nil)
        #expect(BLASMatrixLayoutProbe.of(rows: 4, cols: 5, rowStride: -5, colStride: 1) == nil)
        #expect(BLASMatrixLayoutProbe.of(rows: 4, cols: 5, rowStride: 1, colStride: 3) == nil)
    }
}

@Suite struct ConvolutionContractTests {
    static let cases: [(String, Shape, Shape, Conv2dParameters)] = [
        ("3×3 pad 1", [2, 3, 9, 8], [4, 3, 3, 3], .init(padding: 1)),
        ("stride 2", [2, 3, 11, 10], [5, 3, 3, 3], .init(stride: 2, padding: 1)),
        ("dilation 2", [1, 2, 12, 11], [3, 2, 3, 3], .init(padding: 2, dilation: 2)),
        ("groups 2", [2, 4, 7, 7], [6, 2, 3, 3], .init(padding: 1, groups: 2)),
        ("depthwise", [2, 3, 6, 6], [3, 1, 3, 3], .init(padding: 1, groups: 3)),
        ("1×1", [2, 5, 4, 6], [7, 5, 1, 1], .init()),
        ("1×1 stride 2", [2, 5, 5, 6], [7, 5, 1, 1], .init(stride: 2)),
        ("asymmetric", [1, 2, 7, 9], [3, 2, 2, 4],
         .init(stride: (2, 3), padding: (top: 0, left: 3, bottom: 2, right: 1), dilation: (1, 2), groups: 1)),
        ("kernel as big as input", [2, 2, 5, 5], [3, 2, 5, 5], .init()),
        ("large padding", [1, 1, 2, 2], [2, 1, 3, 3], .init(padding: 3)),
    ]

    @Test(arguments: [DType.float32, .float64, .float16, .bfloat16])
    func conv2dMatchesReference(dtype: DType) throws {
        for backend in [Backends.cpu, Backends.portable] {
            for (name, sx, sw, p) in Self.cases {
                let x = try Inputs.values(sx, dtype, seed: 1)
                let w = try Inputs.values(sw, dtype, seed: 2)
                let b = try Inputs.values([sw[0]], dtype, seed: 3)
                let k = sw[1] * sw[2] * sw[3]
                expectAgreement("\(name) \(dtype)", on: backend, tolerance: productTolerance(dtype, k: k)) {
                    try x.conv2d(w, bias: b, parameters: p)
                }
                expectAgreement("\(name) \(dtype) no bias", on: backend, tolerance: productTolerance(dtype, k: k)) {
                    try x.conv2d(w, parameters: p)
                }
            }
        }
    }

    @Test func conv2dTakesViewsAndIntegerFallsBack() throws {
        let x = try Inputs.values([2, 8, 8, 3]).permuted([0, 3, 1, 2])  // NHWC storage read as NCHW
        let w = try Inputs.values([4, 3, 3, 3], seed: 2)
        expectAgreement("permuted input", tolerance: productTolerance(.float32, k: 27)) { try x.conv2d(w, parameters: .init(padding: 1)) }
        let batch = try Inputs.values([5, 3, 6, 6])
        expectAgreement("odd batch", tolerance: productTolerance(.float32, k: 27)) { try batch.conv2d(w, parameters: .init(padding: 1)) }
    }
}

/// Exposes the internal BLAS layout rule in a compact, comparable form.
enum BLASMatrixLayoutProbe {
    static func of(rows: Int, cols: Int, rowStride: Int, colStride: Int) -> String? {
        BLASMatrixLayout.of(rows: rows, cols: cols, rowStride: rowStride, colStride: colStride)
            .map { ($0.transposed ? "T" : "N") + "\($0.leadingDimension)" }
    }
}

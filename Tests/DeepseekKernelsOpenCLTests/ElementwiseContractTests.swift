import DeepseekKernelsOpenCL
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// Every element-wise primitive of the OpenCL backend against the reference backend.
@Suite(.enabled(if: OpenCLBackend.isAvailable))
struct ElementwiseContractTests {
    static let unaryOps: [UnaryOp] = [
        .neg, .abs, .exp, .log, .sqrt, .rsqrt, .reciprocal, .square, .tanh, .sigmoid, .relu, .silu, .softplus, .erf,
        .geluExact, .geluTanh, .leakyRelu(alpha: 0.1), .elu(alpha: 0.7), .floor, .ceil, .round, .sign, .sin, .cos,
    ]
    static let floatTypes: [DType] = [.float32, .float64, .float16, .bfloat16]

    @Test(arguments: floatTypes)
    func unaryOpsAgreeOnSpecialValues(dtype: DType) throws {
        let x = try Inputs.specials(40, dtype)
        for op in Self.unaryOps {
            try expectAgreement("\(op) \(dtype) specials") { try x.unary(op) }
        }
    }

    @Test func unaryOpsAgreeOnStridedLayouts() throws {
        for (layout, x) in try Inputs.layouts([5, 7]) {
            for op in Self.unaryOps {
                try expectAgreement("\(op) \(layout)") { try x.unary(op) }
            }
        }
    }

    @Test func integerAndBoolUnaryOpsAreDelegated() throws {
        let i = try Inputs.values([3, 4], .int32)
        for op: UnaryOp in [.neg, .abs, .relu, .sign, .square] {
            try expectAgreement("\(op) int32") { try i.unary(op) }
        }
        let b = try Inputs.values([9], .bool)
        try expectAgreement("logicalNot") { try b.logicalNot() }
    }

    @Test(arguments: floatTypes)
    func binaryOpsAgreeOnSpecialValues(dtype: DType) throws {
        let a = try Inputs.specials(36, dtype).reshaped([6, 6])
        let b = try Inputs.specials(36, dtype, seed: 3).reshaped([6, 6]).transposed()
        for op in BinaryOp.allCases where ![.logicalAnd, .logicalOr, .logicalXor].contains(op) {
            try expectAgreement("\(op) \(dtype)") { try a.binary(op, b) }
        }
    }

    @Test func binaryOpsAgreeWithBroadcastOperands() throws {
        let a = try Inputs.values([3, 1, 5])
        let b = try Inputs.values([4, 1], seed: 2)
        let row = try Inputs.values([5], seed: 3)
        let scalar = try Inputs.values([], seed: 4)
        let wide = try Inputs.values([2, 3, 4, 5, 3, 2, 2], seed: 5).permuted([6, 5, 4, 3, 2, 1, 0])
        for op in BinaryOp.allCases where ![.logicalAnd, .logicalOr, .logicalXor].contains(op) {
            try expectAgreement("\(op) [3,1,5]·[4,1]") { try a.binary(op, b) }
            try expectAgreement("\(op) [3,1,5]·[5]") { try a.binary(op, row) }
            try expectAgreement("\(op) scalar") { try scalar.binary(op, a) }
            try expectAgreement("\(op) rank 7 permuted") { try wide.binary(op, scalar) }
        }
    }

    @Test func integerAndLogicalBinaryOpsAreDelegated() throws {
        let a = try Inputs.values([4, 5], .int64)
        let b = try Inputs.values([4, 5], .int64, seed: 2).abs() + 1
        for op: BinaryOp in [.add, .sub, .mul, .div, .mod, .pow, .maximum, .less, .equal] {
            try expectAgreement("\(op) int64") { try a.binary(op, b) }
        }
        let p = try Inputs.values([7], .bool)
        let q = try Inputs.values([7], .bool, seed: 2)
        for op: BinaryOp in [.logicalAnd, .logicalOr, .logicalXor, .equal] {
            try expectAgreement("\(op) bool") { try p.binary(op, q) }
        }
    }

    @Test(arguments: [DType.float32, .float64, .float16, .int64, .int8, .bool])
    func selectAgreesWithBroadcasting(dtype: DType) throws {
        let condition = try Inputs.values([4, 1, 6], .bool)
        let a = try Inputs.values([5, 1], dtype, seed: 2)
        let b = try Inputs.values([4, 5, 6], dtype, seed: 3).sliced(axis: 2, step: -1)
        try expectAgreement("where \(dtype)") { try condition.where(a, b) }
    }

    @Test func castsBetweenFloatFormatsRoundLikeTheReference() throws {
        for from in Self.floatTypes {
            let x = try Inputs.specials(64, from).reshaped([8, 8]).transposed()
            for to in Self.floatTypes where to != from {
                try expectAgreement("cast \(from)→\(to)", tolerance: Tolerance(absolute: 0, relative: 0)) { try x.cast(to: to) }
            }
        }
        // Ties and overflow: 1 + 2^-11 is halfway between float16 neighbours; 70000 overflows it.
        let ties = Tensor([1 + 1.0 / 2048, 1 + 3.0 / 2048, 70000, -70000, 1 + 1.0 / 256, 65519.99] as [Float])
        for to: DType in [.float16, .bfloat16] {
            try expectAgreement("ties → \(to)", tolerance: Tolerance(absolute: 0, relative: 0)) { try ties.cast(to: to) }
        }
    }

    @Test func castsInvolvingIntegersAndBoolAreDelegated() throws {
        let x = try Inputs.specials(20, .float32)
        for to: DType in [.int8, .int32, .int64, .bool] {
            try expectAgreement("cast float32→\(to)") { try x.cast(to: to) }
        }
        let i = try Inputs.values([10], .int32)
        try expectAgreement("cast int32→float16") { try i.cast(to: .float16) }
    }

    @Test(arguments: [DType.float32, .float64, .float16, .int8, .int64, .bool])
    func copiesOfStridedViewsAreDense(dtype: DType) throws {
        let backend = try Shared.backend()
        for (layout, x) in try Inputs.layouts([3, 4, 5], dtype) {
            let y = try backend.copy(x)
            #expect(y.isContiguous && y.offset == 0)
            try expectAgreement("copy \(layout) \(dtype)") { try KernelBackends.current.copy(x) }
        }
        // Seven axes that do not collapse exceed the kernels' six and take the dense path.
        let wide = try Inputs.values([2, 3, 2, 3, 2, 3, 2], dtype).permuted([6, 4, 2, 0, 1, 3, 5])
        try expectAgreement("copy rank 7 \(dtype)") { try KernelBackends.current.copy(wide) }
    }

    @Test func metaTensorsAreRefusedLikeTheReference() throws {
        let meta = Tensor.meta([4, 4])
        let real = try Inputs.values([4, 4])
        try expectAgreement("unary meta") { try meta.exp() }
        try expectAgreement("binary meta") { try real + meta }
        try expectAgreement("matmul meta") { try real.matmul(meta) }
        try expectAgreement("conv meta weight") { try real.reshaped([1, 1, 4, 4]).conv2d(Tensor.meta([1, 1, 2, 2])) }
        try expectAgreement("reduce meta") { try meta.sum(axes: [1]) }
    }

    @Test func emptyTensorsGiveEmptyResults() throws {
        let e = try Tensor.zeros([0, 3])
        try expectAgreement("unary empty") { try e.exp() }
        try expectAgreement("binary empty") { try e + Tensor.ones([1, 3]) }
        try expectAgreement("compare empty") { try e.less(Tensor.ones([3])) }
        try expectAgreement("cast empty") { try e.cast(to: .float16) }
        try expectAgreement("copy empty") { try e.transposed().contiguous() }
    }
}

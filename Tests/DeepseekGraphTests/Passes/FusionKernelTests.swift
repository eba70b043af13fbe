import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// The fused kernels evaluated directly, against the same program run op by op on the
/// `ReferenceBackend`.
@Suite struct FusionKernelTests {
    typealias Program = ElementwiseProgram

    /// Runs `op` and the op-by-op reference on the same inputs and compares them.
    func expectAgrees(
        _ op: FusedElementwise, _ inputs: [Tensor], tolerance: Tolerance = Tolerance(absolute: 1e-5, relative: 1e-5),
        sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) throws {
        let expected = try KernelBackends.using(ReferenceBackend()) { try op.program.evaluateStepwise(inputs) }
        let actual = try op.evaluate(inputs)[0]
        expectClose(actual, expected, tolerance: tolerance, op.label, sourceLocation: sourceLocation)
    }

    /// `relu(a · b + c) − 0.5` over three operands.
    var affineRelu: FusedElementwise {
        FusedElementwise(
            program: Program(
                inputTypes: [.float32, .float32, .float32], constants: [Tensor(scalar: Float(0.5))],
                instructions: [
                    .init(.binary(.mul, .input(0), .input(1)), dtype: .float32),
                    .init(.binary(.add, .register(0), .input(2)), dtype: .float32),
                    .init(.unary(.relu, .register(1)), dtype: .float32),
                    .init(.binary(.sub, .register(2), .constant(0)), dtype: .float32),
                ]))
    }

    @Test func stridedAndBroadcastOperandsAgree() throws {
        let op = affineRelu
        #expect(op.usesFloatKernel)
        let matrix = try Tensor.testValues([7, 9], seed: 1)
        let transposed = try Tensor.testValues([9, 7], seed: 2).transposed()  // strided view
        let column = try Tensor.testValues([7, 1], seed: 3)  // broadcast along columns
        let row = try Tensor.testValues([9], seed: 4)  // broadcast along rows
        let stepped = try Tensor.testValues([7, 18], seed: 5).sliced(axis: 1, step: 2)  // stride 2
        let scalar = Tensor(scalar: Float(1.5))
        for inputs in [
            [matrix, transposed, row], [column, row, matrix], [stepped, scalar, column], [scalar, scalar, matrix], [row, column, scalar],
        ] {
            try expectAgrees(op, inputs)
        }
    }

    @Test func largeOutputsSplitOverThreadsAndTilesCrossRows() throws {
        // 301 × 1001 elements: more than one worker's share, and rows that do not align with tiles.
        let x = try Tensor.testValues([301, 1001], seed: 8)
        let scale = try Tensor.testValues([301, 1001], seed: 9)
        let bias = try Tensor.testValues([1001], seed: 10)
        try expectAgrees(affineRelu, [x, scale, bias])
        try expectAgrees(affineRelu, [x, scale, try Tensor.testValues([301, 1], seed: 11)])
    }

    @Test func emptyOutputsGiveEmptyTensors() throws {
        let empty = try Tensor.zeros([0, 4])
        let result = try affineRelu.evaluate([empty, empty, try Tensor.zeros([4])])[0]
        #expect(result.shape == [0, 4] && result.dtype == .float32)
    }

    static let unaryOps: [UnaryOp] = [
        .neg, .abs, .exp, .log, .sqrt, .rsqrt, .reciprocal, .square, .tanh, .sigmoid, .relu, .silu, .softplus, .erf, .geluExact,
        .geluTanh, .leakyRelu(alpha: 0.2), .elu(alpha: 0.7), .floor, .ceil, .round, .sign, .sin, .cos,
    ]

    @Test(arguments: unaryOps)
    func everyUnaryOpMatchesTheReference(_ unary: UnaryOp) throws {
        // Positive inputs for log/sqrt/rsqrt, and values around the softplus cut-off.
        let x = try Tensor([0.25, 0.5, 1, 1.5, 2.5, 3, 19.5, 21, 0.75, 2] as [Float], shape: [2, 5])
        let shift = Tensor([-1, 0, 1, -0.5, 0.5] as [Float])
        let op = FusedElementwise(
            program: Program(
                inputTypes: [.float32, .float32], constants: [],
                instructions: [
                    .init(.unary(unary, .input(0)), dtype: .float32),
                    .init(.binary(.mul, .register(0), .input(1)), dtype: .float32),
                ]))
        try expectAgrees(op, [x, shift], tolerance: Tolerance(absolute: 1e-6, relative: 1e-6))
    }

    @Test(arguments: BinaryOp.allCases)
    func everyBinaryOpMatchesTheReference(_ binary: BinaryOp) throws {
        let logical = [BinaryOp.logicalAnd, .logicalOr, .logicalXor].contains(binary)
        let type: DType = logical ? .bool : .float32
        let a = try Tensor.testValues([6, 5], dtype: type, seed: 21)
        let b = try logical ? Tensor.testValues([5], dtype: .bool, seed: 22) : Tensor.testValues([5], seed: 22).abs() + 0.5
        let result: DType = binary.isComparison ? .bool : .float32
        let op = FusedElementwise(
            program: Program(
                inputTypes: [type, type], constants: [],
                instructions: [.init(.binary(binary, .input(0), .input(1)), dtype: result)]))
        #expect(op.usesFloatKernel)
        try expectAgrees(op, [a, b], tolerance: Tolerance(absolute: 1e-6, relative: 1e-6))
    }

    @Test func integerConstantsMeetFloatOperationsAsTheFrontEndCasts() throws {
        let op = FusedElementwise(
            program: Program(
                inputTypes: [.float32], constants: [Tensor(scalar: Int64(3)), Tensor(scalar: Float(0))],
                instructions: [
                    .init(.binary(.pow, .input(0), .constant(0)), dtype: .float32),
                    .init(.binary(.less, .register(0), .constant(1)), dtype: .bool),
                    .init(.select(.register(1), .input(0), .register(0)), dtype: .float32),
                ]))
        #expect(op.usesFloatKernel)
        try expectAgrees(op, [try Tensor.testValues([4, 4], seed: 30)])
    }

    @Test func mismatchedInputsFallBackOrThrow() throws {
        let op = affineRelu
        // float64 inputs are not what the program was built for: op by op, same result.
        let x = try Tensor.testValues([3, 3], dtype: .float64, seed: 1)
        let expected = try op.program.evaluateStepwise([x, x, x])
        expectClose(try op.evaluate([x, x, x])[0], expected)
        #expect(throws: GraphError.self) { try op.evaluate([x]) }
        #expect(throws: TensorError.self) { try op.evaluate([try Tensor.zeros([2]), try Tensor.zeros([3]), try Tensor.zeros([2])]) }
    }

    @Test func fusedLinearAppliesBiasAndActivationInPlace() throws {
        let x = try Tensor.testValues([5, 7], seed: 1)
        let w = try Tensor.testValues([7, 300], seed: 2)
        let bias = try Tensor.testValues([300], seed: 3)
        for activation in [nil, UnaryOp.relu, .geluTanh] as [UnaryOp?] {
            let op = FusedLinear(hasBias: true, activation: activation)
            let actual = try op.evaluate([x, w, bias])[0]
            var expected = try KernelBackends.using(ReferenceBackend()) { try x.matmul(w) + bias }
            if let activation { expected = try KernelBackends.using(ReferenceBackend()) { try expected.unary(activation) } }
            expectClose(actual, expected, tolerance: Tolerance(absolute: 1e-5, relative: 1e-5), op.label)
        }
        let meta = try KernelBackends.using(MetaBackend()) { try FusedLinear(hasBias: true, activation: .relu).evaluate([.meta([5, 7]), .meta([7, 3]), .meta([3])]) }
        #expect(meta[0].isMeta && meta[0].shape == [5, 3])
    }
}

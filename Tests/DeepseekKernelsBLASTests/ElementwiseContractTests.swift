import DeepseekCore
import DeepseekKernelsBLAS
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct ElementwiseContractTests {
    static let unaryOps: [UnaryOp] = [
        .neg, .abs, .exp, .log, .sqrt, .rsqrt, .reciprocal, .square, .tanh, .sigmoid, .relu, .silu, .softplus, .erf,
        .geluExact, .geluTanh, .leakyRelu(alpha: 0.1), .elu(alpha: 1.5), .floor, .ceil, .round, .sign, .sin, .cos,
    ]

    @Test(arguments: unaryOps, [DType.float32, .float16, .bfloat16])
    func unaryMatchesReferenceOnEveryLayout(op: UnaryOp, dtype: DType) throws {
        for (layout, x) in try Inputs.layouts([5, 7], dtype) {
            expectAgreement("\(op) \(dtype) \(layout)") { try x.unary(op) }
        }
        let specials = try Inputs.specials(40, dtype)
        expectAgreement("\(op) \(dtype) special values") { try specials.unary(op) }
    }

    @Test(arguments: [UnaryOp.neg, .abs, .relu, .sign, .square])
    func integerUnaryOpsFollowTheReference(op: UnaryOp) throws {
        for dtype in [DType.int8, .int32, .int64] {
            let x = try Inputs.values([4, 6], dtype)
            expectAgreement("\(op) \(dtype)") { try x.unary(op) }
        }
        let b = try Inputs.values([9], .bool)
        expectAgreement("logicalNot") { try b.logicalNot() }
    }

    @Test(arguments: BinaryOp.allCases.filter { ![.logicalAnd, .logicalOr, .logicalXor].contains($0) })
    func binaryMatchesReferenceWithBroadcasting(op: BinaryOp) throws {
        let shapes: [(String, Shape, Shape)] = [
            ("same shape", [6, 9], [6, 9]),
            ("scalar right", [6, 9], []),
            ("scalar left", [], [6, 9]),
            ("row broadcast", [6, 9], [9]),
            ("column broadcast", [6, 9], [6, 1]),
            ("outer broadcast", [6, 1], [1, 9]),
            ("middle axis", [3, 1, 5], [3, 4, 5]),
            ("empty", [0, 4], [4]),
        ]
        for dtype in [DType.float32, .float16, .bfloat16, .float64, .int32] {
            for (name, sa, sb) in shapes {
                let a = try Inputs.values(sa, dtype, seed: 3)
                var b = try Inputs.values(sb, dtype, seed: 4)
                if op == .div || op == .mod, dtype == .int32 {
                    b = try KernelBackends.using(Backends.reference) { try b.abs() + 1 }  // no division by zero
                }
                expectAgreement("\(op) \(dtype) \(name)") { try a.binary(op, b) }
            }
        }
        // Non-contiguous operands on both sides.
        for ((la, a), (lb, b)) in zip(try Inputs.layouts([5, 8]), try Inputs.layouts([5, 8], seed: 9).reversed()) {
            expectAgreement("\(op) \(la) with \(lb)") { try a.binary(op, b) }
        }
        let s = try Inputs.specials(34)
        let t = try Inputs.specials(34, seed: 8).sliced(axis: 0, step: -1)
        expectAgreement("\(op) special values") { try s.binary(op, t) }
    }

    @Test func logicalOpsOnBoolTensors() throws {
        let a = try Inputs.values([4, 5], .bool, seed: 1)
        let b = try Inputs.values([5], .bool, seed: 2)
        expectAgreement("and") { try a.logicalAnd(b) }
        expectAgreement("or") { try a.logicalOr(b) }
        expectAgreement("xor") { try a.logicalXor(b) }
    }

    @Test(arguments: [DType.float32, .float16, .bfloat16, .float64, .int8, .int32, .int64, .bool])
    func selectPicksLikeTheReference(dtype: DType) throws {
        let c = try Inputs.values([4, 1, 6], .bool, seed: 5)
        let a = try Inputs.values([4, 3, 6], dtype, seed: 6)
        let b = try Inputs.values([6], dtype, seed: 7)
        expectAgreement("where \(dtype)") { try c.where(a, b) }
        let ct = try Inputs.values([6, 4], .bool, seed: 8).transposed()
        let at = try Inputs.values([4, 6], dtype, seed: 9)
        expectAgreement("where \(dtype) transposed condition") { try ct.where(at, at.neg()) }
    }

    @Test(arguments: DType.allCases)
    func castFollowsTheReferenceRulesExactly(from: DType) throws {
        let x: Tensor
        if from.isFloatingPoint {
            x = try Inputs.specials(48, from)
        } else {
            x = try Inputs.values([48], from)
        }
        let big = try Tensor([Int64.max, Int64.min, 1 << 53 + 1, -(1 << 40) - 3, 300, -129, 70_000], shape: [7])
        for to in DType.allCases {
            expectAgreement("cast \(from) → \(to)", tolerance: Tolerance(absolute: 0, relative: 0)) { try x.cast(to: to) }
            let strided = try x.sliced(axis: 0, step: -3)
            expectAgreement("cast \(from) → \(to) strided", tolerance: Tolerance(absolute: 0, relative: 0)) { try strided.cast(to: to) }
            if from == .int64 {
                expectAgreement("cast big int64 → \(to)", tolerance: Tolerance(absolute: 0, relative: 0)) { try big.cast(to: to) }
            }
        }
    }

    @Test(arguments: DType.allCases)
    func copyOfEveryLayoutIsDenseAndEqual(dtype: DType) throws {
        for (layout, x) in try Inputs.layouts([3, 4, 5], dtype) {
            let y = try Backends.cpu.copy(x)
            #expect(y.isContiguous && y.offset == 0 && y.storage !== x.storage)
            expectClose(y, try Backends.reference.copy(x), tolerance: Tolerance(absolute: 0, relative: 0), "copy \(dtype) \(layout)")
        }
        let broadcast = try Inputs.values([1, 5], dtype).expanded(to: [4, 5])
        expectClose(try Backends.cpu.copy(broadcast), try Backends.reference.copy(broadcast), "copy broadcast \(dtype)")
    }

    @Test func largeTensorsSplitOverThreadsGiveTheSameResult() throws {
        // Above the parallel threshold, with an odd size so the parts are uneven.
        let a = try Inputs.values([3, 200_003], seed: 1)
        let b = try Inputs.values([200_003], seed: 2)
        expectAgreement("add large") { try a + b }
        expectAgreement("relu large") { try a.relu() }
        expectAgreement("exp large") { try a.exp() }
        expectAgreement("sum large", tolerance: Tolerance(absolute: 1e-4, relative: 1e-5)) { try a.sum() }
        expectAgreement("max large") { try a.max(axes: [1]) }
        expectAgreement("sum axis 0 large") { try a.sum(axes: [0]) }
        expectAgreement("copy large transposed") { try a.transposed().contiguous() }
        expectAgreement("cast large") { try a.cast(to: .float16) }
        expectAgreement("add large, one thread", on: Backends.serial) { try a + b }
    }

    @Test func emptyTensorsGiveEmptyResults() throws {
        let e = try Tensor.zeros([0, 3])
        expectAgreement("relu empty") { try e.relu() }
        expectAgreement("add empty") { try e + e }
        expectAgreement("sum over empty axis") { try e.sum(axes: [0]) }
        expectAgreement("mean over empty axis") { try e.mean(axes: [0]) }
        expectAgreement("cast empty") { try e.cast(to: .int32) }
        expectAgreement("softmax empty") { try e.softmax(axis: 0) }
    }

    @Test func halfPrecisionConversionsAreBitExactWithSwift() throws {
        // Every float16 value round-trips through float32, and float32 → float16 rounds like Float16(_:).
        let all = (0...UInt16.max).map { $0 }
        var widened = [Float](repeating: 0, count: all.count)
        all.withUnsafeBufferPointer { src in
            widened.withUnsafeMutableBufferPointer { HalfPrecision.widen(src.baseAddress!, dtype: .float16, into: $0.baseAddress!, count: all.count) }
        }
        var narrowedBack = [UInt16](repeating: 0, count: all.count)
        widened.withUnsafeBufferPointer { src in
            narrowedBack.withUnsafeMutableBufferPointer { HalfPrecision.narrow(src.baseAddress!, dtype: .float16, into: $0.baseAddress!, count: all.count) }
        }
        for bits in all where !widened[Int(bits)].isNaN {
            #expect(widened[Int(bits)] == Float(Float16(bitPattern: bits)))
            #expect(narrowedBack[Int(bits)] == bits)
        }
        var rng = DeepseekCore.SeededRandom(seed: 11)
        let floats = (0..<100_003).map { _ in Float(bitPattern: UInt32(truncatingIfNeeded: rng.next())) }
        var half = [UInt16](repeating: 0, count: floats.count)
        var brain = [UInt16](repeating: 0, count: floats.count)
        floats.withUnsafeBufferPointer { src in
            half.withUnsafeMutableBufferPointer { HalfPrecision.narrow(src.baseAddress!, dtype: .float16, into: $0.baseAddress!, count: floats.count) }
            brain.withUnsafeMutableBufferPointer { HalfPrecision.narrow(src.baseAddress!, dtype: .bfloat16, into: $0.baseAddress!, count: floats.count) }
        }
        var mismatches = 0
        for (i, f) in floats.enumerated() where !f.isNaN {
            if half[i] != Float16(f).bitPattern || brain[i] != BFloat16(f).bitPattern { mismatches += 1 }
        }
        for (i, f) in floats.enumerated() where f.isNaN {
            if !Float16(bitPattern: half[i]).isNaN || !BFloat16(bitPattern: brain[i]).floatValue.isNaN { mismatches += 1 }
        }
        #expect(mismatches == 0)
        #expect(["avx512", "avx2+f16c", "portable"].contains(HalfPrecision.implementation))
    }
}

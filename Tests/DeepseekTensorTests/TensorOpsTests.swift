import DeepseekCore
import DeepseekTensor
import DeepseekTestSupport
import Foundation
import Testing

@Suite struct ElementwiseTests {
    @Test func binaryOpsBroadcast() throws {
        let a = try Tensor([Float(1), 2, 3], shape: [3, 1])
        let b = try Tensor([Float(10), 20], shape: [2])
        let s = try a + b
        #expect(s.shape == [3, 2])
        #expect(try s.scalars(as: Float.self) == [11, 21, 12, 22, 13, 23])
        #expect(try (a * 2).scalars(as: Float.self) == [2, 4, 6])
        #expect(try a.subtracted(from: 1).scalars(as: Float.self) == [0, -1, -2])
    }

    @Test func mixedDTypesPromote() throws {
        let i = try Tensor([Int32(1), 2], shape: [2])
        let f = try Tensor([Float(0.5), 0.5], shape: [2])
        let r = try i + f
        #expect(r.dtype == .float32)
        #expect(try r.scalars(as: Float.self) == [1.5, 2.5])
    }

    @Test func integerDivisionTruncatesAndModFollowsTheDivisorSign() throws {
        let a = try Tensor([Int64(7), -7, 7, -7], shape: [4])
        let b = try Tensor([Int64(2), 2, -2, -2], shape: [4])
        #expect(try (a / b).scalars(as: Int64.self) == [3, -3, -3, 3])
        #expect(try a.mod(b).scalars(as: Int64.self) == [1, 1, -1, -1])
        #expect(throws: TensorError.self) { try a / Tensor([Int64(0)]) }
    }

    @Test func comparisonsGiveBoolAndWhereSelects() throws {
        let a = try Tensor([Float(1), 5, 3], shape: [3])
        let c = try a.greater(Tensor(scalar: Float(2)))
        #expect(c.dtype == .bool)
        #expect(try c.scalars(as: Bool.self) == [false, true, true])
        let w = try c.where(a, Tensor(scalar: Float(-1)))
        #expect(try w.scalars(as: Float.self) == [-1, 5, 3])
        #expect(throws: TensorError.self) { try a.where(a, a) }
    }

    @Test func activationsMatchTheirDefinitions() throws {
        let x = try Tensor([Float(-2), -0.5, 0, 0.5, 2], shape: [5])
        let v = try x.scalarsAsDouble()
        func check(_ y: Tensor, _ f: (Double) -> Double, _ name: String) throws {
            let got = try y.scalarsAsDouble()
            for (g, e) in zip(got, v.map(f)) { #expect(Swift.abs(g - e) < 1e-6, "\(name)") }
        }
        try check(x.relu(), { Swift.max($0, 0) }, "relu")
        try check(x.sigmoid(), { 1 / (1 + Foundation.exp(-$0)) }, "sigmoid")
        try check(x.tanh(), { Foundation.tanh($0) }, "tanh")
        try check(x.silu(), { $0 / (1 + Foundation.exp(-$0)) }, "silu")
        try check(x.gelu(), { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) }, "gelu")
        try check(
            x.gelu(approximate: true), { 0.5 * $0 * (1 + Foundation.tanh(0.7978845608028654 * ($0 + 0.044715 * $0 * $0 * $0))) },
            "gelu tanh")
        try check(x.abs(), { Swift.abs($0) }, "abs")
        try check(x.clamp(min: -1, max: 1), { Swift.min(Swift.max($0, -1), 1) }, "clamp")
        try check(x.pow(2), { $0 * $0 }, "pow")
    }

    @Test func floatOnlyOpsRejectIntegersWithAHint() throws {
        let i = try Tensor([Int32(1)], shape: [1])
        do {
            _ = try i.exp()
            Issue.record("expected an error")
        } catch let error as TensorError {
            #expect(error.code == .dtypeMismatch)
            #expect(error.message.contains("cast"))
        }
    }

    @Test func maximumPropagatesNaN() throws {
        let a = try Tensor([Float.nan, 1], shape: [2])
        let b = try Tensor([Float(0), 2], shape: [2])
        let m = try a.maximum(b).scalars(as: Float.self)
        #expect(m[0].isNaN && m[1] == 2)
    }

    @Test func halfPrecisionComputesInFloat32AndRoundsOnce() throws {
        let a = try Tensor([Float(1), 2, 3], shape: [3]).cast(to: .float16)
        let b = try a * Tensor([Float(0.1), 0.1, 0.1], shape: [3]).cast(to: .float16)
        #expect(b.dtype == .float16)
        expectClose(try b.cast(to: .float32), try Tensor([Float(0.1), 0.2, 0.3], shape: [3]), tolerance: .for(.float16))
    }
}

@Suite struct ReductionTests {
    let x = try! Tensor((1...24).map(Float.init), shape: [2, 3, 4])

    @Test func sumOverAxesWithAndWithoutKeepDims() throws {
        #expect(try x.sum().item() == 300)
        let s = try x.sum(axes: [0, 2])
        #expect(s.shape == [3])
        #expect(try s.scalars(as: Float.self) == [68, 100, 132])
        #expect(try x.sum(axes: [1], keepDims: true).shape == [2, 1, 4])
    }

    @Test func meanMaxMinProd() throws {
        #expect(try x.mean().item() == 12.5)
        #expect(try x.max(axes: [-1]).scalars(as: Float.self) == [4, 8, 12, 16, 20, 24])
        #expect(try x.min(axes: [0, 1]).scalars(as: Float.self) == [1, 2, 3, 4])
        #expect(try Tensor([Float(2), 3, 4], shape: [3]).prod().item() == 24)
    }

    @Test func varianceMatchesTheDefinition() throws {
        let t = try Tensor([Float(1), 2, 3, 4], shape: [4])
        #expect(try t.variance().item() == 1.25)
        #expect(Swift.abs(try t.variance(correction: 1).item() - 5.0 / 3.0) < 1e-6)
    }

    @Test func argmaxBreaksTiesByFirstOrLastIndex() throws {
        let t = try Tensor([Float(1), 3, 3, 0, 5, 5], shape: [2, 3])
        #expect(try t.argmax(axis: 1).scalars(as: Int64.self) == [1, 1])
        #expect(try t.argmax(axis: 1, selectLastIndex: true).scalars(as: Int64.self) == [2, 2])
        #expect(try t.argmin(axis: 0, keepDims: true).shape == [1, 3])
    }

    @Test func reductionOverABadAxisNamesIt() {
        do {
            _ = try x.sum(axes: [3])
            Issue.record("expected an error")
        } catch let error as TensorError {
            #expect(error.code == .invalidAxis)
            #expect(error.message.contains("[2, 3, 4]"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}

@Suite struct LinearAlgebraTests {
    @Test func matmulOfSmallMatrices() throws {
        let a = try Tensor([Float(1), 2, 3, 4, 5, 6], shape: [2, 3])
        let b = try Tensor([Float(7), 8, 9, 10, 11, 12], shape: [3, 2])
        #expect(try a.matmul(b).scalars(as: Float.self) == [58, 64, 139, 154])
    }

    @Test func matmulPromotesVectorsAndBroadcastsBatches() throws {
        let a = try Tensor.testValues([5, 1, 2, 3], seed: 1)
        let b = try Tensor.testValues([4, 3, 6], seed: 2)
        #expect(try a.matmul(b).shape == [5, 4, 2, 6])
        let v = try Tensor.testValues([3], seed: 3)
        #expect(try v.matmul(b).shape == [4, 6])
        #expect(try b.transposed().matmul(v).shape == [4, 6])
        #expect(try v.matmul(v).shape == [])
    }

    @Test func matmulErrorNamesShapesAndTheRule() {
        do {
            _ = try Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5]))
            Issue.record("expected an error")
        } catch {
            let text = "\(error)"
            #expect(text.contains("[2, 3]") && text.contains("[4, 5]") && text.contains("3 ≠ 4"))
        }
    }

    @Test func matmulOfTransposedViewsEqualsMatmulOfCopies() throws {
        let a = try Tensor.testValues([4, 3], seed: 4)
        let b = try Tensor.testValues([5, 3], seed: 5)
        expectClose(try a.matmul(b.transposed()), try a.matmul(b.transposed().contiguous()))
    }
}

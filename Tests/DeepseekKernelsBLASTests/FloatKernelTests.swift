#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
@testable import DeepseekKernelsBLAS
import DeepseekCore
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// The float32 kernels that replaced per-element `Double` evaluation (erf and GELU, softmax
/// rows, layer-norm rows), checked beyond the contract tests' small inputs: accuracy over the
/// whole float32 range, long rows, huge values.
@Suite struct FloatKernelTests {
    /// Every 0.0005 from −12 to 12 and a few values either side.
    static let grid: [Float] = (-24_000...24_000).map { Float($0) * 0.0005 } + [-30, -14, -13, 13, 14, 30, 1e-20, -1e-20, 1e-38]

    /// `|actual − exact| ≤ 8 ulp` of the exact value wherever it is a normal float32, and within
    /// the smallest normal below that.
    static func expectWithinEightULPs(_ op: String, _ x: [Float], _ actual: [Float], _ exact: (Double) -> Double) {
        var worst = (ulps: 0.0, at: Float(0))
        for (v, a) in zip(x, actual) {
            let e = exact(Double(v))
            let error = Swift.abs(Double(a) - e)
            guard Swift.abs(e) >= Double(Float.leastNormalMagnitude) else {
                #expect(error <= Double(Float.leastNormalMagnitude), "\(op)(\(v)) = \(a), exact \(e)")
                continue
            }
            let ulps = error / Double(Float(Swift.abs(e)).ulp)
            if ulps > worst.ulps { worst = (ulps, v) }
        }
        #expect(worst.ulps <= 8, "\(op) is \(worst.ulps) ulp off at \(worst.at)")
    }

    @Test func geluIsWithinEightULPsOfTheExactValueEverywhere() throws {
        let x = try Tensor(Self.grid, shape: [Self.grid.count])
        let y = try Backends.cpu.unary(.geluExact, x).scalars(as: Float.self)
        // Through erfc, which does not cancel for negative x as 1 + erf(x/√2) does in Double.
        Self.expectWithinEightULPs("gelu", Self.grid, y) { 0.5 * $0 * erfc(-$0 / 2.0.squareRoot()) }
    }

    @Test func erfIsWithinEightULPsOfTheExactValueEverywhere() throws {
        let z = Self.grid.map { $0 / 2 }
        let y = try Backends.cpu.unary(.erf, try Tensor(z, shape: [z.count])).scalars(as: Float.self)
        Self.expectWithinEightULPs("erf", z, y) { erf($0) }
    }

    @Test func geluAndErfKeepTheReferenceRulesForSpecialValues() throws {
        let x = try Tensor([Float.nan, .infinity, -.infinity, 0, -0.0, 60, -60], shape: [7])
        let gelu = try Backends.cpu.unary(.geluExact, x).scalars(as: Float.self)
        #expect(gelu[0].isNaN && gelu[1] == .infinity && gelu[2].isNaN)
        #expect(gelu[3] == 0 && gelu[4] == 0 && gelu[4].sign == .minus && gelu[5] == 60 && gelu[6] == 0)
        let e = try Backends.cpu.unary(.erf, x).scalars(as: Float.self)
        #expect(e[0].isNaN && e[1] == 1 && e[2] == -1 && e[3] == 0 && e[4].sign == .minus && e[5] == 1 && e[6] == -1)
    }

    @Test(arguments: [[3, 128], [2, 5000], [1, 70_000]] as [Shape])
    func softmaxOfLongRowsMatchesReference(shape: Shape) throws {
        let x = try Inputs.values(shape, seed: 21) * 20
        expectAgreement("softmax \(shape)") { try x.softmax(axis: -1) }
        expectAgreement("logSoftmax \(shape)") { try x.logSoftmax(axis: -1) }
    }

    @Test func layerNormOfHugeValuesMatchesReference() throws {
        // Squares of 1e20 overflow float32: the variance falls back to Double.
        let x = try KernelBackends.using(Backends.reference) { try Inputs.values([4, 96], seed: 5) * 1e20 + 3e20 }
        expectAgreement("layerNorm of huge values") {
            let r = try x.layerNorm()
            return [r.output, r.mean, r.inverseStdDev]
        }
    }
}

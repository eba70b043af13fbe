import DeepseekNN
import DeepseekTensor
import Testing

@Suite struct GradientClippingTests {
    /// ‖(3, 0)‖² + ‖(4)‖² = 25: the global norm is 5 while neither tensor's own norm is.
    func gradients() throws -> [String: Tensor] {
        ["a": try Tensor([3, 0] as [Float], shape: [2]), "b": try Tensor([4] as [Float], shape: [1, 1])]
    }

    @Test func theNormIsTakenOverAllTensorsTogether() throws {
        let (_, norm) = try clipGradients(gradients(), maxNorm: .infinity)
        #expect(norm == 5)
    }

    @Test func gradientsUnderTheThresholdComeBackUnchanged() throws {
        let g = try gradients()
        let (clipped, norm) = try clipGradients(g, maxNorm: 10)
        #expect(norm == 5)
        for name in ["a", "b"] { #expect(try clipped[name]!.scalars(as: Float.self) == g[name]!.scalars(as: Float.self)) }
        #expect(clipped["b"]!.shape == [1, 1])
    }

    @Test func gradientsOverTheThresholdAreScaledByMaxNormOverNormPlusEpsilon() throws {
        let (clipped, norm) = try clipGradients(gradients(), maxNorm: 1)
        #expect(norm == 5)
        let scale = 1 / (5 + 1e-6)
        #expect(try clipped["a"]!.scalars(as: Float.self) == [Float(3 * scale), 0])
        #expect(try clipped["b"]!.scalars(as: Float.self) == [Float(4 * scale)])
        let (_, after) = try clipGradients(clipped, maxNorm: .infinity)
        #expect(after < 1 && after > 1 - 1e-6)
    }

    @Test func zeroGradientsHaveNormZeroAndStayZero() throws {
        let (clipped, norm) = try clipGradients(["w": try Tensor.zeros([2, 2])], maxNorm: 1)
        #expect(norm == 0)
        #expect(try clipped["w"]!.scalars(as: Float.self) == [0, 0, 0, 0])
        #expect(try clipGradients([:], maxNorm: 1).norm == 0)
    }

    @Test(arguments: [Float.nan, .infinity])
    func aNonFiniteNormIsReportedAndTheGradientsReturnedUnscaled(_ bad: Float) throws {
        var g = try gradients()
        g["c"] = try Tensor([1, bad] as [Float], shape: [2])
        let (clipped, norm) = try clipGradients(g, maxNorm: 1)
        #expect(!norm.isFinite)
        #expect(bad.isNaN ? norm.isNaN : norm == .infinity)
        #expect(try clipped["a"]!.scalars(as: Float.self) == [3, 0])
        let c = try clipped["c"]!.scalars(as: Float.self)
        #expect(c[0] == 1 && (bad.isNaN ? c[1].isNaN : c[1] == .infinity))
    }

    @Test func halfPrecisionGradientsAreSquaredWithoutOverflow() throws {
        // 300² overflows float16 (max 65504); the norm must still be 500.
        let g = try Tensor([300, 400] as [Float], shape: [2]).cast(to: .float16)
        let (clipped, norm) = try clipGradients(["h": g], maxNorm: 50)
        #expect(norm == 500)
        #expect(clipped["h"]!.dtype == .float16)
        #expect(try clipped["h"]!.scalars(as: Float.self).map { ($0 * 10).rounded() / 10 } == [30, 40])
    }

    @Test func badThresholdsAndIntegerGradientsThrow() throws {
        let g = try gradients()
        for bad in [0, -1, Double.nan] {
            let error = try #require(throws: NNError.self) { try clipGradients(g, maxNorm: bad) }
            #expect(error.code == .invalidArgument)
        }
        let error = try #require(throws: NNError.self) { try clipGradients(["i": Tensor([1, 2] as [Int64])], maxNorm: 1) }
        #expect(error.code == .dtypeMismatch)
    }
}

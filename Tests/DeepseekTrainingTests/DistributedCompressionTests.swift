import DeepseekCore
import DeepseekTraining
import Testing

@Suite struct DistributedCompressionTests {
    func gradient(_ rng: inout SeededRandom, _ n: Int) -> [Float] { (0..<n).map { _ in Float(rng.nextNormal()) } }

    @Test(arguments: [0.05, 0.01, 0.001]) func sentPlusResidualIsExactlyTheAccumulatedGradient(density: Double) throws {
        var rng = SeededRandom(seed: 3)
        var c = try TopKCompressor(count: 5000, .topK(density: density))
        for _ in 0..<5 {
            let g = gradient(&rng, 5000)
            let accumulated = zip(c.residual, g).map { $0 + $1 }
            let sparse = c.compress(g)
            #expect(sparse.indices.count == max(1, Int((5000 * density).rounded())))
            var rebuilt = c.residual
            sparse.add(into: &rebuilt)
            #expect(bits(rebuilt) == bits(accumulated))
            // The kept entries are the largest of the accumulated vector.
            let smallestSent = sparse.values.map(abs).min()!
            #expect(c.residual.allSatisfy { abs($0) <= smallestSent })
        }
    }

    @Test func halfPrecisionRoundingErrorStaysInTheResidual() throws {
        var rng = SeededRandom(seed: 4)
        var c = try TopKCompressor(count: 1000, .topK(density: 0.05))
        let g = gradient(&rng, 1000).map { $0 * 1.2345 }
        let sparse = c.compress(g, precision: .fp16)
        var rebuilt = c.residual
        sparse.add(into: &rebuilt)
        #expect(bits(rebuilt) == bits(g))
        #expect(sparse.values.allSatisfy { WirePrecision.fp16.round($0) == $0 })
    }

    @Test func momentumCorrectionAccumulatesVelocityAndMasksWhatWasSent() throws {
        var rng = SeededRandom(seed: 5)
        var c = try TopKCompressor(count: 200, .topK(density: 0.1, momentumCorrection: 0.9))
        for _ in 0..<4 {
            let g = gradient(&rng, 200)
            let u = zip(c.velocity, g).map { Float(0.9) * $0 + $1 }
            let accumulated = zip(c.residual, u).map { $0 + $1 }
            let sparse = c.compress(g)
            var rebuilt = c.residual
            sparse.add(into: &rebuilt)
            #expect(bits(rebuilt) == bits(accumulated))
            for i in sparse.indices { #expect(c.velocity[Int(i)] == 0) }
        }
    }

    @Test func withoutErrorFeedbackTheUnsentPartIsDropped() throws {
        var c = try TopKCompressor(count: 4, .topK(density: 0.25, errorFeedback: false))
        let first = c.compress([1, -5, 2, 0.5])
        #expect(first.indices == [1] && first.values == [-5])
        #expect(c.residual == [0, 0, 0, 0])
        let second = c.compress([1, 0, 0, 0])
        #expect(second.indices == [0] && second.values == [1])
    }

    @Test func densityWarmsUpExponentiallyToItsTarget() throws {
        let c = try TopKCompressor(count: 100_000, .topK(density: 0.001, warmUpSteps: 4, initialDensity: 0.25))
        #expect(c.density(atStep: 0) == 0.25)
        #expect(abs(c.density(atStep: 2) - (0.25 * 0.001).squareRoot()) < 1e-12)
        #expect(c.density(atStep: 4) == 0.001 && c.density(atStep: 100) == 0.001)
        #expect((1..<5).allSatisfy { c.density(atStep: $0) < c.density(atStep: $0 - 1) })
        #expect(c.k(atStep: 4) == 100)
    }

    @Test func tiesGoToTheLowerIndexSoEveryRankSelectsAlike() throws {
        var c = try TopKCompressor(count: 6, .topK(density: 0.5))
        let s = c.compress([1, -3, 3, 1, -3, 2])
        #expect(s.indices == [1, 2, 4])
    }

    @Test func onePercentSparseGradientsAreOverTwentyTimesSmallerOnTheWire() throws {
        var rng = SeededRandom(seed: 6)
        let n = 61_706  // LeNet-5's parameter count
        var c = try TopKCompressor(count: n, .topK(density: 0.01))
        let sparse = c.compress(gradient(&rng, n))
        let dense = 4 * n
        #expect(sparse.wireByteCount == sparse.wireBytes.count)
        #expect(dense / sparse.wireByteCount >= 20, "dense \(dense) B, sparse \(sparse.wireByteCount) B")
    }

    @Test func invalidSettingsAreRefused() {
        #expect(throws: CollectiveError.self) { try TopKCompressor(count: 10, .topK(density: 0)) }
        #expect(throws: CollectiveError.self) { try TopKCompressor(count: 10, .topK(density: 1.5)) }
        #expect(throws: CollectiveError.self) { try TopKCompressor(count: 10, .none) }
    }
}

import DeepseekNN
import Foundation
import Testing

@Suite struct LearningRateScheduleTests {
    func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-12 * max(1, abs(b)) }

    @Test func constantIsTheSameEverywhere() throws {
        let s = try ConstantSchedule(base: 0.1)
        #expect([-1, 0, 1, 1_000_000].map(s.learningRate(atStep:)) == [0.1, 0.1, 0.1, 0.1])
    }

    @Test func cosineGoesFromBaseThroughTheMidpointToTheFloorAndStays() throws {
        let s = try CosineDecay(base: 1.0, totalSteps: 100, floor: 0.1)
        #expect(s.learningRate(atStep: 0) == 1.0)
        #expect(close(s.learningRate(atStep: 50), 0.55))
        #expect(close(s.learningRate(atStep: 25), 0.1 + 0.9 * (1 + cos(Double.pi / 4)) / 2))
        #expect(s.learningRate(atStep: 100) == 0.1)
        #expect(s.learningRate(atStep: 250) == 0.1)
        #expect(s.learningRate(atStep: -5) == 1.0)
        // Monotonically non-increasing.
        let rates = (0...100).map(s.learningRate(atStep:))
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $0 >= $1 })
    }

    @Test func stepDecayMultipliesByGammaEveryStepSizeSteps() throws {
        let s = try StepDecay(base: 0.1, stepSize: 10, gamma: 0.5)
        #expect(s.learningRate(atStep: 0) == 0.1)
        #expect(s.learningRate(atStep: 9) == 0.1)
        #expect(s.learningRate(atStep: 10) == 0.05)
        #expect(s.learningRate(atStep: 25) == 0.025)
        #expect(close(s.learningRate(atStep: 100), 0.1 / 1024))
    }

    @Test func warmupRampsLinearlyToTheWrappedScheduleThenHandsOver() throws {
        let cosine = try CosineDecay(base: 1e-3, totalSteps: 900, floor: 1e-4)
        let s = try LinearWarmup(steps: 100, then: cosine)
        #expect(s.learningRate(atStep: 0) == 0)
        #expect(close(s.learningRate(atStep: 50), 5e-4))
        #expect(close(s.learningRate(atStep: 99), 9.9e-4))
        // End of warm-up: the cosine's step 0.
        #expect(s.learningRate(atStep: 100) == 1e-3)
        // Middle of the cosine: its step 450.
        #expect(close(s.learningRate(atStep: 550), (1e-3 + 1e-4) / 2))
        #expect(s.learningRate(atStep: 1000) == 1e-4)
        #expect(s.learningRate(atStep: 5000) == 1e-4)
    }

    @Test func warmupFromAStartFactorBeginsAtThatFraction() throws {
        let s = try LinearWarmup(steps: 4, startFactor: 0.2, then: ConstantSchedule(base: 1))
        #expect([0, 1, 2, 3, 4, 9].map(s.learningRate(atStep:)).map { ($0 * 1e9).rounded() / 1e9 } == [0.2, 0.4, 0.6, 0.8, 1, 1])
        let none = try LinearWarmup(steps: 0, then: ConstantSchedule(base: 0.3))
        #expect(none.learningRate(atStep: 0) == 0.3)
    }

    @Test func sequentialRestartsEachScheduleAtItsBoundary() throws {
        let s = try SequentialSchedule(
            [ConstantSchedule(base: 0.5), StepDecay(base: 0.1, stepSize: 10, gamma: 0.1), CosineDecay(base: 0.01, totalSteps: 10)],
            boundaries: [5, 25])
        #expect(s.learningRate(atStep: 0) == 0.5)
        #expect(s.learningRate(atStep: 4) == 0.5)
        #expect(s.learningRate(atStep: 5) == 0.1)  // the step decay's step 0
        #expect(close(s.learningRate(atStep: 15), 0.01))  // its step 10
        #expect(s.learningRate(atStep: 25) == 0.01)  // the cosine's step 0
        #expect(s.learningRate(atStep: 35) == 0)
        #expect(s.learningRate(atStep: 99) == 0)
        let single = try SequentialSchedule([ConstantSchedule(base: 2)], boundaries: [])
        #expect(single.learningRate(atStep: 7) == 2)
    }

    @Test func warmupCanWrapASequenceAndASequenceCanHoldAWarmup() throws {
        let inner = try SequentialSchedule([ConstantSchedule(base: 1), ConstantSchedule(base: 0.5)], boundaries: [10])
        let warm = try LinearWarmup(steps: 10, then: inner)
        #expect(warm.learningRate(atStep: 5) == 0.5)
        #expect(warm.learningRate(atStep: 10) == 1)
        #expect(warm.learningRate(atStep: 20) == 0.5)
        let outer = try SequentialSchedule([warm, ConstantSchedule(base: 0.1)], boundaries: [30])
        #expect(outer.learningRate(atStep: 29) == 0.5)
        #expect(outer.learningRate(atStep: 30) == 0.1)
    }

    @Test func aScheduleDrivesAnOptimizersRate() throws {
        let s = try LinearWarmup(steps: 2, startFactor: 0.5, then: StepDecay(base: 0.2, stepSize: 1, gamma: 0.5))
        var sgd = try SGD(learningRate: 1)
        var rates: [Double] = []
        for step in 0..<4 {
            sgd.learningRate = s.learningRate(atStep: step)
            rates.append(sgd.learningRate)
        }
        #expect(zip(rates, [0.1, 0.15, 0.2, 0.1]).allSatisfy { close($0, $1) }, "\(rates)")
    }

    @Test func badArgumentsThrow() {
        #expect(throws: NNError.self) { try ConstantSchedule(base: -1) }
        #expect(throws: NNError.self) { try ConstantSchedule(base: .nan) }
        #expect(throws: NNError.self) { try CosineDecay(base: 1, totalSteps: 0) }
        #expect(throws: NNError.self) { try CosineDecay(base: 1, totalSteps: 10, floor: 2) }
        #expect(throws: NNError.self) { try CosineDecay(base: 1, totalSteps: 10, floor: -0.1) }
        #expect(throws: NNError.self) { try StepDecay(base: 1, stepSize: 0, gamma: 0.5) }
        #expect(throws: NNError.self) { try StepDecay(base: 1, stepSize: 1, gamma: 0) }
        #expect(throws: NNError.self) { try StepDecay(base: 1, stepSize: 1, gamma: .infinity) }
        #expect(throws: NNError.self) { try LinearWarmup(steps: -1, then: ConstantSchedule(base: 1)) }
        #expect(throws: NNError.self) { try LinearWarmup(steps: 1, startFactor: 1.5, then: ConstantSchedule(base: 1)) }
        #expect(throws: NNError.self) { try SequentialSchedule([], boundaries: []) }
        #expect(throws: NNError.self) { try SequentialSchedule([ConstantSchedule(base: 1)], boundaries: [3]) }
        #expect(throws: NNError.self) {
            try SequentialSchedule([ConstantSchedule(base: 1), ConstantSchedule(base: 2), ConstantSchedule(base: 3)], boundaries: [5, 5])
        }
        #expect(throws: NNError.self) { try SequentialSchedule([ConstantSchedule(base: 1), ConstantSchedule(base: 2)], boundaries: [0]) }
    }
}

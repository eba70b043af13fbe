import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct AdamFamilyTests {
    typealias Reference = OptimizerReference

    static func make(_ rule: Reference.Rule, _ s: Reference.Settings) throws -> any Optimizer {
        switch rule {
        case .adam: try Adam(learningRate: s.learningRate, beta1: s.beta1, beta2: s.beta2, epsilon: s.epsilon, weightDecay: s.weightDecay)
        case .adamW: try AdamW(learningRate: s.learningRate, beta1: s.beta1, beta2: s.beta2, epsilon: s.epsilon, weightDecay: s.weightDecay)
        case .lamb: try LAMB(learningRate: s.learningRate, beta1: s.beta1, beta2: s.beta2, epsilon: s.epsilon, weightDecay: s.weightDecay)
        }
    }

    /// The moments of `optimizer` by parameter name.
    static func moments(_ optimizer: any Optimizer) -> (m: [String: Tensor], v: [String: Tensor]) {
        let state = optimizer.state
        var m: [String: Tensor] = [:]
        var v: [String: Tensor] = [:]
        for (key, value) in state.tensors {
            if key.hasPrefix("m.") { m[String(key.dropFirst(2))] = value }
            if key.hasPrefix("v.") { v[String(key.dropFirst(2))] = value }
        }
        return (m, v)
    }

    @Test(arguments: [Reference.Rule.adam, .adamW, .lamb], [DType.float32, .float64])
    func threeStepsMatchTheReferenceFormulas(_ rule: Reference.Rule, _ dtype: DType) throws {
        let settings = Reference.Settings()
        var optimizer = try Self.make(rule, settings)
        let parameters = try Reference.parameters(dtype)
        for i in 0..<3 { try optimizer.step(parameters, gradients: Reference.gradients(i, dtype)) }

        let expected = Reference.run(
            rule, settings, start: Reference.rounded(Reference.start, dtype),
            gradients: Reference.gradients.map { Reference.rounded($0, dtype) })
        // float32 tensors round every operation; 1e-6 relative leaves room for a handful of ulps.
        let relative = dtype == .float32 ? 1e-6 : 1e-12
        let (m, v) = Self.moments(optimizer)
        for p in parameters {
            let e = expected[p.name]!
            #expect(p.value.dtype == dtype)
            expectClose(p.value, try Reference.tensor(e.p, p.value.shape, dtype), tolerance: Tolerance(absolute: 0, relative: relative), "\(rule) \(p.name)")
            // Moments are compared relative to their largest element (some entries are near 0).
            let mScale = e.m.map(Swift.abs).max()!
            let vScale = e.v.map(Swift.abs).max()!
            let mExpected = try Reference.tensor(e.m, p.value.shape, dtype)
            let vExpected = try Reference.tensor(e.v, p.value.shape, dtype)
            #expect(m[p.name]?.dtype == dtype)
            expectClose(try #require(m[p.name]), mExpected, tolerance: Tolerance(absolute: relative * mScale, relative: 0), "m.\(p.name)")
            expectClose(try #require(v[p.name]), vExpected, tolerance: Tolerance(absolute: relative * vScale, relative: 0), "v.\(p.name)")
        }
        #expect(optimizer.state.step == 3)
        #expect(optimizer.state.scalars["step.fc.weight"] == 3)
    }

    @Test func adamWithoutDecayAndAdamWWithoutDecayTakeIdenticalSteps() throws {
        var adam = try Adam(learningRate: 0.02)
        var adamW = try AdamW(learningRate: 0.02, weightDecay: 0)
        let a = try Reference.parameters(.float32)
        let b = try Reference.parameters(.float32)
        for i in 0..<3 {
            try adam.step(a, gradients: Reference.gradients(i, .float32))
            try adamW.step(b, gradients: Reference.gradients(i, .float32))
        }
        for (x, y) in zip(a, b) { #expect(try x.value.scalars(as: Float.self) == y.value.scalars(as: Float.self)) }
    }

    @Test func decoupledDecayShrinksAParameterWhoseGradientIsZero() throws {
        // Adam's coupled decay goes through 1/√v̂, so its step is ≈ lr whatever the decay; AdamW's
        // is lr·weightDecay·p.
        let p = Parameter("w", try Tensor([2.0] as [Float], shape: [1]))
        var adamW = try AdamW(learningRate: 0.1, weightDecay: 0.5)
        try adamW.step([p], gradients: ["w": Tensor.zeros([1])])
        #expect(try p.value.item(as: Float.self) == Float(2.0 * (1 - 0.1 * 0.5)))
        let q = Parameter("w", try Tensor([2.0] as [Float], shape: [1]))
        var adam = try Adam(learningRate: 0.1, epsilon: 0, weightDecay: 0.5)
        try adam.step([q], gradients: ["w": Tensor.zeros([1])])
        #expect(abs(try q.value.item(as: Float.self) - 1.9) < 1e-6)
    }

    @Test func lambTakesTheRatioOfNormsAndOneForAZeroTensor() throws {
        var lamb = try LAMB(learningRate: 0.01, weightDecay: 0)
        let parameters = try Reference.parameters(.float64)
        try lamb.step(parameters, gradients: Reference.gradients(0, .float64))
        #expect(lamb.trustRatios["fc.bias"] == 1)
        // On the first step m̂/√v̂ = sign(g) (up to ε), so ‖r‖ = √6 for the weight.
        let weightNorm = Reference.start["fc.weight"]!.map { $0 * $0 }.reduce(0, +).squareRoot()
        #expect(abs(try #require(lamb.trustRatios["fc.weight"]) - weightNorm / 6.0.squareRoot()) < 1e-4)
    }

    @Test(arguments: [Reference.Rule.adam, .adamW, .lamb])
    func restoredStateTakesTheSameNextStep(_ rule: Reference.Rule) throws {
        var original = try Self.make(rule, Reference.Settings())
        let a = try Reference.parameters(.float32)
        try original.step(a, gradients: Reference.gradients(0, .float32))
        try original.step(a, gradients: Reference.gradients(1, .float32))
        original.learningRate = 0.005  // as a schedule would between steps

        let saved = original.state
        #expect(saved.kind == ["adam": "adam", "adamW": "adamw", "lamb": "lamb"]["\(rule)"])
        #expect(saved.step == 2)
        #expect(Set(saved.tensors.keys) == ["m.fc.weight", "v.fc.weight", "m.fc.bias", "v.fc.bias"])
        var resumed = try Self.make(rule, Reference.Settings())
        try resumed.restore(saved)
        #expect(resumed.learningRate == 0.005)

        let b = a.map { Parameter($0.name, $0.value) }
        try original.step(a, gradients: Reference.gradients(2, .float32))
        try resumed.step(b, gradients: Reference.gradients(2, .float32))
        for (x, y) in zip(a, b) { #expect(try x.value.scalars(as: Float.self) == y.value.scalars(as: Float.self), "\(x.name)") }
        #expect(resumed.state.step == 3)
    }

    @Test func aParameterFirstUpdatedLateStartsItsBiasCorrectionAtOne() throws {
        var adam = try Adam(learningRate: 0.01)
        let parameters = try Reference.parameters(.float64)
        let g0 = try Reference.gradients(0, .float64)
        try adam.step(parameters, gradients: ["fc.weight": g0["fc.weight"]!])
        try adam.step(parameters, gradients: g0)
        #expect(adam.updateCounts == ["fc.weight": 2, "fc.bias": 1])
        // The bias took a first step: −lr·sign(g) up to ε.
        let bias = try parameters[1].value.scalarsAsDouble()
        for (b, g) in zip(bias, Reference.gradients[0]["fc.bias"]!) { #expect(abs(b + 0.01 * (g > 0 ? 1 : -1)) < 1e-8) }
    }

    @Test func restoreRejectsAnotherKindAndIncompleteOrMisshapenState() throws {
        var adam = try Adam()
        #expect(throws: NNError.self) { try adam.restore(OptimizerState(kind: "sgd")) }
        #expect(throws: NNError.self) { try adam.restore(OptimizerState(kind: "adamw")) }
        let incomplete = OptimizerState(kind: "adam", tensors: ["m.w": try Tensor.zeros([2])])
        #expect(throws: NNError.self) { try adam.restore(incomplete) }
        let stray = OptimizerState(kind: "adam", tensors: ["momentum.w": try Tensor.zeros([2])])
        #expect(throws: NNError.self) { try adam.restore(stray) }

        // A restored moment of the wrong shape fails the step before any parameter changes.
        let state = OptimizerState(kind: "adam", step: 1, tensors: ["m.w": try Tensor.zeros([3]), "v.w": try Tensor.zeros([3])])
        try adam.restore(state)
        let first = Parameter("a", try Tensor([1, 2] as [Float], shape: [2]))
        let w = Parameter("w", try Tensor([1, 2] as [Float], shape: [2]))
        let error = try #require(throws: NNError.self) {
            try adam.step([first, w], gradients: ["a": Tensor.ones([2]), "w": Tensor.ones([2])])
        }
        #expect(error.code == .shapeMismatch)
        #expect(try first.value.scalars(as: Float.self) == [1, 2])
    }

    @Test func settingsOutOfRangeThrow() {
        #expect(throws: NNError.self) { try Adam(learningRate: -1) }
        #expect(throws: NNError.self) { try Adam(beta1: 1) }
        #expect(throws: NNError.self) { try AdamW(beta2: -0.1) }
        #expect(throws: NNError.self) { try AdamW(epsilon: .nan) }
        #expect(throws: NNError.self) { try LAMB(weightDecay: -0.01) }
        #expect(throws: NNError.self) { try LAMB(learningRate: .infinity) }
    }

    @Test func aLearningRateSetOutOfRangeFailsTheStep() throws {
        var lamb = try LAMB()
        lamb.learningRate = .nan
        let p = Parameter("w", try Tensor([1] as [Float], shape: [1]))
        #expect(throws: NNError.self) { try lamb.step([p], gradients: ["w": Tensor.ones([1])]) }
        #expect(try p.value.item(as: Float.self) == 1)
    }
}

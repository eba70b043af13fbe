import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct LossTests {
    @Test func crossEntropyOfUniformLogitsIsLogOfClassCount() throws {
        let tracer = GraphTracer()
        let logits = try tracer.input("logits", TensorType([2, 4]))
        let labels = try tracer.input("labels", TensorType([2], .int64))
        let graph = tracer.finish(outputs: [try crossEntropy(logits: logits, labels: labels)])
        #expect(outputType(graph) == TensorType([]))
        let feeds = GraphFeeds(inputs: ["logits": try Tensor.zeros([2, 4]), "labels": Tensor([1, 3] as [Int64])])
        let loss = try graph.run(feeds)[0].item(as: Float.self)
        #expect(abs(Double(loss) - 1.3862943611198906) < 1e-6)  // ln 4
    }

    @Test func symbolicAndEagerCrossEntropyAgree() throws {
        let logits = try values([3, 5], seed: 1)
        let labels = Tensor([4, 0, 2] as [Int64])
        let tracer = GraphTracer()
        let l = try tracer.input("logits", TensorType([3, 5]))
        let y = try tracer.input("labels", TensorType([3], .int64))
        let graph = tracer.finish(outputs: [try crossEntropy(logits: l, labels: y, labelSmoothing: 0.1)])
        let symbolic = try graph.run(GraphFeeds(inputs: ["logits": logits, "labels": labels]))[0]
        expectClose(symbolic, try crossEntropy(logits: logits, labels: labels, labelSmoothing: 0.1))
        // By hand: mean over rows of −log softmax at the label.
        let logp = try logits.logSoftmax(axis: 1).scalars(as: Float.self)
        let byHand = -(logp[4] + logp[5] + logp[12]) / 3
        #expect(abs(try crossEntropy(logits: logits, labels: labels).item(as: Float.self) - byHand) < 1e-6)
    }

    @Test func meanSquaredErrorAveragesSquaredDifferences() throws {
        let p = try Tensor([1, 2, 3, 4] as [Float], shape: [2, 2])
        let t = try Tensor([1, 0, 3, 0] as [Float], shape: [2, 2])
        #expect(try meanSquaredError(p, t).item(as: Float.self) == 5)  // (0 + 4 + 0 + 16) / 4
        let tracer = GraphTracer()
        let a = try tracer.input("p", TensorType([2, 2]))
        let b = try tracer.input("t", TensorType([2, 2]))
        let graph = tracer.finish(outputs: [try meanSquaredError(a, b)])
        #expect(try graph.run(GraphFeeds(inputs: ["p": p, "t": t]))[0].item(as: Float.self) == 5)
        let c = try tracer.input("c", TensorType([2]))
        let error = try #require(throws: NNError.self) { try meanSquaredError(a, c) }
        #expect(error.code == .shapeMismatch)
    }

    @Test func accuracyCountsRowsWhoseArgmaxIsTheLabel() throws {
        let logits = try Tensor([0.1, 0.9, 0.8, 0.2, 0.3, 0.7, 0.6, 0.4] as [Float], shape: [4, 2])
        #expect(try accuracy(logits: logits, labels: Tensor([1, 0, 0, 0] as [Int64])) == 0.75)
        #expect(try accuracy(logits: logits, labels: Tensor([1, 0, 1, 0] as [Int32])) == 1)
        #expect(throws: NNError.self) { try accuracy(logits: logits, labels: Tensor([1, 0] as [Int64])) }
    }
}

@Suite struct OptimizerTests {
    func model() throws -> MLP { try MLP(sizes: [3, 4, 2], seed: 1) }

    func gradients(for model: MLP, seed: UInt64) throws -> [String: Tensor] {
        var out: [String: Tensor] = [:]
        for (i, p) in model.parameters.enumerated() { out[p.name] = try values(p.value.shape, seed: seed + UInt64(i)) }
        return out
    }

    @Test func plainStepMovesEachParameterByMinusRateTimesGradient() throws {
        let m = try model()
        let before = m.parameterValues
        let g = try gradients(for: m, seed: 10)
        var sgd = try SGD(learningRate: 0.05)
        try sgd.step(m.parameters, gradients: g)
        for p in m.parameters {
            let expected = try before[p.name]! - g[p.name]! * 0.05
            #expect(try p.value.scalars(as: Float.self) == expected.scalars(as: Float.self), "\(p.name)")
        }
        #expect(sgd.momentumBuffers.isEmpty)
    }

    @Test func momentumAccumulatesAVelocityPerParameter() throws {
        let m = try model()
        let p0 = m.parameterValues
        let g1 = try gradients(for: m, seed: 20)
        let g2 = try gradients(for: m, seed: 30)
        var sgd = try SGD(learningRate: 0.1, momentum: 0.9)
        try sgd.step(m.parameters, gradients: g1)
        try sgd.step(m.parameters, gradients: g2)
        for p in m.parameters {
            let velocity = try g1[p.name]! * 0.9 + g2[p.name]!
            let expected = try p0[p.name]! - g1[p.name]! * 0.1 - velocity * 0.1
            expectClose(p.value, expected, p.name)
            expectClose(sgd.momentumBuffers[p.name]!, velocity, p.name)
        }
    }

    @Test func weightDecayAndNesterovFollowTheDocumentedUpdate() throws {
        let m = try model()
        let p0 = m.parameterValues
        let g = try gradients(for: m, seed: 40)
        var sgd = try SGD(learningRate: 0.1, momentum: 0.5, weightDecay: 0.01, nesterov: true)
        try sgd.step(m.parameters, gradients: g)
        for p in m.parameters {
            let d = try g[p.name]! + p0[p.name]! * 0.01
            let expected = try p0[p.name]! - (d + d * 0.5) * 0.1
            expectClose(p.value, expected, p.name)
        }
    }

    @Test func parametersWithoutGradientsAndBuffersAreLeftAlone() throws {
        let bn = try BatchNorm2d(numFeatures: 2)
        let before = bn.parameterValues
        var sgd = try SGD(learningRate: 1)
        try sgd.step(bn.parameters, gradients: ["weight": Tensor.ones([2])])
        #expect(try bn.weight.value.scalars(as: Float.self) == [0, 0])
        for name in ["bias", "running_mean", "running_var"] {
            #expect(try bn.parameterValues[name]!.scalars(as: Float.self) == before[name]!.scalars(as: Float.self))
        }
        let buffer = try #require(throws: NNError.self) { try sgd.step(bn.parameters, gradients: ["running_mean": Tensor.ones([2])]) }
        #expect(buffer.message.contains("buffer"))
    }

    @Test func unknownNamesAndWrongShapesAreRejected() throws {
        let m = try model()
        var sgd = try SGD(learningRate: 0.1)
        let unknown = try #require(throws: NNError.self) { try sgd.step(m.parameters, gradients: ["0.wieght": Tensor.ones([4, 3])]) }
        #expect(unknown.code == .unknownParameter)
        #expect(unknown.message.contains("\"0.wieght\""))
        let shape = try #require(throws: NNError.self) { try sgd.step(m.parameters, gradients: ["0.weight": Tensor.ones([3, 4])]) }
        #expect(shape.code == .shapeMismatch)
    }

    @Test func invalidSettingsAreRejected() throws {
        #expect(throws: NNError.self) { try SGD(learningRate: -1) }
        #expect(throws: NNError.self) { try SGD(learningRate: .nan) }
        #expect(throws: NNError.self) { try SGD(learningRate: 0.1, nesterov: true) }
    }

    @Test func optimizersAreUsableThroughTheProtocol() throws {
        let m = try model()
        var optimizer: any Optimizer = try SGD(learningRate: 0.5)
        optimizer.learningRate = 0.25
        let before = m.parameters[0].value
        try optimizer.step(m.parameters, gradients: [m.parameters[0].name: Tensor.ones(before.shape)])
        expectClose(m.parameters[0].value, try before - 0.25)
    }
}

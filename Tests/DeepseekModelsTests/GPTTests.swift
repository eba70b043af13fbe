import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekNN
import DeepseekTensor
import Testing

@Suite struct GPTTests {
    static let tiny = GPTConfiguration(vocabulary: 32, contextLength: 16, dim: 16, layers: 2, heads: 2)

    @Test(arguments: ["gpt2-124m", "gpt3-175b", "gpt-1t"])
    func countsMatchTheFormula(name: String) throws {
        let model = try ModelZoo.build(name: name, materialize: false)
        let gpt = try #require(model.module as? GPT)
        #expect(gpt.trainableParameterCount == gpt.configuration.formulaParameterCount)
        #expect(gpt.parameters.allSatisfy { $0.value.isMeta })
    }

    @Test func gpt2SmallIs124M() throws {
        #expect(try ModelZoo.build(name: "gpt2-124m", materialize: false).module.trainableParameterCount == 124_439_808)
    }

    /// A forward pass over T tokens costs 2·T·(parameters in matmuls) plus attention, 2·2·L·T²·D
    /// (scores and context), plus the tied output layer 2·T·D·V.
    @Test(arguments: ["gpt2-124m", "gpt3-175b"])
    func forwardFlopsMatchTheAnalyticCount(name: String) throws {
        let model = try ModelZoo.build(name: name, materialize: false)
        let c = try #require(model.module as? GPT).configuration
        let (t, d, l, v, h) = (Double(c.contextLength), Double(c.dim), Double(c.layers), Double(c.vocabulary), Double(c.hidden))
        let matmulWeights = l * (4 * d * d + 2 * d * h)
        let expected = 2 * t * matmulWeights + 2 * 2 * l * t * t * d + 2 * t * d * v
        let simulation = try model.simulate()
        let matmul = try #require(simulation.costByKernel["matmul"]).flops
        #expect(abs(matmul - expected) / expected < 1e-9, "\(matmul) vs \(expected)")
        // Everything else (norms, softmax, GELU, adds) is a small fraction.
        #expect(simulation.cost.flops < 1.05 * matmul)
    }

    @Test func gpt3SimulatesWithoutAllocatingItsWeights() throws {
        let model = try ModelZoo.build(name: "gpt3-175b", materialize: false, dtype: .bfloat16)
        let simulation = try model.simulate()
        #expect(simulation.parameterBytes == 2 * simulation.trainableParameterCount)
        #expect(simulation.cost.flops > 7e14 && simulation.cost.flops < 8e14)
    }

    @Test func tinyGPTTrains() throws {
        let c = Self.tiny
        let model = try zooTinyModel(
            "gpt-test", batch: 2, input: TensorType([2, 12], .int64), targets: TensorType([2, 12], .int64), classes: c.vocabulary
        ) { try GPT(c, factory: &$0) }
        let losses = try zooTrainingLosses(model, steps: 4, learningRate: 0.1)
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses.last! < losses.first!, "\(losses)")
    }

    @Test func laterTokensDoNotChangeEarlierLogits() throws {
        var factory = ParameterFactory(seed: 5)
        let gpt = try GPT(Self.tiny, factory: &factory)
        let graph = try gpt.trace(TensorType([1, 8], .int64), name: "ids")
        func logits(_ ids: [Int64]) throws -> [Float] {
            try KernelBackends.using(CPUBackend()) {
                try graph.run(GraphFeeds(inputs: ["ids": Tensor(ids, shape: [1, 8])], parameters: gpt.parameterValues))[0]
                    .sliced(axis: 1, start: 0, end: 5).contiguous().scalars(as: Float.self)
            }
        }
        let a = try logits([1, 2, 3, 4, 5, 6, 7, 8])
        let b = try logits([1, 2, 3, 4, 5, 30, 0, 9])
        #expect(zip(a, b).allSatisfy { abs($0 - $1) < 1e-5 })
    }

    @Test func tooManyTokensIsAnErrorNamingThePositions() throws {
        var factory = ParameterFactory(materialize: false)
        let gpt = try GPT(Self.tiny, factory: &factory)
        let error = try #require(throws: NNError.self) { try gpt.trace(TensorType([1, 17], .int64)) }
        #expect(error.message.contains("16 learned positions"))
    }
}

import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekNN
import DeepseekTensor
import Testing

@Suite struct BERTTests {
    @Test func parameterCountsMatchThePublishedSizes() throws {
        // Built from meta tensors: no weight memory, the same modules.
        let base = try BERTModel(.base, materialize: false)
        #expect(base.parameterCount == BERTConfiguration.base.parameterCount)
        #expect(base.parameterCount == 109_482_240)  // Hugging Face's bert-base-uncased count
        #expect(abs(Double(base.parameterCount) - 110e6) / 110e6 < 0.005)  // the paper's "110M"
        let large = try BERTModel(.large, materialize: false)
        #expect(large.parameterCount == 335_141_888)  // Hugging Face's bert-large-uncased; the paper rounds to "340M"
        let miniLM = try BERTModel(.miniLML6, materialize: false)
        #expect(miniLM.parameterCount == 22_713_216)  // all-MiniLM-L6-v2: "22.7M"
        #expect(try BERTModel(.miniLML12, materialize: false).parameterCount == BERTConfiguration.miniLML12.parameterCount)
    }

    @Test func parametersCarryHuggingFaceNames() throws {
        let model = try BERTModel(.tiny(layers: 2))
        let names = model.parameters.map(\.name)
        #expect(names.count == 5 + 2 * 16 + 2)
        #expect(Set(names).count == names.count)
        for name in [
            "embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight", "embeddings.token_type_embeddings.weight",
            "embeddings.LayerNorm.weight", "encoder.layer.1.attention.self.query.weight", "encoder.layer.0.attention.output.dense.bias",
            "encoder.layer.0.attention.output.LayerNorm.weight", "encoder.layer.1.intermediate.dense.weight", "encoder.layer.1.output.dense.weight",
            "encoder.layer.1.output.LayerNorm.bias", "pooler.dense.weight",
        ] {
            #expect(names.contains(name), "\(name)")
        }
    }

    @Test func bertBaseTracesAndRunsOnShapesAlone() throws {
        let model = try BERTModel(.base, materialize: false)
        let tracer = GraphTracer()
        let ids = try tracer.input("input_ids", TensorType([8, 128], .int64))
        let mask = try tracer.input("attention_mask", TensorType([8, 128]))
        let hidden = try model.encode(ids: ids, attentionMask: mask)
        let graph = tracer.finish(outputs: [hidden, try model.pool(hidden)])
        let out = try KernelBackends.using(MetaBackend()) {
            try graph.run(GraphFeeds(inputs: ["input_ids": .meta([8, 128], dtype: .int64), "attention_mask": .meta([8, 128])], parameters: model.parameterValues(readBy: graph)))
        }
        #expect(out[0].shape == [8, 128, 768])
        #expect(out[1].shape == [8, 768])
        #expect(graph.node(named: "encoder.layer.11.attention.self.query.matmul") != nil)
    }

    @Test func paddingDoesNotChangeTheRealTokens() throws {
        let model = try BERTModel(.tiny(), seed: 3)
        let ids: [Int64] = [2, 17, 5, 42, 3]
        func run(_ tokens: Int) throws -> ([Float], [Float]) {
            let tracer = GraphTracer()
            let i = try tracer.input("ids", TensorType([1, tokens], .int64))
            let m = try tracer.input("mask", TensorType([1, tokens]))
            let hidden = try model.encode(ids: i, attentionMask: m)
            let graph = tracer.finish(outputs: [hidden, try meanPooling(hidden, mask: m)])
            let padded = ids + [Int64](repeating: 0, count: tokens - ids.count)
            let mask = [Float](repeating: 1, count: ids.count) + [Float](repeating: 0, count: tokens - ids.count)
            let out = try KernelBackends.using(CPUBackend()) {
                try graph.run(GraphFeeds(inputs: ["ids": try Tensor(padded, shape: [1, tokens]), "mask": try Tensor(mask, shape: [1, tokens])], parameters: model.parameterValues(readBy: graph)))
            }
            let hiddenValues = try out[0].scalars(as: Float.self)
            return (Array(hiddenValues[0..<(ids.count * 16)]), try out[1].scalars(as: Float.self))
        }
        let (exact, pooledExact) = try run(5)
        let (padded, pooledPadded) = try run(9)
        #expect(zip(exact, padded).map { abs($0 - $1) }.max()! < 1e-5)
        #expect(zip(pooledExact, pooledPadded).map { abs($0 - $1) }.max()! < 1e-5)
        let norm = pooledExact.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(norm - 1) < 1e-5)
    }

    @Test func segmentIdsSelectTheirEmbedding() throws {
        let model = try BERTModel(.tiny(), seed: 4)
        let tracer = GraphTracer()
        let ids = try tracer.input("ids", TensorType([1, 3], .int64))
        let types = try tracer.input("types", TensorType([1, 3], .int64))
        let graph = tracer.finish(outputs: [try model.encode(ids: ids, tokenTypes: types), try model(ids)])
        let feeds = GraphFeeds(inputs: ["ids": try Tensor([Int64](arrayLiteral: 5, 6, 7), shape: [1, 3]), "types": try Tensor.zeros([1, 3], dtype: .int64)], parameters: model.parameterValues(readBy: graph))
        let out = try KernelBackends.using(CPUBackend()) { try graph.run(feeds) }
        // Segment 0 everywhere is what the model assumes without segment ids.
        #expect(try out[0].scalars(as: Float.self) == out[1].scalars(as: Float.self))
    }

    @Test func gradientsMatchFiniteDifferences() throws {
        // Float64 on the reference backend, so the difference quotient is accurate.
        var factory = ParameterFactory(seed: 5, dtype: .float64)
        let model = try BERTModel(.tiny(hidden: 8, layers: 1, heads: 2, vocabularySize: 20, maxPositions: 8), factory: &factory)
        let tracer = GraphTracer()
        let ids = try tracer.input("ids", TensorType([2, 4], .int64))
        let mask = try tracer.input("mask", TensorType([2, 4], .float64))
        let pooled = try meanPooling(model.encode(ids: ids, attentionMask: mask), mask: mask, normalize: false)
        let target = try tracer.constant(Tensor.full([2, 8], value: 0.3, dtype: .float64))
        let loss = try meanSquaredError(pooled, target)
        let forward = tracer.finish(outputs: [loss])
        let training = try forward.trainingGraph(loss: loss.id)
        let inputs: [String: Tensor] = [
            "ids": try Tensor([Int64](arrayLiteral: 2, 7, 11, 3, 2, 9, 3, 0), shape: [2, 4]),
            "mask": try Tensor([Double](arrayLiteral: 1, 1, 1, 1, 1, 1, 1, 0), shape: [2, 4]),
        ]
        let backend = ReferenceBackend()
        let results = try KernelBackends.using(backend) { try training.graph.run(GraphFeeds(inputs: inputs, parameters: model.parameterValues(readBy: training.graph))) }
        #expect(results.count == 1 + model.parameters.count - 2)  // every parameter but the unused pooler
        for gradient in results.dropFirst() { #expect(try gradient.scalarsAsDouble().allSatisfy(\.isFinite)) }

        func lossValue() throws -> Double {
            try KernelBackends.using(backend) { try forward.run(GraphFeeds(inputs: inputs, parameters: model.parameterValues(readBy: forward)))[0].item(as: Double.self) }
        }
        let gradientNames = training.targets.map { forward[node: forward[value: $0].producer].name }
        for name in ["embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.key.weight", "encoder.layer.0.intermediate.dense.bias", "embeddings.LayerNorm.weight"] {
            let p = try #require(model.parameters.first { $0.name == name })
            let analytic = try results[1 + gradientNames.firstIndex(of: name)!].scalarsAsDouble()
            let original = p.value
            let index = name.hasPrefix("embeddings.word") ? 7 * 8 + 3 : 1  // a row the ids use
            var values = try original.scalarsAsDouble()
            let h = 1e-6
            values[index] += h
            p.value = try Tensor(values, shape: original.shape)
            let up = try lossValue()
            values[index] -= 2 * h
            p.value = try Tensor(values, shape: original.shape)
            let down = try lossValue()
            p.value = original
            let numeric = (up - down) / (2 * h)
            #expect(abs(numeric - analytic[index]) < 1e-6 + 1e-4 * abs(numeric), "\(name)[\(index)]: numeric \(numeric), autodiff \(analytic[index])")
        }
    }

    @Test func invalidConfigurationsAreRejected() throws {
        #expect(throws: NNError.self) { try BERTModel(.tiny(hidden: 10, heads: 3)) }
        #expect(throws: NNError.self) { try BERTModel(BERTConfiguration(hiddenSize: 8, layers: 0, heads: 2, intermediateSize: 8)) }
        let model = try BERTModel(.tiny(maxPositions: 4))
        let tracer = GraphTracer()
        let ids = try tracer.input("ids", TensorType([1, 5], .int64))
        #expect(throws: NNError.self) { try model(ids) }
    }
}

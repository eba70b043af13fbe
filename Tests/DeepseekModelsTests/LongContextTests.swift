import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekNN
import DeepseekTensor
import Testing

@Suite struct LongContextTests {
    /// Dense attention with the sliding-window mask of `MultiHeadSelfAttention`, on concrete tensors.
    static func denseWindowed(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, window: Int) throws -> Tensor {
        let (b, t, dim) = (q.shape[0], q.shape[1], q.shape[2])
        let d = dim / heads
        func split(_ x: Tensor) throws -> Tensor { try x.reshaped([b, t, heads, d]).permuted([0, 2, 1, 3]) }
        let mask = try MultiHeadSelfAttention.attentionMask(tokens: t, causal: true, window: window)
        let scores = try split(q).matmul(split(k).permuted([0, 1, 3, 2])) * (1 / Double(d).squareRoot()) + mask
        return try scores.softmax(axis: -1).matmul(split(v)).permuted([0, 2, 1, 3]).contiguous().reshaped([b, t, dim])
    }

    @Test(arguments: [(tokens: 13, window: 4), (tokens: 16, window: 4), (tokens: 5, window: 8), (tokens: 9, window: 1)])
    func blockwiseAttentionEqualsTheMaskedDenseOne(tokens: Int, window: Int) throws {
        let type = TensorType([2, tokens, 8])
        let tracer = GraphTracer()
        let (q, k, v) = (try tracer.input("q", type), try tracer.input("k", type), try tracer.input("v", type))
        let graph = tracer.finish(outputs: [try slidingWindowAttention(q: q, k: k, v: v, heads: 2, window: window)])
        var rng = SeededRandom(seed: UInt64(tokens * 31 + window))
        var feeds: [String: Tensor] = [:]
        for name in ["q", "k", "v"] { feeds[name] = try Tensor.normal(type.shape, rng: &rng) }
        try KernelBackends.using(ReferenceBackend()) {
            let ours = try graph.run(GraphFeeds(inputs: feeds))[0]
            let expected = try Self.denseWindowed(feeds["q"]!, feeds["k"]!, feeds["v"]!, heads: 2, window: window)
            #expect(try zooMaxDifference(ours, expected) < 1e-5, "tokens \(tokens), window \(window)")
        }
    }

    @Test func noScoreTensorGrowsWithTheSquareOfTheSequence() throws {
        var factory = ParameterFactory(materialize: false)
        let c = GPTConfiguration(vocabulary: 64, contextLength: 4096, dim: 32, layers: 1, heads: 2).longContext(window: 64, contextLength: 4096)
        let graph = try GPT(c, factory: &factory).trace(TensorType([1, 4096], .int64))
        let largest = graph.values.map { $0.type.shape.elementCount }.max() ?? 0
        #expect(largest <= 2 * 64 * 4096 * 2)  // heads · 2w per query, never tokens²
    }

    /// The planned activation arena of a forward pass doubles when the sequence doubles (with a
    /// window), while dense causal attention's grows about fourfold.
    @Test func plannedMemoryGrowsLinearlyWithTheSequence() throws {
        func arena(_ attention: AttentionPattern, tokens: Int) throws -> Double {
            var factory = ParameterFactory(materialize: false)
            var c = GPTConfiguration(vocabulary: 64, contextLength: 8192, dim: 32, layers: 2, heads: 2)
            c.attention = attention
            let graph = try GPT(c, factory: &factory).trace(TensorType([1, tokens], .int64))
            return Double(try graph.memoryPlan().report.arenaByteCount)
        }
        let windowed = try [2048, 4096, 8192].map { try arena(.slidingWindow(128), tokens: $0) }
        #expect(windowed[1] / windowed[0] > 1.8 && windowed[1] / windowed[0] < 2.2, "\(windowed)")
        #expect(windowed[2] / windowed[1] > 1.8 && windowed[2] / windowed[1] < 2.2, "\(windowed)")
        let dense = try [2048, 4096].map { try arena(.causal, tokens: $0) }
        #expect(dense[1] / dense[0] > 3.5, "\(dense)")
    }

    @Test func gpt2SizedLongContextModelPlansLinearMemoryUpTo10kTokens() throws {
        let bytes = try [2560, 5120, 10240].map { tokens in
            let model = try ModelZoo.build(name: "gpt2-124m-long", tokens: tokens, materialize: false)
            return Double(try model.trace().memoryPlan().report.arenaByteCount)
        }
        #expect(bytes[1] / bytes[0] > 1.9 && bytes[1] / bytes[0] < 2.1, "\(bytes)")
        #expect(bytes[2] / bytes[1] > 1.9 && bytes[2] / bytes[1] < 2.1, "\(bytes)")
    }

    /// Twelve GPT-2-sized blocks (d 768, 12 heads) without embeddings or output layer, where
    /// attention dominates: 149 MB → 299 MB → 598 MB windowed, 645 MB → 2.5 GB → 10.1 GB dense.
    @Test func gpt2SizedDecoderStackPlansLinearMemoryWhileDenseAttentionIsQuadratic() throws {
        final class Stack: Module {
            let blocks: [ZooTransformerBlock]
            init(_ pattern: AttentionPattern) throws {
                var factory = ParameterFactory(materialize: false)
                blocks = try (0..<12).map {
                    try ZooTransformerBlock(
                        dim: 768, heads: 12, hidden: 3072, pattern: pattern, epsilon: 1e-5, approximateGELU: true, factory: &factory
                    ).named("h.\($0)")
                }
            }
            func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
                try blocks.enumerated().reduce(x) { h, block in try block.element(h, scope: "h.\(block.offset)") }
            }
            var parameters: [Parameter] { blocks.flatMap(\.parameters) }
        }
        func arena(_ pattern: AttentionPattern, _ tokens: Int) throws -> Double {
            Double(try Stack(pattern).trace(TensorType([1, tokens, 768])).memoryPlan().report.arenaByteCount)
        }
        let windowed = try [2560, 5120, 10240].map { try arena(.slidingWindow(256), $0) }
        let dense = try [2560, 10240].map { try arena(.causal, $0) }
        #expect(abs(windowed[1] / windowed[0] - 2) < 0.05 && abs(windowed[2] / windowed[1] - 2) < 0.05, "\(windowed)")
        #expect(dense[1] / dense[0] > 15, "\(dense)")
        #expect(windowed[2] < 0.7e9)
    }

    @Test func aSmallLongContextModelRunsTenThousandTokens() throws {
        let c = GPTConfiguration(vocabulary: 32, contextLength: 10_240, dim: 32, layers: 1, heads: 2).longContext(window: 128, contextLength: 10_240)
        var factory = ParameterFactory(seed: 9)
        let gpt = try GPT(c, factory: &factory)
        let tokens = 10_001
        let graph = try gpt.trace(TensorType([1, tokens], .int64), name: "ids")
        let ids = try Tensor((0..<tokens).map { Int64($0 % 32) }, shape: [1, tokens])
        let logits = try KernelBackends.using(CPUBackend()) {
            try graph.run(GraphFeeds(inputs: ["ids": ids], parameters: gpt.parameterValues))[0]
        }
        #expect(logits.shape == [1, tokens, 32])
        #expect(try logits.sum().item(as: Float.self).isFinite)
    }

    @Test func tinyLongContextModelTrains() throws {
        let c = GPTConfiguration(vocabulary: 16, contextLength: 40, dim: 16, layers: 2, heads: 2).longContext(window: 8, contextLength: 40)
        let model = try zooTinyModel(
            "gpt-long-test", batch: 2, input: TensorType([2, 37], .int64), targets: TensorType([2, 37], .int64), classes: c.vocabulary
        ) { try GPT(c, factory: &$0) }
        let losses = try zooTrainingLosses(model, steps: 4, learningRate: 0.1)
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses.last! < losses.first!, "\(losses)")
    }
}

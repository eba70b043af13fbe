import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct InferenceGraphTests {
    /// A tiny BERT's embedding graph with padding in the second sequence, and its feeds.
    static func embeddingGraph() throws -> (Graph, GraphFeeds) {
        let model = try BERTModel(.tiny(layers: 2), seed: 5)
        let tracer = GraphTracer()
        let ids = try tracer.input("input_ids", TensorType([2, 6], .int64))
        let mask = try tracer.input("attention_mask", TensorType([2, 6]))
        let graph = tracer.finish(outputs: [try meanPooling(try model.encode(ids: ids, attentionMask: mask), mask: mask)])
        let feeds = GraphFeeds(
            inputs: [
                "input_ids": try Tensor([2, 17, 5, 42, 3, 9, 2, 8, 3, 0, 0, 0] as [Int64], shape: [2, 6]),
                "attention_mask": try Tensor([1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0] as [Float], shape: [2, 6]),
            ],
            parameters: model.parameterValues(readBy: graph))
        return (graph, feeds)
    }

    @Test func optimizedGraphFusesBiasAndMaskAddsAndKeepsGELUApart() throws {
        let (graph, _) = try Self.embeddingGraph()
        let optimized = try InferenceGraph.optimized(graph)
        let labels = optimized.nodes.compactMap { node -> String? in
            if case .custom(let op) = node.op { return op.label }
            return nil
        }
        // Per layer: query, key, value, scores (+ mask), attention output, intermediate, output.
        #expect(labels.filter { $0 == "linear[matmul,add]" }.count == 2 * 7)
        #expect(!labels.contains { $0.contains("gelu") })
        let gelus = optimized.nodes.filter { if case .unary(.geluExact) = $0.op { true } else { false } }
        #expect(gelus.count == 2)
        #expect(optimized.nodes.count < graph.nodes.count)
        #expect(optimized.inputNodes.map(\.name) == graph.inputNodes.map(\.name))
        #expect(Set(optimized.parameterNodes.map(\.name)) == Set(graph.parameterNodes.map(\.name)))
    }

    @Test(arguments: ["reference", "cpu"])
    func optimizedGraphComputesTheTracedGraphsValues(backendName: String) throws {
        let backend: any KernelBackend = backendName == "cpu" ? CPUBackend(settings: .init(threads: 2)) : ReferenceBackend()
        let (graph, feeds) = try Self.embeddingGraph()
        let optimized = try InferenceGraph.optimized(graph)
        let (expected, actual) = try KernelBackends.using(backend) { (try graph.run(feeds)[0], try optimized.run(feeds)[0]) }
        #expect(tensorMismatch(actual, expected, tolerance: Tolerance(absolute: 1e-6, relative: 1e-5)) == nil)
    }
}

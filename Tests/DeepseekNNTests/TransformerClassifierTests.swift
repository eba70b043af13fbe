import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import Testing

@Suite struct TransformerClassifierTests {
    @Test func classifiesRowsAsTokensAndDifferentiates() throws {
        let model = try TransformerClassifier(seed: 3)
        let graph = try model.trace(TensorType([4, 784]))
        #expect(graph[value: graph.outputs[0]].type == TensorType([4, 10]))
        let names = Set(model.parameters.map(\.name))
        #expect(names.contains("embed.weight") && names.contains("position") && names.contains("blocks.1.attn.q.weight") && names.contains("head.bias"))
        // The loss differentiates with respect to every parameter.
        let tracer = GraphTracer()
        let x = try tracer.input("x", TensorType([4, 28, 28]))
        let labels = try tracer.input("labels", TensorType([4], .int64))
        let loss = try crossEntropy(logits: model(x), labels: labels)
        let training = try tracer.finish(outputs: [loss]).trainingGraph(loss: loss.id)
        #expect(training.gradients.count == model.parameters.count)
        #expect(throws: NNError.self) { try model.trace(TensorType([4, 700])) }
    }
}

import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct PlannedRunTests {
    /// A small residual convolution block with views, multi-output layer norm and element-wise chains.
    func block() throws -> (Graph, GraphFeeds) {
        let tracer = GraphTracer()
        let x = try tracer.input("x", TensorType([2, 4, 8, 8]))
        let w1 = try tracer.parameter("w1", TensorType([4, 4, 3, 3]))
        let w2 = try tracer.parameter("w2", TensorType([4, 4, 3, 3]))
        let g = try tracer.parameter("g", TensorType([256]))
        let h = try x.conv2d(w1, parameters: Conv2dParameters(padding: 1)).relu()
        let h2 = try h.conv2d(w2, parameters: Conv2dParameters(padding: 1))
        let r = try (h2 + x).relu()
        let flat = try r.reshaped([2, 256])
        let n = try flat.layerNorm(weight: g, bias: nil)
        let y = try (n.exp() * 0.5 + 1.0).sigmoid()
        let out = try y.sum(axes: [1])
        let graph = tracer.finish(outputs: [out, flat])
        var rng = SeededRandom(seed: 11)
        let feeds = GraphFeeds(
            inputs: ["x": try Tensor.normal([2, 4, 8, 8], rng: &rng)],
            parameters: ["w1": try Tensor.normal([4, 4, 3, 3], std: 0.3, rng: &rng), "w2": try Tensor.normal([4, 4, 3, 3], std: 0.3, rng: &rng),
                         "g": try Tensor.normal([256], rng: &rng)])
        return (graph, feeds)
    }

    @Test func plannedRunIsBitwiseIdenticalAndSmaller() throws {
        let (graph, feeds) = try block()
        let plan = try graph.memoryPlan()
        let reference = try graph.run(feeds)
        let (outputs, stats) = try graph.run(feeds, memory: plan)
        for (a, b) in zip(outputs, reference) { expectClose(a, b, tolerance: Tolerance(absolute: 0, relative: 0)) }
        #expect(stats.arenaBytes < stats.unplannedBytes, "\(stats)")
        #expect(plan.report.inPlaceReuseCount > 0, "\(plan.report)")
    }

    @Test func plannedRunsRepeatWithoutInterference() throws {
        let (graph, feeds) = try block()
        let plan = try graph.memoryPlan()
        let first = try graph.run(feeds, memory: plan).outputs
        let second = try graph.run(feeds, memory: plan).outputs
        // Each run has its own arena, so outputs of the first stay valid.
        for (a, b) in zip(first, second) { expectClose(a, b, tolerance: Tolerance(absolute: 0, relative: 0)) }
    }
}

import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// Memory planning and fusion on whole blocks of real models: the figures the engine promises.
@Suite struct ModelPassesTests {
    func traced(_ model: any Module, input: TensorType, seed: UInt64) throws -> (Graph, GraphFeeds) {
        let tracer = GraphTracer()
        let x = try tracer.input("x", input)
        let y = try model(x)
        let graph = tracer.finish(outputs: [y])
        var rng = SeededRandom(seed: seed)
        let feeds = GraphFeeds(inputs: ["x": try Tensor.normal(input.shape, rng: &rng)], parameters: model.parameterValues)
        return (graph, feeds)
    }

    func vitBlock() throws -> (Graph, GraphFeeds) {
        var rng = SeededRandom(seed: 1)
        let block = try TransformerEncoderBlock(dim: 64, heads: 4, rng: &rng)
        return try traced(block, input: TensorType([2, 16, 64]), seed: 2)
    }

    func resnetBlock() throws -> (Graph, GraphFeeds) {
        var rng = SeededRandom(seed: 3)
        let block = try ResidualBlock(inChannels: 16, outChannels: 16, rng: &rng)
        return try traced(block, input: TensorType([2, 16, 16, 16]), seed: 4)
    }

    @Test(arguments: ["vit", "resnet"])
    func memoryPlanningSavesAtLeastThirtyPercentWithBitwiseIdenticalOutputs(_ model: String) throws {
        let (graph, feeds) = model == "vit" ? try vitBlock() : try resnetBlock()
        let plan = try graph.memoryPlan()
        let reference = try graph.run(feeds)
        let (outputs, stats) = try graph.run(feeds, memory: plan)
        expectClose(outputs[0], reference[0], tolerance: Tolerance(absolute: 0, relative: 0))
        let saved = 1 - Double(stats.arenaBytes) / Double(stats.unplannedBytes)
        #expect(saved >= 0.30, "\(model): \(stats)\n\(plan.report)")
    }

    @Test(arguments: ["vit", "resnet"])
    func fusionCutsTheOpCountAndKeepsOutputs(_ model: String) throws {
        let (graph, feeds) = model == "vit" ? try vitBlock() : try resnetBlock()
        let pipeline = FusionPass()
        let (fused, report) = try pipeline.run(graph)
        #expect(report.kernelCountAfter < report.kernelCountBefore, "\(report)")
        let a = try graph.run(feeds)[0]
        let b = try fused.run(feeds)[0]
        expectClose(b, a, tolerance: Tolerance(absolute: 1e-4, relative: 1e-4))
    }
}

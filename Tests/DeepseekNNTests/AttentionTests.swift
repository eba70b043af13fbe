import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct AttentionTests {
    @Test func selfAttentionMatchesAHeadByHeadEagerComputation() throws {
        var rng = SeededRandom(seed: 1)
        let attn = try MultiHeadSelfAttention(dim: 8, heads: 2, rng: &rng)
        let x = try values([2, 5, 8], seed: 2)
        let (graph, y) = try runTraced(attn, x)
        #expect(outputType(graph) == TensorType([2, 5, 8]))
        expectParameters(
            attn, in: graph,
            [
                "q.weight": [8, 8], "q.bias": [8], "k.weight": [8, 8], "k.bias": [8],
                "v.weight": [8, 8], "v.bias": [8], "out.weight": [8, 8], "out.bias": [8],
            ])
        #expect(graph[value: graph.node(named: "scores")!.outputs[0]].type == TensorType([2, 2, 5, 5]))
        expectClose(y, try eagerAttention(attn, x))
    }

    @Test func causalAttentionIgnoresLaterTokens() throws {
        var rng = SeededRandom(seed: 3)
        let attn = try MultiHeadSelfAttention(dim: 6, heads: 3, causal: true, rng: &rng)
        let x = try values([1, 4, 6], seed: 4)
        let (graph, y) = try runTraced(attn, x)
        #expect(graph.node(named: "mask") != nil)
        expectClose(y, try eagerAttention(attn, x))
        // Changing the last token leaves the first three outputs unchanged.
        let changed = try Tensor.concat([x.sliced(axis: 1, end: 3), values([1, 1, 6], seed: 5)], axis: 1)
        let y2 = try graph.run(GraphFeeds(inputs: ["x": changed], parameters: attn.parameterValues))[0]
        expectClose(try y2.sliced(axis: 1, end: 3), try y.sliced(axis: 1, end: 3), tolerance: Tolerance(absolute: 0, relative: 0))
        #expect(try y2.sliced(axis: 1, start: 3).scalars(as: Float.self) != y.sliced(axis: 1, start: 3).scalars(as: Float.self))
    }

    @Test func attentionRejectsHeadsThatDoNotDivideTheWidthAndWrongInputs() throws {
        var rng = SeededRandom(seed: 1)
        let bad = try #require(throws: NNError.self) { try MultiHeadSelfAttention(dim: 10, heads: 3, rng: &rng) }
        #expect(bad.code == .invalidArgument)
        let attn = try MultiHeadSelfAttention(dim: 8, heads: 2, rng: &rng)
        let wrong = try #require(throws: NNError.self) { try attn.trace(TensorType([5, 8])) }
        #expect(wrong.message.contains("[batch, tokens, 8]"))
    }

    @Test func encoderBlockNamesNodesUnderItsScope() throws {
        var rng = SeededRandom(seed: 6)
        let block = try TransformerEncoderBlock(dim: 8, heads: 2, mlpRatio: 2, rng: &rng).named("encoder")
        let graph = try block.trace(TensorType([2, 3, 8]))
        #expect(outputType(graph) == TensorType([2, 3, 8]))
        #expect(
            block.parameters.map(\.name) == [
                "encoder.norm1.weight", "encoder.norm1.bias",
                "encoder.attn.q.weight", "encoder.attn.q.bias", "encoder.attn.k.weight", "encoder.attn.k.bias",
                "encoder.attn.v.weight", "encoder.attn.v.bias", "encoder.attn.out.weight", "encoder.attn.out.bias",
                "encoder.norm2.weight", "encoder.norm2.bias",
                "encoder.mlp.fc1.weight", "encoder.mlp.fc1.bias", "encoder.mlp.fc2.weight", "encoder.mlp.fc2.bias",
            ])
        #expect(Set(graphParameters(graph).keys) == Set(block.parameters.map(\.name)))
        #expect(graphParameters(graph)["encoder.mlp.fc1.weight"] == [16, 8])
        // Traced under the model's own scope, nodes read like the parameters.
        let tracer = GraphTracer()
        let x = try tracer.input("x", TensorType([2, 3, 8]))
        let y = try block(x, scope: "encoder")
        let scoped = tracer.finish(outputs: [y])
        let names = Set(scoped.nodes.map(\.name))
        #expect(names.isSuperset(of: ["encoder.attn.q.matmul", "encoder.attn.softmax", "encoder.norm1.layerNorm", "encoder.mlp.act.gelu", "encoder.residual2"]))
    }

    @Test func encoderBlockMatchesEagerPreNormComputation() throws {
        var rng = SeededRandom(seed: 7)
        let block = try TransformerEncoderBlock(dim: 8, heads: 4, rng: &rng)
        block.norm1.weight!.value = try Tensor.normal([8], rng: &rng)
        block.norm2.bias!.value = try Tensor.normal([8], rng: &rng)
        let x = try values([2, 3, 8], seed: 8)
        let (_, y) = try runTraced(block, x)
        let h = try x + eagerAttention(block.attn, eagerLayerNorm(block.norm1, x))
        let m = try eagerLinear(block.mlp.fc2, eagerLinear(block.mlp.fc1, eagerLayerNorm(block.norm2, h)).gelu())
        expectClose(y, try h + m)
    }

    @Test(arguments: [(4, 4, 1), (4, 8, 2)])
    func residualBlockMatchesEagerConvBatchNormComputation(_ inChannels: Int, _ outChannels: Int, _ stride: Int) throws {
        var rng = SeededRandom(seed: 9)
        let block = try ResidualBlock(inChannels: inChannels, outChannels: outChannels, stride: stride, rng: &rng)
        for bn in [block.bn1, block.bn2] {
            bn.runningMean.value = try Tensor.normal([outChannels], rng: &rng)
            bn.runningVar.value = try Tensor.uniform([outChannels], low: 0.5, high: 2, rng: &rng)
        }
        let x = try values([2, inChannels, 6, 6], seed: 10)
        let (graph, y) = try runTraced(block, x)
        #expect(outputType(graph) == TensorType([2, outChannels, 6 / stride, 6 / stride]))
        #expect(Set(graphParameters(graph).keys) == Set(block.parameters.map(\.name)))
        #expect(block.parameters.contains { $0.name == "downsample.0.weight" } == (stride != 1))
        func bn(_ layer: BatchNorm2d, _ t: Tensor) throws -> Tensor {
            try t.batchNorm(
                scale: layer.weight.value, bias: layer.bias.value, mean: layer.runningMean.value, variance: layer.runningVar.value)
        }
        func conv(_ layer: Conv2d, _ t: Tensor) throws -> Tensor { try t.conv2d(layer.weight.value, parameters: layer.settings) }
        var h = try bn(block.bn1, conv(block.conv1, x)).relu()
        h = try bn(block.bn2, conv(block.conv2, h))
        var shortcut = x
        if let down = block.downsample {
            shortcut = try bn(down[1] as! BatchNorm2d, conv(down[0] as! Conv2d, x))
        }
        expectClose(y, try (h + shortcut).relu())
    }
}

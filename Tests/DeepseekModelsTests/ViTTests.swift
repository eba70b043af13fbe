import DeepseekCore
import DeepseekGraph
import DeepseekModels
import DeepseekNN
import DeepseekTensor
import Testing

@Suite struct ViTTests {
    @Test func baseHasTheB16Layout() throws {
        let model = try ModelZoo.build(name: "vit-base", materialize: false)
        #expect(model.module.trainableParameterCount == 86_567_656)
        let shapes = Dictionary(uniqueKeysWithValues: model.module.parameters.map { ($0.name, $0.value.shape) })
        #expect(shapes["patch_embed.weight"] == [768, 3, 16, 16])
        #expect(shapes["pos_embed"] == [1, 197, 768])
        #expect(shapes["blocks.11.mlp.fc1.weight"] == [3072, 768])
        #expect(shapes["head.weight"] == [1000, 768])
    }

    /// torchvision lists ViT-B/16 at 17.56 GFLOPS (multiply-accumulates).
    @Test func forwardMultiplyAccumulatesMatchTorchvision() throws {
        let simulation = try ModelZoo.build(name: "vit-base", materialize: false).simulate()
        let macs = zooMultiplyAccumulates(simulation)
        #expect(abs(macs - 17.56e9) / 17.56e9 < 0.01, "\(macs)")
    }

    @Test func tinyViTTrains() throws {
        let c = ViTConfiguration(imageSize: 16, patchSize: 4, channels: 3, dim: 16, layers: 2, heads: 2, classes: 5)
        let model = try zooTinyModel("vit-test", batch: 4, input: TensorType([4, 3, 16, 16]), classes: 5) { try VisionTransformer(c, factory: &$0) }
        let losses = try zooTrainingLosses(model, steps: 4, learningRate: 0.1)
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses.last! < losses.first!, "\(losses)")
    }

    @Test func wrongImageSizeIsRejected() throws {
        var factory = ParameterFactory(materialize: false)
        let model = try VisionTransformer(.tiny, factory: &factory)
        let error = try #require(throws: NNError.self) { try model.trace(TensorType([1, 3, 256, 256])) }
        #expect(error.message.contains("224"))
    }
}

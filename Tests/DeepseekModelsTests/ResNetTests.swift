import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekNN
import DeepseekTensor
import Testing

/// The multiply-accumulates of a forward pass's convolutions and matrix products (FLOPs / 2, bias
/// additions left out) — the "GFLOPS" figure torchvision publishes for its models.
func zooMultiplyAccumulates(_ simulation: ModelSimulation) -> Double {
    let conv = simulation.costByKernel["conv2d"]?.flops ?? 0
    let matmul = simulation.costByKernel["matmul"]?.flops ?? 0
    return (conv + matmul) / 2
}

/// A tiny zoo model (not in the registry) for the training tests.
func zooTinyModel(_ name: String, batch: Int, input: TensorType, targets: TensorType? = nil, classes: Int,
                  _ make: @escaping @Sendable (inout ParameterFactory) throws -> any Module) throws -> ZooModel {
    let entry = ModelZooEntry(
        name: name, summary: "test", published: nil, source: "test", make: make,
        input: { _, _ in ModelInputSpec(name: input.dtype.isInteger ? "ids" : "x", type: input, targets: targets ?? TensorType([batch], .int64), classes: classes) })
    var factory = ParameterFactory(seed: 7)
    let module = try make(&factory)
    return ZooModel(entry: entry, module: module, input: try entry.inputSpec(batch: batch), mode: factory.mode)
}

@Suite struct ResNetTests {
    @Test func parameterNamesFollowTorchvision() throws {
        let model = try ModelZoo.build(name: "resnet50", materialize: false)
        let names = Set(model.module.parameters.map(\.name))
        for name in [
            "conv1.weight", "bn1.running_var", "layer1.0.conv3.weight", "layer1.0.downsample.0.weight", "layer1.0.downsample.1.bias",
            "layer4.2.bn3.weight", "fc.weight", "fc.bias",
        ] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(model.module.parameters.first { $0.name == "layer2.0.conv2.weight" }?.value.shape == [128, 128, 3, 3])
    }

    /// torchvision lists ResNet-50 at 4.09 GFLOPS and ResNet-18 at 1.81 (multiply-accumulates).
    @Test(arguments: [("resnet50", 4.09e9), ("resnet18", 1.81e9), ("resnet34", 3.66e9)])
    func forwardMultiplyAccumulatesMatchTorchvision(name: String, published: Double) throws {
        let simulation = try ModelZoo.build(name: name, materialize: false).simulate()
        let macs = zooMultiplyAccumulates(simulation)
        #expect(abs(macs - published) / published < 0.01, "\(name): \(macs)")
        #expect(simulation.cost.kernels > 50)
    }

    @Test func aTrainingPassCostsAboutThreeForwardPasses() throws {
        let model = try ModelZoo.build(name: "resnet18", batch: 2, materialize: false)
        let forward = try model.simulate().cost.flops
        let training = try model.simulate(training: true).cost.flops
        #expect(training > 2.5 * forward && training < 3.6 * forward, "\(training / forward)")
    }

    @Test(arguments: [ResNetConfiguration.Block.basic, .bottleneck])
    func tinyResNetTrainsWithBatchStatistics(block: ResNetConfiguration.Block) throws {
        let c = ResNetConfiguration(block: block, layers: [1, 1, 1, 1], width: 4, classes: 5)
        let model = try zooTinyModel("resnet-tiny", batch: 4, input: TensorType([4, 3, 32, 32]), classes: 5) { try ResNet(c, factory: &$0) }
        let graph = try model.trainingGraph().graph
        #expect(graph.nodes.contains { $0.op.label == "batchNormTraining" })
        #expect(!model.mode.isTraining)
        let losses = try zooTrainingLosses(model, steps: 4, learningRate: 0.1)
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses.last! < losses.first!, "\(losses)")
    }

    @Test func inferenceUsesRunningStatisticsAndGivesLogitsPerImage() throws {
        let c = ResNetConfiguration(block: .bottleneck, layers: [1, 2, 1, 1], width: 4, classes: 3)
        var factory = ParameterFactory(seed: 1)
        let model = try ResNet(c, factory: &factory)
        let graph = try model.trace(TensorType([2, 3, 40, 40]))
        #expect(graph.nodes.contains { $0.op.label == "batchNorm" })
        var rng = SeededRandom(seed: 2)
        let x = try Tensor.normal([2, 3, 40, 40], rng: &rng)
        let ours = try KernelBackends.using(CPUBackend()) { try graph.run(GraphFeeds(inputs: ["x": x], parameters: model.parameterValues))[0] }
        let reference = try KernelBackends.using(ReferenceBackend()) {
            try graph.run(GraphFeeds(inputs: ["x": x], parameters: model.parameterValues))[0]
        }
        #expect(ours.shape == [2, 3])
        let difference = try (ours - reference).abs().max().item(as: Float.self)
        #expect(difference < 1e-3)
    }

    @Test func smallImagesAreRejectedWithTheShape() throws {
        var factory = ParameterFactory(materialize: false)
        let model = try ResNet(.resnet18, factory: &factory)
        let error = try #require(throws: NNError.self) { try model.trace(TensorType([1, 3, 16, 16])) }
        #expect(error.message.contains("[1, 3, 16, 16]"))
    }
}

import DeepseekCore
import DeepseekGraph
import DeepseekModels
import DeepseekNN
import DeepseekTensor
import Testing

@Suite struct MobileNetTests {
    @Test func smallHasTorchvisionsLayoutAndCount() throws {
        let model = try ModelZoo.build(name: "mobilenetv3-small", materialize: false)
        #expect(model.module.trainableParameterCount == 2_542_856)
        let shapes = Dictionary(uniqueKeysWithValues: model.module.parameters.map { ($0.name, $0.value.shape) })
        #expect(shapes["features.0.0.weight"] == [16, 3, 3, 3])
        #expect(shapes["features.1.block.0.0.weight"] == [16, 1, 3, 3])  // depthwise, no expansion
        #expect(shapes["features.1.block.1.fc1.weight"] == [8, 16, 1, 1])  // squeeze-excitation
        #expect(shapes["features.4.block.2.fc1.weight"] == [24, 96, 1, 1])
        #expect(shapes["features.12.0.weight"] == [576, 96, 1, 1])
        #expect(shapes["classifier.3.weight"] == [1000, 1024])
    }

    /// torchvision lists MobileNetV3-Small at 0.06 GFLOPS (multiply-accumulates, 56.5 M).
    @Test func forwardMultiplyAccumulatesMatchTorchvision() throws {
        let simulation = try ModelZoo.build(name: "mobilenetv3-small", materialize: false).simulate()
        let macs = zooMultiplyAccumulates(simulation)
        #expect(macs > 0.055e9 && macs < 0.065e9, "\(macs)")
    }

    @Test func aSmallMobileNetRunsAndHardSwishMatchesItsDefinition() throws {
        // One depthwise block with hard-swish, traced and run against x·relu6(x+3)/6 computed by hand.
        let spec = MobileNetV3BlockSpec(kernel: 3, expanded: 8, out: 8, squeezeExcite: true, hardSwish: true, stride: 1)
        let c = MobileNetV3Configuration(stem: 8, blocks: [spec], lastConv: 16, lastChannel: 12, classes: 4)
        var factory = ParameterFactory(seed: 3)
        let model = try MobileNetV3(c, factory: &factory)
        let graph = try model.trace(TensorType([1, 3, 16, 16]))
        var rng = SeededRandom(seed: 4)
        let x = try Tensor.normal([1, 3, 16, 16], rng: &rng)
        let logits = try KernelBackends.using(ReferenceBackend()) {
            try graph.run(GraphFeeds(inputs: ["x": x], parameters: model.parameterValues))[0]
        }
        #expect(logits.shape == [1, 4])
        let tracer = GraphTracer()
        let h = try tracer.input("h", TensorType([7]))
        let hs = tracer.finish(outputs: [try h.hardSwish(name: "hs")])
        let values = try KernelBackends.using(ReferenceBackend()) {
            try hs.run(GraphFeeds(inputs: ["h": Tensor([-4, -3, -1, 0, 1, 3, 4] as [Float])]))[0]
        }
        #expect(try zooMaxDifference(values, Tensor([0, 0, -1.0 / 3, 0, 2.0 / 3, 3, 4] as [Float])) < 1e-6)
    }

    @Test func tinyMobileNetTrains() throws {
        let c = MobileNetV3Configuration(
            stem: 8,
            blocks: [
                MobileNetV3BlockSpec(kernel: 3, expanded: 8, out: 8, squeezeExcite: true, hardSwish: false, stride: 2),
                MobileNetV3BlockSpec(kernel: 3, expanded: 24, out: 12, squeezeExcite: false, hardSwish: false, stride: 2),
                MobileNetV3BlockSpec(kernel: 5, expanded: 32, out: 12, squeezeExcite: true, hardSwish: true, stride: 1),
            ],
            lastConv: 24, lastChannel: 32, classes: 5)
        let model = try zooTinyModel("mobilenet-tiny", batch: 4, input: TensorType([4, 3, 32, 32]), classes: 5) { try MobileNetV3(c, factory: &$0) }
        let losses = try zooTrainingLosses(model, steps: 4, learningRate: 0.1)
        #expect(losses.allSatisfy { $0.isFinite })
        #expect(losses.last! < losses.first!, "\(losses)")
    }
}

import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekNN
import DeepseekTensor
import Testing

/// Random feeds for a zoo model's input and targets, drawn from `seed`.
func zooFeeds(_ spec: ModelInputSpec, seed: UInt64 = 1) throws -> [String: Tensor] {
    var rng = SeededRandom(seed: seed)
    let x: Tensor
    if spec.type.dtype.isInteger {
        let ids = (0..<spec.type.shape.elementCount).map { _ in Int64(rng.next() % UInt64(spec.classes)) }
        x = try Tensor(ids, shape: spec.type.shape)
    } else {
        x = try Tensor.normal(spec.type.shape, rng: &rng)
    }
    let targets = (0..<spec.targets.shape.elementCount).map { _ in Int64(rng.next() % UInt64(spec.classes)) }
    return [spec.name: x, "targets": try Tensor(targets, shape: spec.targets.shape)]
}

/// The largest absolute difference between two tensors of one shape.
func zooMaxDifference(_ a: Tensor, _ b: Tensor) throws -> Double {
    guard a.shape == b.shape else { return .infinity }
    return try (a.cast(to: .float64) - b.cast(to: .float64)).abs().max().item(as: Double.self)
}

/// Runs `steps` SGD steps of `model` on one fixed batch on the CPU backend and returns the losses.
func zooTrainingLosses(_ model: ZooModel, steps: Int, learningRate: Double = 0.05) throws -> [Double] {
    let training = try model.trainingGraph()
    let trainable = Set(model.module.trainableParameters.map(\.name))
    let feeds = try zooFeeds(model.input)
    var optimizer = try SGD(learningRate: learningRate)
    var losses: [Double] = []
    try KernelBackends.using(CPUBackend()) {
        for _ in 0..<steps {
            let out = try training.graph.run(GraphFeeds(inputs: feeds, parameters: model.parameterFeeds(for: training.graph)))
            losses.append(try out[0].cast(to: .float64).item(as: Double.self))
            var gradients: [String: Tensor] = [:]
            for (target, value) in zip(training.targets, out.dropFirst()) {
                let name = training.graph[node: training.graph[value: target].producer].name
                #expect(value.shape == training.graph[value: target].type.shape, "gradient of \(name)")
                if trainable.contains(name) { gradients[name] = value }
            }
            #expect(gradients.count == trainable.count)
            try optimizer.step(model.module.parameters, gradients: gradients)
        }
    }
    return losses
}

@Suite struct ModelZooTests {
    @Test func unknownNameIsAnErrorListingTheKnownModels() throws {
        let error = try #require(throws: ModelZooError.self) { try ModelZoo.build(name: "resnet51", materialize: false) }
        #expect(error.code == .unknownModel)
        #expect(error.message.contains("resnet51"))
        for name in ["resnet50", "gpt3-175b", "vit-base", "mobilenetv3-small", "gpt2-124m", "gpt-1t", "bert-large"] {
            #expect(error.message.contains(name))
        }
    }

    @Test func familyAndSizeResolveLikeTheJoinedName() throws {
        #expect(try ModelZoo.entry(named: "resnet", size: "50").name == "resnet50")
        #expect(try ModelZoo.entry(named: "GPT2", size: "124M").name == "gpt2-124m")
        #expect(try ModelZoo.entry(named: "vit", size: "base").name == "vit-base")
    }

    @Test func scenarioNamesAreRegistered() throws {
        for name in ["resnet50", "bert-large", "gpt3-175b", "vit-base", "mobilenetv3-small", "gpt2-124m", "gpt-1t", "mlp", "lenet5"] {
            #expect(ModelZoo.names.contains(name), "\(name)")
        }
    }

    /// Models whose published count is exact (torchvision, timm, Hugging Face) must match it to the parameter.
    @Test(arguments: [
        "mlp", "lenet5", "resnet18", "resnet34", "resnet50", "resnet101", "resnet152", "mobilenetv3-small", "vit-tiny", "vit-small",
        "vit-base", "vit-large", "gpt2-124m", "gpt2-355m", "gpt2-774m", "gpt2-1.5b", "bert-base", "bert-large",
    ])
    func shapeOnlyModelsHaveThePublishedParameterCount(name: String) throws {
        let model = try ModelZoo.build(name: name, materialize: false)
        #expect(model.module.parameters.allSatisfy { $0.value.isMeta })
        #expect(model.module.trainableParameterCount == model.entry.publishedParameterCount)
    }

    /// GPT-3 and the 1T model are published as round figures: within 0.5 %.
    @Test(arguments: ["gpt3-175b", "gpt-1t", "gpt3-125m"])
    func largeDecodersAreWithinHalfAPercentOfTheirNominalSize(name: String) throws {
        let model = try ModelZoo.build(name: name, materialize: false)
        let published = try #require(model.entry.publishedParameterCount)
        let relative = abs(Double(model.module.trainableParameterCount - published)) / Double(published)
        #expect(relative < 0.005, "\(name): \(model.module.trainableParameterCount) vs \(published)")
    }

    @Test func everyModelSimulatesAForwardPassOnTheMetaBackend() throws {
        for name in ModelZoo.names where !name.hasPrefix("gpt-1t") && !name.hasPrefix("gpt3-175b") {
            let model = try ModelZoo.build(name: name, materialize: false)
            let simulation = try model.simulate()
            #expect(simulation.cost.flops > Double(model.module.trainableParameterCount), "\(name)")
            #expect(simulation.activationArenaBytes > 0, "\(name)")
        }
    }

    @Test func classicModelsTrainThroughTheZoo() throws {
        for name in ["mlp", "lenet5"] {
            let model = try ModelZoo.build(name: name, batch: 4, seed: 3)
            let losses = try zooTrainingLosses(model, steps: 4)
            #expect(losses.allSatisfy { $0.isFinite })
            #expect(losses.last! < losses.first!, "\(name): \(losses)")
        }
    }

    @Test func sequenceLengthOutsideTheLearnedPositionsIsRejected() throws {
        let error = try #require(throws: ModelZooError.self) { try ModelZoo.build(name: "gpt2-124m", tokens: 4096, materialize: false) }
        #expect(error.code == .invalidArgument)
    }
}

import ArgumentParser
import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTraining

/// `deepseek train`: trains a classifier on Fashion-MNIST through the graph engine.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on Fashion-MNIST through the graph engine.",
        discussion: """
            Reads the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
            Each step traces the model, differentiates the loss (once per distinct graph) and runs
            forward and backward on a CPU device actor; the engine's plan cache serves every step
            after the first.
            """
    )

    enum Model: String, ExpressibleByArgument, CaseIterable {
        case mlp, lenet
    }

    @Option(help: "The model: \(Model.allCases.map(\.rawValue).joined(separator: ", ")).") var model: Model = .mlp
    @Option(help: "Epochs over the 60,000 training images.") var epochs = 3
    @Option(name: .customLong("batch-size"), help: "Examples per step.") var batchSize = 64
    @Option(name: .customLong("learning-rate"), help: "SGD learning rate.") var learningRate = 0.1
    @Option(help: "SGD momentum.") var momentum = 0.0
    @Option(help: "Hidden layer width of the MLP.") var hidden = 256
    @Option(help: "Seed of the weights and the shuffle.") var seed: UInt64 = 1
    @Option(name: .customLong("steps-per-epoch"), help: "Stop each epoch after this many steps (default: whole epoch).") var stepsPerEpoch: Int?
    @Option(help: "Directory with the IDX files.") var data = FashionMNIST.defaultDirectory
    @Flag(inversion: .prefixedNo, help: "Standardize pixels with the training split's mean and standard deviation.") var normalize = true
    @Option(name: .customLong("metrics-csv"), help: "Write one CSV row per epoch to this file.") var metricsCSV: String?
    @Option(name: .customLong("metrics-json"), help: "Write the final metrics as JSON to this file.") var metricsJSON: String?

    func run() async throws {
        guard FashionMNIST.isAvailable(directory: data) else {
            throw ValidationError("Fashion-MNIST is not in \(data); install it with `apt-get install dataset-fashion-mnist` or pass --data")
        }
        guard epochs >= 1, batchSize >= 1, learningRate > 0, hidden >= 1 else {
            throw ValidationError("--epochs, --batch-size and --hidden must be ≥ 1 and --learning-rate > 0")
        }
        let wallStart = ContinuousClock.now
        var train = try FashionMNIST.load(split: .train, directory: data)
        var test = try FashionMNIST.load(split: .test, directory: data)
        if normalize {
            let standardization = try Standardization(fitting: train)
            train = try standardization.apply(train)
            test = try standardization.apply(test)
            print("standardized pixels: \(standardization)")
        }
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
        try await system.start()
        let device = DeviceActor(backend: CPUBackend(), kind: .cpu, name: "cpu0", actorSystem: system)
        let engine = try await Engine(actorSystem: system, devices: [device])
        var rng = SeededRandom(seed: seed)
        let (network, inputShape, name): (any Module, [Int], String) =
            switch model {
            case .mlp: (try MLP(sizes: [784, hidden, 10], rng: &rng), [784], "MLP 784-\(hidden)-10")
            case .lenet: (try LeNet(rng: &rng), [1, 28, 28], "LeNet-5")
            }
        let trainer = Trainer(
            model: network, optimizer: try SGD(learningRate: learningRate, momentum: momentum), engine: engine,
            settings: TrainerSettings(
                epochs: epochs, batchSize: batchSize, seed: seed, inputShape: inputShape, stepsPerEpoch: stepsPerEpoch,
                progress: .automatic))
        if let metricsCSV { trainer.callbacks.append(try MetricsCSV(path: metricsCSV)) }
        print("training \(name) on Fashion-MNIST (\(train.count) train, \(test.count) test), SGD lr \(learningRate) momentum \(momentum), batch \(batchSize), \(epochs) epochs")
        let reports = try await trainer.fit(train, validation: test)
        guard let last = reports.last else { return }
        print("final test accuracy: \(Double(Int(last.testAccuracy * 10000)) / 100)%")
        if let metricsJSON {
            let trainSeconds = reports.reduce(0) { $0 + $1.seconds }
            let samples = reports.reduce(0) { $0 + $1.steps } * batchSize
            try MetricsJSON.write(
                [
                    ("test_accuracy", last.testAccuracy), ("test_loss", last.testLoss), ("epochs", Double(reports.count)),
                    ("samples_per_second", Double(samples) / trainSeconds), ("wall_seconds", (ContinuousClock.now - wallStart).seconds),
                ], to: metricsJSON)
        }
        withExtendedLifetime(device) {}
        await system.shutdown()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}

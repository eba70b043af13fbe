import ArgumentParser
import DeepseekActors
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTraining

/// `deepseek train`: trains an MLP on Fashion-MNIST through the graph engine.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train an MLP (784-256-10) on Fashion-MNIST through the graph engine with SGD.",
        discussion: """
            Reads the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
            Each step traces the model, differentiates the loss and runs forward and backward on
            a CPU device actor; the plan cache serves every step after the first.
            """
    )

    @Option(help: "Epochs over the 60,000 training images.") var epochs = 3
    @Option(name: .customLong("batch-size"), help: "Examples per step.") var batchSize = 64
    @Option(name: .customLong("learning-rate"), help: "SGD learning rate.") var learningRate = 0.1
    @Option(help: "Hidden layer width.") var hidden = 256
    @Option(help: "Seed of the weights and the shuffle.") var seed: UInt64 = 1
    @Option(name: .customLong("steps-per-epoch"), help: "Stop each epoch after this many steps (default: whole epoch).") var stepsPerEpoch: Int?
    @Option(help: "Directory with the IDX files.") var data = FashionMNIST.defaultDirectory
    @Flag(inversion: .prefixedNo, help: "Standardize pixels with the training split's mean and standard deviation.") var normalize = true

    func run() async throws {
        guard FashionMNIST.isAvailable(directory: data) else {
            throw ValidationError("Fashion-MNIST is not in \(data); install it with `apt-get install dataset-fashion-mnist` or pass --data")
        }
        guard epochs >= 1, batchSize >= 1, learningRate > 0, hidden >= 1 else {
            throw ValidationError("--epochs, --batch-size and --hidden must be ≥ 1 and --learning-rate > 0")
        }
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
        let model = try MLP(sizes: [784, hidden, 10], seed: seed)
        var sgd = try SGD(learningRate: learningRate)
        print("training MLP 784-\(hidden)-10 on Fashion-MNIST (\(train.count) train, \(test.count) test), SGD lr \(learningRate), batch \(batchSize), \(epochs) epochs")
        let reports = try await trainClassifier(
            model, train: train, test: test, engine: engine, optimizer: &sgd,
            settings: ClassifierTrainingSettings(epochs: epochs, batchSize: batchSize, seed: seed, stepsPerEpoch: stepsPerEpoch)
        ) { print($0) }
        if let last = reports.last {
            print("final test accuracy: \(Double(Int(last.testAccuracy * 10000)) / 100)%")
        }
        withExtendedLifetime(device) {}
        await system.shutdown()
    }
}

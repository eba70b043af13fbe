import ArgumentParser
import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekStorage
import DeepseekTensor
import DeepseekTraining
import DeepseekTracing
import Foundation

/// `deepseek train`: trains a classifier on Fashion-MNIST through the graph engine.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model on Fashion-MNIST through the graph engine (the default job: LeNet-5, 5 epochs).",
        discussion: """
            Reads the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
            Each step traces the model, differentiates the loss (once per distinct graph) and runs
            forward and backward on a CPU device actor; the engine's plan cache serves every step
            after the first.

            With --nodes N it trains data-parallel on N processes of this binary on loopback: each
            rank trains its share of every global batch and gradients are averaged by a
            DistributedOptimizer (--zero-stage, --compression topk:DENSITY). Across machines, start
            one `deepseek train` per rank under srun, mpirun or a torchrun-style launcher (RANK,
            WORLD_SIZE, MASTER_ADDR, MASTER_PORT) with DEEPSEEK_CLUSTER_SECRET set on every rank.
            """
    )

    enum Model: String, ExpressibleByArgument, CaseIterable {
        case mlp, lenet
        case transformerTiny = "transformer-tiny"
    }

    enum Dataset: String, ExpressibleByArgument, CaseIterable {
        case fashionMNIST = "fashion-mnist"
    }

    enum OptimizerKind: String, ExpressibleByArgument, CaseIterable {
        case sgd, adam, adamw, lamb
    }

    enum ScheduleKind: String, ExpressibleByArgument, CaseIterable {
        case constant, cosine
    }

    enum PrecisionKind: String, ExpressibleByArgument, CaseIterable {
        case fp32, fp16, bf16
        var precision: Precision {
            switch self {
            case .fp32: .fp32
            case .fp16: .fp16
            case .bf16: .bf16
            }
        }
    }

    @Option(help: "The model: \(Model.allCases.map(\.rawValue).joined(separator: ", ")).") var model: Model = .lenet
    @Option(help: "The dataset: \(Dataset.allCases.map(\.rawValue).joined(separator: ", ")) (from its Debian package).") var dataset: Dataset = .fashionMNIST
    @Option(help: "Epochs over the 60,000 training images.") var epochs = 5
    @Option(name: .customLong("batch-size"), help: "Examples per step.") var batchSize = 64
    @Option(help: "The optimizer: \(OptimizerKind.allCases.map(\.rawValue).joined(separator: ", ")).") var optimizer: OptimizerKind = .sgd
    @Option(name: .customLong("learning-rate"), help: "Learning rate (default: 0.1 for SGD, 0.001 otherwise).") var learningRate: Double?
    @Option(help: "SGD momentum.") var momentum = 0.0
    @Option(name: .customLong("weight-decay"), help: "Weight decay.") var weightDecay = 0.0
    @Option(help: "Learning-rate schedule over all steps: \(ScheduleKind.allCases.map(\.rawValue).joined(separator: ", ")).") var schedule: ScheduleKind = .constant
    @Option(name: .customLong("warmup-steps"), help: "Linear warm-up steps before the schedule.") var warmupSteps = 0
    @Option(name: .customLong("clip-norm"), help: "Clip gradients to this global norm.") var clipNorm: Double?
    @Option(help: "Compute precision: fp32, or fp16/bf16 with float32 master weights (fp16 with dynamic loss scaling).") var precision: PrecisionKind = .fp32
    @Option(name: .customLong("checkpoint-dir"), help: "Save a checkpoint here after every epoch.") var checkpointDirectory: String?
    @Flag(help: "Continue from the newest checkpoint in --checkpoint-dir.") var resume = false
    @Option(help: "Hidden layer width of the MLP.") var hidden = 256
    @Option(help: "Seed of the weights and the shuffle.") var seed: UInt64 = 1
    @Option(help: "Threads for this process's kernels (default: every core; ranks started by --nodes each take an equal share of the cores).") var threads: Int?
    @Option(name: .customLong("steps-per-epoch"), help: "Stop each epoch after this many steps (default: whole epoch).") var stepsPerEpoch: Int?
    @Option(help: "Directory with the IDX files.") var data = FashionMNIST.defaultDirectory
    @Flag(inversion: .prefixedNo, help: "Standardize pixels with the training split's mean and standard deviation.") var normalize = true
    @Option(name: .customLong("metrics-csv"), help: "Write one CSV row per epoch to this file.") var metricsCSV: String?
    @Option(name: .customLong("metrics-json"), help: "Write the final metrics as JSON to this file.") var metricsJSON: String?
    @Option(
        name: .customLong("memory-budget"),
        help: "Keep parameters and optimizer state in a RAM-over-SSD store within this budget: bytes (8MiB, 500KB, 1048576) or a share of their size (25%).")
    var memoryBudget: String?
    @Option(name: .customLong("offload-dir"), help: "Where the SSD tier of --memory-budget keeps its file.") var offloadDirectory = "/var/tmp"
    @Option(help: "Record a timeline of the run (Chrome trace JSON: open in ui.perfetto.dev or chrome://tracing; with several ranks, rank r > 0 writes NAME-rankR.json).") var trace: String?
    @Option(
        help: "Train data-parallel on this many processes on this machine, over loopback TCP (across machines, start one `deepseek train` per rank with srun, mpirun or a torchrun-style launcher instead).")
    var nodes: Int?
    @Option(help: "Gradient compression between ranks: none, or topk:DENSITY (topk:0.01 sends the largest 1% of each bucket).") var compression = "none"
    @Flag(inversion: .prefixedNo, help: "With top-k compression, keep what was not sent and add it to the next step's gradient.") var errorFeedback = true
    @Option(name: .customLong("zero-stage"), help: "What each rank shards: 1 optimizer state, 2 also gradients, 3 also parameters.") var zeroStage = 1
    @Option(name: .customLong("bucket-bytes"), help: "Gradient bytes reduced together between ranks.") var bucketBytes = 1 << 20
    @Option(name: .customLong("collective-timeout"), help: "Seconds a rank waits for a silent peer before it fails naming that peer.") var collectiveTimeout = 60.0
    @Option(name: .customLong("join-timeout"), help: "Seconds to wait for every rank to join.") var joinTimeout = 60.0
    @Option(name: .customLong("secret-file"), help: "The cluster secret for ranks started by an external launcher (or DEEPSEEK_CLUSTER_SECRET).") var secretFile: String?
    @Option(help: ArgumentHelp("This process's rank (set by --nodes).", visibility: .hidden)) var rank: Int?
    @Option(name: .customLong("world-size"), help: ArgumentHelp("Number of ranks (set by --nodes).", visibility: .hidden)) var worldSize: Int?
    @Option(help: ArgumentHelp("Rank 0's host:port (set by --nodes).", visibility: .hidden)) var coordinator: String?
    @Option(name: .customLong("launcher-pid"), help: ArgumentHelp("Exit when this process (the launcher) is gone.", visibility: .hidden)) var launcherPID: Int32?
    @Option(name: .customLong("crash-rank"), help: ArgumentHelp("Fault injection: this rank kills itself (SIGKILL) …", visibility: .hidden)) var crashRank: Int?
    @Option(name: .customLong("crash-at-step"), help: ArgumentHelp("… after this many steps.", visibility: .hidden)) var crashAtStep: Int?

    func run() async throws {
        // A malformed budget is refused before minutes of loading, whatever the state's size.
        if let memoryBudget { _ = try Self.parseBudget(memoryBudget, of: 1) }
        if let placement = try rankPlacement() { return try await runRank(placement) }
        if let nodes, nodes > 1 { return try await launch(nodes: nodes) }
        let wallStart = ContinuousClock.now
        let job = try prepare(announce: true)
        let recording = try trace.map { try TraceRecording(path: $0, processName: "deepseek train (node 0)") }
        let system = DeepseekActorSystem(
            transport: InProcessNetwork().transport(for: NodeID(0)), settings: ActorSystemSettings(tracer: recording?.tracer ?? .disabled))
        try await system.start()
        let device = DeviceActor(backend: job.cpu, kind: .cpu, name: "cpu0", actorSystem: system)
        let engine = try await Engine(actorSystem: system, devices: [device])
        do {
            try await fit(job.network, engine, job.settings, job.train, job.test, job.description, wallStart, learningRate: job.learningRate)
        } catch {
            _ = try? recording?.finish(metadata: ["outcome": "failed: \(error)"])
            throw error
        }
        if let recording { print(try recording.finish(metadata: ["command": CommandLine.arguments.joined(separator: " ")])) }
        withExtendedLifetime(device) {}
        await system.shutdown()
    }

    /// What every process of a job prepares the same way: the data, the model, the settings.
    struct Job {
        var train: LabeledImages
        var test: LabeledImages
        var network: any Module
        var settings: TrainerSettings
        var learningRate: Double
        var description: String
        var cpu: CPUBackend
    }

    /// Loads (and standardizes) the data and builds the model with the seed, so every rank
    /// starts from identical weights and draws identical batches.
    func prepare(announce: Bool) throws -> Job {
        guard FashionMNIST.isAvailable(directory: data) else {
            throw ValidationError("Fashion-MNIST is not in \(data); install it with `apt-get install dataset-fashion-mnist` or pass --data")
        }
        let learningRate = self.learningRate ?? (optimizer == .sgd ? 0.1 : 0.001)
        guard epochs >= 1, batchSize >= 1, learningRate > 0, hidden >= 1, warmupSteps >= 0 else {
            throw ValidationError("--epochs, --batch-size and --hidden must be ≥ 1, --learning-rate > 0 and --warmup-steps ≥ 0")
        }
        if resume && checkpointDirectory == nil { throw ValidationError("--resume needs --checkpoint-dir") }
        var train = try FashionMNIST.load(split: .train, directory: data)
        var test = try FashionMNIST.load(split: .test, directory: data)
        if normalize {
            let standardization = try Standardization(fitting: train)
            train = try standardization.apply(train)
            test = try standardization.apply(test)
            if announce { Self.emit("standardized pixels: \(standardization)") }
        }
        // The engine's device runs the model; the optimizer's updates and the metrics run on the
        // process default, which must be the fast backend too.
        if let threads, threads < 1 { throw ValidationError("--threads must be ≥ 1, got \(threads)") }
        let cpu = CPUBackend(settings: CPUBackendSettings(threads: threads))
        KernelBackends.default = cpu
        var rng = SeededRandom(seed: seed)
        let (network, inputShape, name): (any Module, [Int], String) =
            switch model {
            case .mlp: (try MLP(sizes: [784, hidden, 10], rng: &rng), [784], "MLP 784-\(hidden)-10")
            case .lenet: (try LeNet(rng: &rng), [1, 28, 28], "LeNet-5")
            case .transformerTiny: (try TransformerClassifier(rng: &rng), [28, 28], "transformer-tiny (2 blocks, dim 64, 4 heads)")
            }
        let steps = epochs * (stepsPerEpoch.map { min($0, train.count / batchSize) } ?? train.count / batchSize)
        let rate = try makeSchedule(base: learningRate, totalSteps: steps)
        let settings = TrainerSettings(
            epochs: epochs, batchSize: batchSize, seed: seed, inputShape: inputShape, stepsPerEpoch: stepsPerEpoch,
            gradientClipNorm: clipNorm, learningRate: { rate.learningRate(atStep: $0) }, precision: precision.precision,
            progress: announce ? .automatic : .none)
        let description = "\(name) on Fashion-MNIST (\(train.count) train, \(test.count) test), \(optimizer) lr \(learningRate) (\(schedule)\(warmupSteps > 0 ? " after \(warmupSteps) warm-up steps" : "")), batch \(batchSize), \(epochs) epochs, \(precision)"
        return Job(train: train, test: test, network: network, settings: settings, learningRate: learningRate, description: description, cpu: cpu)
    }

    /// Trains with the optimizer named on the command line.
    func fit(
        _ network: any Module, _ engine: Engine, _ settings: TrainerSettings, _ train: LabeledImages, _ test: LabeledImages,
        _ description: String, _ wallStart: ContinuousClock.Instant, learningRate: Double
    ) async throws {
        switch optimizer {
        case .sgd:
            try await fit(network, try SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay), engine, settings, train, test, description, wallStart)
        case .adam:
            try await fit(network, try Adam(learningRate: learningRate, weightDecay: weightDecay), engine, settings, train, test, description, wallStart)
        case .adamw:
            try await fit(network, try AdamW(learningRate: learningRate, weightDecay: weightDecay), engine, settings, train, test, description, wallStart)
        case .lamb:
            try await fit(network, try LAMB(learningRate: learningRate, weightDecay: weightDecay), engine, settings, train, test, description, wallStart)
        }
    }
}

extension TrainCommand {
    func makeSchedule(base: Double, totalSteps: Int) throws -> any LearningRateSchedule {
        let main: any LearningRateSchedule =
            switch schedule {
            case .constant: try ConstantSchedule(base: base)
            case .cosine: try CosineDecay(base: base, totalSteps: max(1, totalSteps - warmupSteps), floor: base * 0.01)
            }
        return warmupSteps > 0 ? try LinearWarmup(steps: warmupSteps, then: main) : main
    }

    func fit<O: Optimizer>(
        _ network: any Module, _ optimizer: O, _ engine: Engine, _ settings: TrainerSettings, _ train: LabeledImages, _ test: LabeledImages,
        _ description: String, _ wallStart: ContinuousClock.Instant
    ) async throws {
        let trainer = Trainer(model: network, optimizer: optimizer, engine: engine, settings: settings)
        if let memoryBudget {
            let slots = Self.stateSlots(of: optimizer)
            let state = TrainingOffload.stateBytes(model: network, optimizerStateTensorsPerParameter: slots)
            let budget = try Self.parseBudget(memoryBudget, of: state)
            trainer.offload = try await TrainingOffload(trainer: trainer, memoryBudgetBytes: budget, directory: offloadDirectory)
            print("memory budget: \(budget) bytes of \(state) bytes of parameters and optimizer state (the rest on the SSD tier in \(offloadDirectory))")
        }
        if let metricsCSV { trainer.callbacks.append(try MetricsCSV(path: metricsCSV)) }
        var saver: CheckpointEveryEpoch<O>?
        if let checkpointDirectory {
            let directory = try CheckpointDirectory(checkpointDirectory)
            if resume {
                guard let checkpoint = try directory.loadLatest() else {
                    throw ValidationError("--resume: no checkpoint in \(checkpointDirectory)")
                }
                try trainer.resume(from: checkpoint)
                print("resumed from \(checkpointDirectory) after epoch \(trainer.completedEpochs), step \(trainer.globalStep)")
            }
            let callback = CheckpointEveryEpoch(directory: directory, trainer: trainer)
            trainer.callbacks.append(callback)
            saver = callback
        }
        print("training \(description)")
        let reports = try await trainer.fit(train, validation: test)
        if let error = saver?.error { throw error }
        var storageHitRate: Double?
        if let offload = trainer.offload {
            let c = await offload.store.counters()
            storageHitRate = c.hitRate
            print("storage: hit rate \(Int((c.hitRate * 1000).rounded()) / 10 )%, read \(c.bytesRead / 1024) KiB, written \(c.bytesWritten / 1024) KiB, \(c.stalls) stalls (\(Int(c.stallSeconds * 1000)) ms), \(c.prefetchHits) prefetch hits")
            try await offload.detach(from: trainer)
            trainer.offload = nil
        }
        guard let last = trainer.history.last else { return }
        print("final test accuracy: \(Double(Int(last.testAccuracy * 10000)) / 100)%")
        if let metricsJSON {
            try MetricsJSON.write(
                [
                    ("test_accuracy", last.testAccuracy), ("test_loss", last.testLoss), ("train_loss", last.meanLoss), ("epochs", Double(trainer.completedEpochs)),
                    ("samples_per_second", Self.samplesPerSecond(reports, batchSize: settings.batchSize)),
                    ("wall_seconds", (ContinuousClock.now - wallStart).inSeconds),
                ] + (storageHitRate.map { [("storage_hit_rate", $0)] } ?? []), to: metricsJSON)
        }
    }
}

extension TrainCommand {
    /// Training throughput over the epochs of `reports`, evaluation excluded.
    static func samplesPerSecond(_ reports: [EpochReport], batchSize: Int) -> Double {
        let samples = reports.reduce(0) { $0 + $1.steps } * batchSize
        let seconds = reports.reduce(0.0) { $0 + ($1.samplesPerSecond > 0 ? Double($1.steps * batchSize) / $1.samplesPerSecond : 0) }
        return seconds > 0 ? Double(samples) / seconds : .nan
    }

    /// Optimizer state tensors per parameter: momentum for SGD with momentum, two moments for
    /// the Adam family and LAMB.
    static func stateSlots<O: Optimizer>(of optimizer: O) -> Int {
        switch optimizer {
        case let sgd as SGD: sgd.momentum == 0 ? 0 : 1
        default: 2
        }
    }

    /// `25%` of `total`, or a byte count with an optional KB/MB/GB (powers of 1000) or
    /// KiB/MiB/GiB (powers of 1024) suffix.
    static func parseBudget(_ text: String, of total: Int) throws -> Int {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasSuffix("%"), let share = Double(trimmed.dropLast()), share > 0, share <= 100 {
            return max(1, Int(Double(total) * share / 100))
        }
        let units: [(String, Double)] = [("KiB", 1024), ("MiB", 1_048_576), ("GiB", 1_073_741_824), ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("B", 1)]
        for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
            if let value = Double(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), value > 0 { return Int(value * scale) }
        }
        if let bytes = Int(trimmed), bytes > 0 { return bytes }
        throw ValidationError("--memory-budget: '\(text)' is neither a share (25%) nor a size (8MiB, 500KB, 1048576)")
    }
}

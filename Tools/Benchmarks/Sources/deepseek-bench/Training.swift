import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTraining

// The `training` group: one training step through the engine against the same step in PyTorch.

func runTraining(_ options: Options, pytorch: inout PyTorchBaseline) async throws -> GroupReport {
    var report = GroupReport(group: Group.training.rawValue, title: "Training steps vs PyTorch", command: options.command(for: .training))
    report.columns = [
        Column("case", "training step (SGD)"), Column("ms", "Deepseek ms", .fixed(2)), Column("torch_ms", "PyTorch ms", .fixed(2)),
        Column("samples", "Deepseek samples/s", .fixed(0)), Column("torch_samples", "PyTorch samples/s", .fixed(0)),
        Column("speed", "speed vs PyTorch", .ratio), Column("target", "target"),
    ]
    let threads = options.threads.max() ?? 2
    pytorch.measure(group: "training", threads: [threads], repetitions: max(options.repetitions, 30), minimumSampleSeconds: 0)
    // Optimizer updates run on the process default backend; make it the CPU backend the device uses.
    let backend = CPUBackend()
    KernelBackends.default = backend
    let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
    try await system.start()
    let cpu = DeviceActor(backend: backend, kind: .cpu, name: "cpu0", actorSystem: system)
    let engine = try await Engine(actorSystem: system, devices: [cpu])
    var rng = SeededRandom(seed: 3)

    func classifierCase(_ name: String, _ model: any Module, inputShape: [Int], batch: Int, target: String) async throws {
        let trainer = Trainer(model: model, optimizer: try SGD(learningRate: 0.01), engine: engine,
                              settings: TrainerSettings(batchSize: batch, inputShape: inputShape))
        let images = try Tensor.uniform(Shape([batch] + inputShape), rng: &rng)
        let labels = try Tensor((0..<batch).map { Int64($0 % 10) }, shape: [batch])
        let minibatch = MiniBatch(images: images, labels: labels, indices: Array(0..<batch))
        for _ in 0..<3 { _ = try await trainer.trainStep(minibatch) }
        progress("training: \(name)")
        let samples = try await measureAsync(
            [AsyncContestant(name: name) { _ = try await trainer.trainStep(minibatch) }],
            repetitions: max(options.repetitions, 30), minimumSampleSeconds: 0)
        record(name, seconds: samples[0].median, batch: batch, target: target)
    }

    func record(_ name: String, seconds: Double, batch: Int, target: String) {
        let torch = pytorch.seconds(group: "training", name: name, threads: threads)
        report.records.append([
            "case": .text(name), "ms": .number(seconds * 1e3), "torch_ms": torch.map { .number($0 * 1e3) } ?? .missing,
            "samples": .number(Double(batch) / seconds), "torch_samples": torch.map { .number(Double(batch) / $0) } ?? .missing,
            "speed": torch.map { .number($0 / seconds) } ?? .missing, "target": .text(target),
        ])
    }

    try await classifierCase("MLP 784-1024-1024-10, batch 128", try MLP(sizes: [784, 1024, 1024, 10], rng: &rng), inputShape: [784], batch: 128, target: "≥ 1.0×")
    try await classifierCase("LeNet-5, batch 64", try LeNet(rng: &rng), inputShape: [1, 28, 28], batch: 64, target: "≥ 1.0×")

    // The transformer layer: loss = mean of the squared output, as in the PyTorch script.
    let name = "Transformer encoder layer d256 h4, seq 128, batch 16"
    let block = try TransformerEncoderBlock(dim: 256, heads: 4, rng: &rng)
    let x = try Tensor.uniform([16, 128, 256], rng: &rng)
    var sgd = try SGD(learningRate: 0.01)
    var cached: (Graph, [String])?
    func transformerStep() async throws {
        let (graph, names): (Graph, [String])
        if let cached { (graph, names) = cached } else {
            let tracer = GraphTracer()
            let input = try tracer.input("x", TensorType([16, 128, 256]))
            let y = try block(input)
            let loss = try (y * y).mean()
            let forward = tracer.finish(outputs: [loss])
            let training = try forward.trainingGraph(loss: loss.id)
            (graph, names) = (training.graph, training.targets.map { forward[node: forward[value: $0].producer].name })
            cached = (graph, names)
        }
        let result = try await engine.run(graph, GraphFeeds(inputs: ["x": x], parameters: block.parameterValues))
        var gradients: [String: Tensor] = [:]
        for (n, g) in zip(names, result.outputs.dropFirst()) { gradients[n] = g }
        try sgd.step(block.parameters.filter(\.isTrainable), gradients: gradients.filter { k, _ in block.parameters.contains { $0.name == k && $0.isTrainable } })
    }
    for _ in 0..<2 { try await transformerStep() }
    progress("training: \(name)")
    let samples = try await measureAsync([AsyncContestant(name: name) { try await transformerStep() }], repetitions: max(options.repetitions, 30), minimumSampleSeconds: 0)
    record(name, seconds: samples[0].median, batch: 16, target: "≥ 0.8×")

    // The data-loader actor: steps/s over an epoch of real batches (gathered, shuffled, prefetched
    // on a background task) against the same steps on one batch already in memory.
    let loaderName = "MLP 784-256-10, batch 64: epoch with the data-loader actor vs in-memory batches"
    let examples = 6400
    let dataset = LabeledImages(
        images: try Tensor.uniform([examples, 784], rng: &rng), labels: try Tensor((0..<examples).map { Int64($0 % 10) }, shape: [examples]),
        height: 28, width: 28)
    func loaderTrainer(prefetch: Int) throws -> Trainer<SGD> {
        Trainer(model: try MLP(sizes: [784, 256, 10], seed: 1), optimizer: try SGD(learningRate: 0.01), engine: engine,
                settings: TrainerSettings(epochs: 1, batchSize: 64, inputShape: [784], prefetch: prefetch))
    }
    let fixed = MiniBatch(images: try dataset.images.sliced(axis: 0, start: 0, end: 64).contiguous(),
                          labels: try dataset.labels.sliced(axis: 0, start: 0, end: 64).contiguous(), indices: Array(0..<64))
    // The baseline: an epoch's batches made before the clock starts, each a tensor of its own in
    // memory (one batch used over and over would stay in the core's cache, which no real epoch does).
    let shuffled = try Batches(dataset, batchSize: 64, shuffle: true, seed: 1, dropLast: true)
    let order = shuffled.order(epoch: 0)
    let premade = try (0..<shuffled.batchesPerEpoch).map { try shuffled.batch($0, order: order) }
    progress("training: \(loaderName)")
    var withLoader: [Double] = []
    var inMemory: [Double] = []
    var inLoop: [Double] = []
    var oneBatch: [Double] = []
    for _ in 0..<max(3, options.repetitions / 2) {
        let a = try loaderTrainer(prefetch: 2)
        var t = monotonicSeconds()
        _ = try await a.fit(dataset)
        withLoader.append(Double(a.globalStep) / (monotonicSeconds() - t))
        let b = try loaderTrainer(prefetch: 2)
        _ = try await b.trainStep(fixed)
        t = monotonicSeconds()
        for batch in premade { _ = try await b.trainStep(batch) }
        inMemory.append(Double(premade.count) / (monotonicSeconds() - t))
        t = monotonicSeconds()
        for _ in 0..<premade.count { _ = try await b.trainStep(fixed) }
        oneBatch.append(Double(premade.count) / (monotonicSeconds() - t))
        let c = try loaderTrainer(prefetch: 0)
        t = monotonicSeconds()
        _ = try await c.fit(dataset)
        inLoop.append(Double(c.globalStep) / (monotonicSeconds() - t))
    }
    let ratios = zip(withLoader, inMemory).map { $0 / $1 }
    report.records.append([
        "case": .text(loaderName), "ms": .number(1e3 / Samples(seconds: withLoader).median), "samples": .number(64 * Samples(seconds: withLoader).median),
        "speed": .number(Samples(seconds: ratios).median), "target": .text("≥ 0.95× of in-memory (column: loader ÷ in-memory)"),
    ])
    report.notes.append("Data loader: \(formatNumber(Samples(seconds: withLoader).median, digits: 0)) steps/s with the prefetching actor (Trainer.fit), \(formatNumber(Samples(seconds: inMemory).median, digits: 0)) on the epoch's batches made beforehand (trainStep in a loop), \(formatNumber(Samples(seconds: inLoop).median, digits: 0)) making batches in the training loop (prefetch 0), \(formatNumber(Samples(seconds: oneBatch).median, digits: 0)) on one batch used for every step (cache-hot). One epoch of 100 steps per sample, the trained graph already cached by the warm-up.")

    report.notes.append("Median of ≥ 30 steps after warm-up, one synthetic batch, SGD lr 0.01; PyTorch \(pytorch.version ?? "—") with torch.set_num_threads(\(threads)), same model, batch and loss, measured by Tools/Benchmarks/pytorch_baselines.py in the same run. \(pytorch.unavailableReason ?? "")")
    report.notes.append("Deepseek's step traces the model, reuses the differentiated graph (cached by structural hash), runs forward and backward on one CPU device actor and applies SGD with Tensor ops.")
    withExtendedLifetime(cpu) {}
    return report
}

import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekModels
import DeepseekNN
import DeepseekRuntime
public import DeepseekTensor
import DeepseekTraining
public import DeepseekTracing

/// What a data-parallel scenario did when the runtime itself ran it on virtual time.
public struct RuntimeExecutionReport: Sendable {
    /// Virtual seconds of each measured step: from all ranks starting it to the last finishing.
    public var stepSeconds: [Double]
    /// The median of `stepSeconds`.
    public var iterationSeconds: Double
    /// Examples per step over all ranks.
    public var globalBatch: Int
    /// Ranks (processes, one device each).
    public var ranks: Int
    /// Mean loss over the ranks, per step (warm-up steps included), from the real values.
    public var losses: [Double]
    /// Messages and bytes the actor systems sent through the simulated network, per step.
    public var messagesPerStep: Double
    public var bytesPerStep: Double
    /// Paced kernels per step and rank, and the device seconds they took.
    public var kernelsPerStepAndRank: Double
    public var deviceSecondsPerStepAndRank: Double
    /// Real seconds the simulation took.
    public var wallSeconds: Double
    /// Events of the virtual cluster's queue (deliveries, kernel ends, timers) over the whole run.
    public var events: Int
    /// What stopped the run early (a crashed node's silence ends in a timeout), with the step
    /// and the virtual time; `nil` when every step completed.
    public var failure: String?
    /// The actor systems' message timeline (send, receive, handler spans, kernels) on virtual
    /// time, when asked for.
    public var trace: [TraceEvent]

    public var samplesPerSecond: Double { iterationSeconds > 0 ? Double(globalBatch) / iterationSeconds : 0 }

    /// A Markdown summary.
    public var markdown: String {
        var o = "## Run by the runtime on virtual time\n\n"
        o += "Every rank's actor system, engine, operator and device actors, communicator, distributed optimizer and parameter shard ran as in `deepseek train --nodes \(ranks)`; kernels took the device model's time, messages the network model's.\n\n"
        o += "| | |\n|---|---|\n"
        o += "| iteration time (median of \(stepSeconds.count) steps) | \(fmt(iterationSeconds * 1e3)) ms |\n"
        o += "| steps | \(stepSeconds.map { fmt($0 * 1e3) }.joined(separator: ", ")) ms |\n"
        o += "| throughput | \(fmt(samplesPerSecond)) samples/s |\n"
        o += "| kernels per rank and step | \(fmt(kernelsPerStepAndRank)) (\(fmt(deviceSecondsPerStepAndRank * 1e3)) ms of device time) |\n"
        o += "| messages per step | \(fmt(messagesPerStep)) (\(fmt(bytesPerStep / 1e6)) MB) |\n"
        o += "| losses | \(losses.map { fmt($0) }.joined(separator: ", ")) |\n"
        if let failure { o += "\n**The run failed:** \(failure)\n" }
        return o
    }

    /// The figures as one JSON object (what `ScenarioReport.json(runtime:)` embeds).
    public var jsonObject: String {
        func num(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
        var o = "{\"iteration_seconds\": \(num(iterationSeconds)), \"samples_per_second\": \(num(samplesPerSecond)), "
        o += "\"step_seconds\": [\(stepSeconds.map(num).joined(separator: ", "))], \"losses\": [\(losses.map(num).joined(separator: ", "))], "
        o += "\"ranks\": \(ranks), \"global_batch\": \(globalBatch), \"messages_per_step\": \(num(messagesPerStep)), \"bytes_per_step\": \(num(bytesPerStep)), "
        o += "\"kernels_per_step_and_rank\": \(num(kernelsPerStepAndRank)), \"device_seconds_per_step_and_rank\": \(num(deviceSecondsPerStepAndRank)), "
        o += "\"failure\": \(failure.map(jsonString) ?? "null")}"
        return o
    }

    /// A number with at most three decimals.
    public func fmt(_ v: Double) -> String {
        let r = (v * 1000).rounded() / 1000
        return r == r.rounded() ? String(Int(r)) : String(r)
    }
}

extension Scenario {
    /// Runs the scenario's data-parallel training step with the runtime's own actors on a
    /// `VirtualCluster` of its topology and device model: `warmUp` steps, then `steps` measured.
    ///
    /// Values are real (computed by `backend`), so the model's parameters must fit this machine
    /// once per rank; only data parallelism (any ZeRO stage, dense or top-k gradients, the ring)
    /// runs this way — tensor and pipeline parallelism exist only in the lane model.
    ///
    /// - Throws: `SimulationError.invalidConfiguration` naming the field the runtime cannot run.
    /// - Parameters:
    ///   - maximumWork: the most FLOPs of real compute the run may take (all ranks, all steps).
    ///   - trace: record the actor systems' messages and kernels on virtual time.
    public func runOnRuntime(
        backend: any KernelBackend, warmUp: Int = 2, steps: Int = 5, maximumWork: Double = 2e12, trace: Bool = false
    ) async throws -> RuntimeExecutionReport {
        let wallStart = ContinuousClock.now
        let ranks = layout.dataParallel
        guard layout.tensorParallel == 1, layout.pipelineParallel == 1 else {
            throw SimulationError(
                .invalidConfiguration, "the runtime has data parallelism only; tensor \(layout.tensorParallel) × pipeline \(layout.pipelineParallel) runs in the lane model (without --execution runtime)",
                field: "parallelism")
        }
        guard layout.microbatches == 1 else {
            throw SimulationError(.invalidConfiguration, "gradient accumulation over \(layout.microbatches) microbatches runs in the lane model only", field: "batch.microbatches")
        }
        guard algorithm == .ring else {
            throw SimulationError(.invalidConfiguration, "the runtime's DistributedOptimizer reduces with the ring; \(algorithm) runs in the lane model only", field: "collective")
        }
        guard ranks <= topology.deviceCount else {
            throw SimulationError(.invalidConfiguration, "data parallelism \(ranks) needs \(ranks) devices; the cluster has \(topology.deviceCount)", field: "parallelism.data")
        }
        guard layout.zeroStage >= 1, let stage = ZeROStage(rawValue: layout.zeroStage) else {
            throw SimulationError(.invalidConfiguration, "the runtime's DistributedOptimizer shards optimizer state (ZeRO 1–3); stage \(layout.zeroStage) runs in the lane model only", field: "parallelism.zero")
        }
        let choice: OptimizerChoice
        switch optimizer {
        case "sgd": choice = .sgd(learningRate: 0.01)
        case "adam": choice = .adam()
        case "adamw": choice = .adamW()
        case "lamb": choice = .lamb()
        default: throw SimulationError(.invalidConfiguration, "optimizer \"\(optimizer)\" is not one the runtime has (sgd, adam, adamw, lamb)", field: "optimizer")
        }
        let shapes = try ModelZoo.build(name: modelName, size: modelSize, batch: microbatchSize, tokens: tokens, materialize: false)
        guard shapes.input.type.dtype == .float32, shapes.input.targets.shape.rank == 1 else {
            throw SimulationError(.invalidConfiguration, "runtime execution trains classifiers of float inputs (mlp, lenet, resnet); \(modelName) runs in the lane model only", field: "model.name")
        }
        let work = try WorkloadProfile(shapes).trainingFlops * Double(ranks * (warmUp + steps))
        guard work <= maximumWork else {
            throw SimulationError(
                .invalidConfiguration,
                "\(modelName) at \(microbatchSize) examples on \(ranks) ranks is \(Int(work / 1e9)) GFLOP of real compute over \(warmUp + steps) steps; runtime execution stops at \(Int(maximumWork / 1e9)) (use fewer ranks or a smaller batch, or the lane model)",
                field: "model.name")
        }
        let wire = Precision(rawValue: precision.rawValue) ?? .fp32
        let cluster = VirtualCluster(topology: topology, device: device, precision: precision, faults: faults, seed: seed)
        let global = microbatchSize * ranks
        let inputShape = Array(shapes.input.type.shape.dims.dropFirst())
        var rng = SeededRandom(seed: seed)
        let images = try Tensor.normal(Shape([global] + inputShape), rng: &rng)
        let labels = try Tensor((0..<global).map { Int64($0 % shapes.input.classes) }, shape: Shape([global]))
        let batch = MiniBatch(images: images, labels: labels, indices: Array(0..<global))
        let total = warmUp + steps
        let name = modelName, size = modelSize, micro = microbatchSize, tokens = tokens, compression = compression
        let bucket = Int(bucketBytes), seed = seed
        let recorder = RingBufferRecorder(capacityPerShard: trace ? 1 << 18 : 1, shardCount: 1, policy: .dropNewest)
        let tracer = trace ? Tracer(recorder: recorder, clock: cluster) : .disabled
        let ((times, losses, failure), _) = try await cluster.run { () -> ([Double], [Double], String?) in
            var trainers: [Trainer<SGD>] = []
            var communicators: [Communicator] = []
            var keep: [DeviceActor] = []
            for r in 0..<ranks {
                let system = try await cluster.actorSystem(rank: r, tracer: tracer)
                let device = try await cluster.device(rank: r, backend: backend)
                keep.append(device)
                let engine = try await Engine(actorSystem: system, devices: [device], settings: EngineSettings(sourceProcess: r))
                let zoo = try ModelZoo.build(name: name, size: size, batch: micro, tokens: tokens, materialize: true, seed: seed)
                let trainer = Trainer(
                    model: zoo.module, optimizer: try SGD(learningRate: 0.01), engine: engine,
                    settings: TrainerSettings(epochs: 1, batchSize: global, seed: seed, inputShape: inputShape, prefetch: 0))
                let communicator = await Communicator(group: CollectiveGroup(worldSize: ranks), rank: r, actorSystem: system)
                trainers.append(trainer)
                communicators.append(communicator)
            }
            for c in communicators { await c.connect() }
            for (r, t) in trainers.enumerated() {
                t.distributed = try await DistributedOptimizer(
                    t.model.parameters, optimizer: choice, precision: wire, compression: compression,
                    settings: DistributedSettings(stage: stage, bucketBytes: bucket, pacing: VirtualDevicePacing(cluster: cluster, index: r)),
                    communicator: communicators[r])
            }
            var times: [Double] = [], losses: [Double] = []
            var failure: String?
            for step in 0..<total {
                let start = cluster.seconds
                do {
                    let loss = try await withThrowingTaskGroup(of: Double.self) { group in
                        for t in trainers { group.addTask { try await t.trainStep(batch).loss } }
                        var first = 0.0
                        for try await l in group { first = l }
                        return first
                    }
                    times.append(cluster.seconds - start)
                    losses.append(loss)
                } catch {
                    failure = "step \(step + 1) of \(total) stopped at \(cluster.seconds) s of virtual time: \(error)"
                    break
                }
            }
            withExtendedLifetime(keep) {}
            return (times, losses, failure)
        }
        let statistics = cluster.statistics
        let measured = Array(times.dropFirst(warmUp))
        let sorted = measured.sorted()
        return RuntimeExecutionReport(
            stepSeconds: measured, iterationSeconds: sorted.isEmpty ? 0 : sorted[sorted.count / 2], globalBatch: global, ranks: ranks, losses: losses,
            messagesPerStep: Double(statistics.messages) / Double(max(1, times.count)), bytesPerStep: Double(statistics.bytes) / Double(max(1, times.count)),
            kernelsPerStepAndRank: Double(statistics.kernels) / Double(max(1, times.count) * ranks),
            deviceSecondsPerStepAndRank: statistics.deviceSeconds / Double(max(1, times.count) * ranks),
            wallSeconds: (ContinuousClock.now - wallStart).inSeconds, events: statistics.events, failure: failure, trace: trace ? recorder.drain() : [])
    }
}

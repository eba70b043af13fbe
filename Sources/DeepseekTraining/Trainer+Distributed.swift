import DeepseekCore
import DeepseekGraph
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor

/// Data-parallel training through `Trainer.distributed`.
///
/// Every rank runs the same trainer with the same seed, so every rank draws the same global
/// batches; rank `r` of `n` trains on rows `r·b/n ..< (r+1)·b/n` of each. The local gradients
/// (of the mean loss over the rank's rows) are averaged by the `DistributedOptimizer`, which
/// equals the gradient of the mean over the global batch when the shares are equal — so the
/// run follows a one-process run with the same global batch up to float rounding.
extension Trainer {
    /// One step on this rank's share of `batch`; the loss returned is the mean over all ranks.
    func trainStep(_ batch: MiniBatch, distributed d: DistributedOptimizer) async throws -> (loss: Double, gradientNorm: Double?, planCacheHit: Bool) {
        guard lossScaler == nil else {
            throw DatasetError(
                .invalidArgument,
                "Trainer: float16 loss scaling skips steps per rank, which would desynchronise the ranks; train distributed with bf16 or fp32")
        }
        guard settings.gradientClipNorm == nil else {
            throw DatasetError(
                .invalidArgument, "Trainer: gradient clipping needs the norm of the averaged gradient, which distributed training does not compute yet; drop the clip norm")
        }
        if let schedule = settings.learningRate { optimizer.learningRate = schedule(globalStep) }
        await d.setLearningRate(optimizer.learningRate)
        let share = try Self.share(of: batch, rank: d.rank, of: d.worldSize)
        let n = share.images.shape[0]
        guard n > 0 else {
            throw DatasetError(.invalidArgument, "Trainer: a batch of \(batch.images.shape[0]) leaves rank \(d.rank) of \(d.worldSize) no examples; use a batch size that is a multiple of the number of ranks")
        }
        let clock = ContinuousClock()
        let computeStart = clock.now
        if d.settings.stage == .three { try await d.gatherParameters() }
        let (loss, maxAbs, report) = try await forwardBackward(share, handingGradientsTo: d)
        if d.settings.stage == .three { await d.releaseParameters() }
        if settings.precision != .fp32 { _ = precisionSwitch?.record(maxAbs: maxAbs, lossScale: 1) }
        // What remains: the buckets still in flight, the update and the gather. The mean loss
        // over the ranks travels meanwhile.
        let syncStart = clock.now
        let tag = await d.communicator.nextTag()
        async let losses = d.communicator.allReduce([Float(loss)], tag: tag)
        try await d.finishStep()
        let mean = Double(try await losses[0]) / Double(d.worldSize)
        let end = clock.now
        distributedSeconds.compute += (syncStart - computeStart).inSeconds
        distributedSeconds.synchronization += (end - syncStart).inSeconds
        globalStep += 1
        return (mean, nil, report.planCacheHit)
    }

    /// Forward and backward on `batch`, handing every trainable parameter's gradient to `d` the
    /// moment the engine has produced it: backward produces the last layers' gradients first,
    /// the optimizer's buckets are cut in that order, so the first buckets are reduced while
    /// backward still runs. Returns the loss, each gradient's largest magnitude (mixed
    /// precision only) and the engine's report.
    ///
    /// Each gradient is handed over as is, so the step reduces the same values in the same
    /// order as when all are handed over after backward — only earlier.
    func forwardBackward(
        _ batch: MiniBatch, handingGradientsTo d: DistributedOptimizer
    ) async throws -> (loss: Double, maxAbs: [String: Double], report: EngineReport) {
        let (gradients, producer) = AsyncStream.makeStream(of: (name: String, gradient: Tensor, producedAt: ContinuousClock.Instant).self)
        let mixed = settings.precision != .fp32
        let step = globalStep
        let precision = settings.precision
        await d.beginStep()
        // The engine's handler only enqueues; this task converts (mixed precision) and hands over.
        async let handOver: (maxAbs: [String: Double], last: ContinuousClock.Instant?) = {
            var maxAbs: [String: Double] = [:]
            var last: ContinuousClock.Instant?
            for await (name, g, producedAt) in gradients {
                last = producedAt
                var gradient = g
                if mixed {
                    let unscaled = try UnscaledGradients([name: g], scale: 1)
                    guard unscaled.isFinite else {
                        throw DatasetError(.invalidArgument, "Trainer: non-finite gradient for \(name) at step \(step) on rank \(d.rank) (\(precision)); lower the learning rate")
                    }
                    maxAbs[name] = unscaled.maxAbs[name]
                    gradient = unscaled.gradients[name] ?? g
                }
                try await d.gradientReady(name: name, tensor: gradient)
            }
            return (maxAbs, last)
        }()
        let result: (loss: Double, gradients: [String: Tensor], report: EngineReport)
        do {
            result = try await forwardBackward(batch) { name, t in producer.yield((name, t, .now)) }
        } catch {
            producer.finish()
            _ = try? await handOver
            await d.abandonStep()
            throw error
        }
        producer.finish()
        let handed: (maxAbs: [String: Double], last: ContinuousClock.Instant?)
        do { handed = try await handOver } catch {
            await d.abandonStep()
            throw error
        }
        await d.backwardFinished(at: handed.last ?? .now)
        return (result.loss, handed.maxAbs, result.report)
    }

    /// Rows `r·b/n ..< (r+1)·b/n` of `batch`.
    static func share(of batch: MiniBatch, rank: Int, of worldSize: Int) throws -> MiniBatch {
        let b = batch.images.shape[0]
        let lo = rank * b / worldSize
        let hi = (rank + 1) * b / worldSize
        return MiniBatch(
            images: try batch.images.sliced(axis: 0, start: lo, end: hi).contiguous(),
            labels: try batch.labels.sliced(axis: 0, start: lo, end: hi).contiguous(), indices: Array(batch.indices[lo..<hi]))
    }

    /// Each rank evaluates its share of `data`; the sums of correct answers and losses are
    /// all-reduced, so every rank returns the evaluation of the whole set.
    func evaluate(_ data: LabeledImages, sharedWith d: DistributedOptimizer) async throws -> Evaluation {
        let count = data.count
        let lo = d.rank * count / d.worldSize
        let hi = (d.rank + 1) * count / d.worldSize
        if d.settings.stage == .three { try await d.gatherParameters() }
        var local = Evaluation(loss: 0, accuracy: 0, examples: 0)
        if hi > lo {
            let part = LabeledImages(
                images: try data.images.sliced(axis: 0, start: lo, end: hi).contiguous(),
                labels: try data.labels.sliced(axis: 0, start: lo, end: hi).contiguous(), height: data.height, width: data.width)
            distributed = nil
            defer { distributed = d }
            local = try await evaluate(part)
        }
        if d.settings.stage == .three { await d.releaseParameters() }
        let n = Double(local.examples)
        let tag = await d.communicator.nextTag()
        let sums = try await d.communicator.allReduce([Float(local.accuracy * n), Float(local.loss * n)], tag: tag)
        return Evaluation(loss: Double(sums[1]) / Double(count), accuracy: Double(sums[0]) / Double(count), examples: count)
    }

    /// Runs the asynchronous end-of-epoch work of a distributed run (checkpoints).
    func distributedEpochFinished(_ d: DistributedOptimizer) async throws {
        for case let saver as DistributedCheckpointEveryEpoch in callbacks { try await saver.save(self, d) }
    }

    /// The trainer's checkpoint with the optimizer state of every shard in whole-parameter
    /// form, so it resumes on any number of ranks or in one process. Every rank must call it.
    public func distributedCheckpoint(_ d: DistributedOptimizer, tags: [String: String] = [:]) async throws -> Checkpoint {
        if d.settings.stage == .three { try await d.gatherParameters() }
        var checkpoint = checkpoint(tags: tags)
        if d.settings.stage == .three { await d.releaseParameters() }
        checkpoint.optimizer = try await d.consolidatedState()
        return checkpoint
    }

    /// An XXH64 digest of every parameter's bytes in name order: equal digests on every rank
    /// show the replicas are identical. Every rank must call it (stage 3 gathers).
    public func parameterDigest() async throws -> UInt64 {
        if let d = distributed, d.settings.stage == .three { try await d.gatherParameters() }
        var hasher = XXHash64()
        for (name, value) in model.parameterValues.sorted(by: { $0.key < $1.key }) {
            Array(name.utf8).withUnsafeBytes { hasher.update($0) }
            try value.contiguous().cast(to: .float32).scalars(as: Float.self).withUnsafeBytes { hasher.update($0) }
        }
        if let d = distributed, d.settings.stage == .three { await d.releaseParameters() }
        return hasher.finalize()
    }
}

/// Saves a checkpoint after every epoch of a distributed run: every rank joins in gathering the
/// consolidated optimizer state, one rank (the writer, normally rank 0) writes it.
///
/// Add it to `Trainer.callbacks`; the trainer calls it at each epoch's end while
/// `Trainer.distributed` is set. A failure to write stops training (the ranks must stay in step).
public final class DistributedCheckpointEveryEpoch: TrainerCallback, @unchecked Sendable {
    let directory: CheckpointDirectory
    let writes: Bool
    /// Where each checkpoint went, in order (on the writer).
    public private(set) var written: [String] = []

    /// - Parameter writes: whether this rank writes the files (exactly one rank should).
    public init(directory: CheckpointDirectory, writes: Bool) {
        self.directory = directory
        self.writes = writes
    }

    func save<O: Optimizer>(_ trainer: Trainer<O>, _ d: DistributedOptimizer) async throws {
        let checkpoint = try await trainer.distributedCheckpoint(d, tags: ["world_size": "\(d.worldSize)", "zero_stage": "\(d.settings.stage.rawValue)"])
        if writes { written.append(try directory.save(checkpoint, step: trainer.globalStep)) }
    }
}

extension DistributedOptimizer {
    /// Sets the learning rate the next step applies (a schedule's value at that step).
    public func setLearningRate(_ rate: Double) { learningRate = rate }
}

import DeepseekNN

extension Trainer {
    /// The trainer's whole state at an epoch boundary: parameters, optimizer, data order,
    /// progress and the per-epoch metrics so far.
    public func checkpoint(tags: [String: String] = [:]) -> Checkpoint {
        var metrics: [String: [Double]] = [:]
        metrics["train_loss"] = history.map(\.meanLoss)
        metrics["test_loss"] = history.map(\.testLoss)
        metrics["test_accuracy"] = history.map(\.testAccuracy)
        return Checkpoint.capture(
            model: model, optimizer: optimizer,
            dataOrder: DataOrderState(seed: settings.seed, epoch: completedEpochs, stepInEpoch: 0),
            progress: TrainingProgress(globalStep: globalStep, metrics: metrics), tags: tags)
    }

    /// Continues from `checkpoint`: restores parameters and optimizer (checking first that it
    /// belongs to this model and optimizer — nothing changes when it does not) and the position
    /// in training, so the following epochs see the same data order as an uninterrupted run.
    public func resume(from checkpoint: Checkpoint) throws {
        guard checkpoint.dataOrder.seed == settings.seed else {
            throw CheckpointError(
                .invalidArgument,
                "the checkpoint was made with seed \(checkpoint.dataOrder.seed) but the trainer uses \(settings.seed); resume with the same seed to see the same data order")
        }
        guard checkpoint.dataOrder.stepInEpoch == 0 else {
            throw CheckpointError(.invalidArgument, "the checkpoint was taken inside an epoch (step \(checkpoint.dataOrder.stepInEpoch)); the trainer resumes at epoch boundaries")
        }
        try checkpoint.restore(into: model, optimizer: &optimizer)
        completedEpochs = checkpoint.dataOrder.epoch
        globalStep = checkpoint.progress.globalStep
        let m = checkpoint.progress.metrics
        restoreHistory(
            (0..<completedEpochs).map { e in
                EpochReport(
                    epoch: e, steps: 0, meanLoss: m["train_loss"]?[safe: e] ?? .nan, testAccuracy: m["test_accuracy"]?[safe: e] ?? .nan,
                    seconds: .nan, planCacheHits: 0, testLoss: m["test_loss"]?[safe: e] ?? .nan)
            })
    }
}

/// Saves a checkpoint into a directory after every epoch (keeping the last few).
public final class CheckpointEveryEpoch<Opt: Optimizer>: TrainerCallback, @unchecked Sendable {
    let directory: CheckpointDirectory
    weak var trainer: Trainer<Opt>?
    /// Where each checkpoint went, in order.
    public private(set) var written: [String] = []
    /// The first error saving a checkpoint, if any (training goes on; the caller decides).
    public private(set) var error: (any Error)?

    public init(directory: CheckpointDirectory, trainer: Trainer<Opt>) {
        self.directory = directory
        self.trainer = trainer
    }

    public func trainerDidFinishEpoch(_ report: EpochReport) {
        guard let trainer else { return }
        do { written.append(try directory.save(trainer.checkpoint(), step: trainer.globalStep)) } catch {
            if self.error == nil { self.error = error }
        }
    }
}

extension Array {
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

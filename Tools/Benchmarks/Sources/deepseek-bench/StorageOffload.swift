import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekStorage
import DeepseekTensor
import DeepseekTraining

// Part of the storage group: what training within a memory budget costs per step, with the
// parameters and optimizer state in the tiered store and the activations for the backward
// pass spilled to the SSD tier.

/// Appends the step times of an MLP trained without a budget, with parameters and Adam state
/// at 25 % of their size, and with activations at 25 % of theirs as well.
func appendOffloadTraining(_ options: Options, directory: String, to report: inout GroupReport) async throws {
    let backend = CPUBackend()
    KernelBackends.default = backend
    let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
    try await system.start()
    let cpu = DeviceActor(backend: backend, kind: .cpu, name: "cpu0", actorSystem: system)
    defer { withExtendedLifetime(cpu) {} }
    let sizes = [784, 1024, 1024, 1024, 10]
    let batch = 256
    let steps = max(options.repetitions, 7)
    var rng = SeededRandom(seed: 5)
    let batches = try (0..<steps + 2).map { i -> MiniBatch in
        let images = try Tensor.uniform([batch, 784], rng: &rng)
        let labels = try Tensor((0..<batch).map { Int64(($0 * 7 + i) % 10) }, shape: [batch])
        return MiniBatch(images: images, labels: labels, indices: Array(0..<batch))
    }

    /// One trainer: without a budget (`budget` nil), or with parameters and Adam state at
    /// `budget` of their size and activations at `activationBytes`.
    final class Setup {
        let trainer: Trainer<Adam>
        let offload: TrainingOffload?
        var losses: [Double] = []
        var seconds: [Double] = []
        init(_ trainer: Trainer<Adam>, _ offload: TrainingOffload?) {
            self.trainer = trainer
            self.offload = offload
        }
        func step(_ b: MiniBatch, timed: Bool) async throws {
            let start = monotonicSeconds()
            let loss: Double
            if let offload { loss = try await trainer.trainStep(b, offload: offload).loss } else { loss = try await trainer.trainStep(b).loss }
            if timed { seconds.append(monotonicSeconds() - start) }
            losses.append(loss)
        }
    }
    func setup(budget: Double?, activationBytes: Int?) async throws -> Setup {
        let engine = try await Engine(actorSystem: system, devices: [cpu])
        let model = try MLP(sizes: sizes, seed: 5)
        let trainer = Trainer(
            model: model, optimizer: try Adam(learningRate: 0.001), engine: engine,
            settings: TrainerSettings(batchSize: batch, inputShape: [784], prefetch: 0))
        guard let budget else { return Setup(trainer, nil) }
        let bytes = Int(Double(TrainingOffload.stateBytes(model: model, optimizerStateTensorsPerParameter: 2)) * budget)
        return Setup(
            trainer, try await TrainingOffload(trainer: trainer, memoryBudgetBytes: bytes, directory: directory, activationBudgetBytes: activationBytes ?? Int.max))
    }

    progress("storage: training an MLP within a memory budget")
    // Two unmeasured steps each (planning, warm-up; the first tells the activations' size),
    // then the three take turns on each batch, so drifts in the machine's load hit all alike.
    let plain = try await setup(budget: nil, activationBytes: nil)
    let state = try await setup(budget: 0.25, activationBytes: nil)
    for b in batches.prefix(2) {
        try await plain.step(b, timed: false)
        try await state.step(b, timed: false)
    }
    let parked = state.offload!.activations.counters()
    let activationBytes = Int(parked.parkedBytes) / max(parked.runs, 1)
    let both = try await setup(budget: 0.25, activationBytes: activationBytes / 4)
    for b in batches.prefix(2) { try await both.step(b, timed: false) }
    let before = both.offload!.activations.counters()
    let storeBefore = await both.offload!.store.counters()
    for b in batches.dropFirst(2) {
        for s in [plain, state, both] { try await s.step(b, timed: true) }
    }
    var a = both.offload!.activations.counters()
    a.runs -= before.runs
    a.bytesSpilled -= before.bytesSpilled
    a.bytesReadBack -= before.bytesReadBack
    a.readBack -= before.readBack
    a.prefetched -= before.prefetched
    a.stalls -= before.stalls
    a.stallNanoseconds -= before.stallNanoseconds
    let s = await both.offload!.store.counters().since(storeBefore)
    func ms(_ r: Setup) -> String { formatNumber(Samples(seconds: r.seconds).median * 1e3, digits: 1) }
    let identical = plain.losses == state.losses && plain.losses == both.losses
    report.notes.append(
        "Training within a memory budget (MLP \(sizes.map(String.init).joined(separator: "-")), batch \(batch), Adam, medians of \(steps) steps taken in turns): "
            + "\(ms(plain)) ms per step without a budget; \(ms(state)) ms with parameters and Adam state at 25 % of their size; "
            + "\(ms(both)) ms with the activations (\(activationBytes / 1024) KiB per step) at 25 % as well. Per step, "
            + "\(a.bytesSpilled / Int64(a.runs) / 1024) KiB of activations spilled and \(a.bytesReadBack / Int64(a.runs) / 1024) KiB read back "
            + "(\(a.prefetched) of \(a.readBack) reads ahead of need; \(a.stalls / a.runs) waits, \(formatNumber(a.stallSeconds * 1e3 / Double(a.runs), digits: 1)) ms), "
            + "peak activations held \(a.peakResidentBytes / 1024) KiB; store hit rate \(formatNumber(s.hitRate * 100, digits: 0)) %, "
            + "\(s.bytesRead / Int64(a.runs) / 1024) KiB read and \(s.bytesWritten / Int64(a.runs) / 1024) KiB written per step. "
            + "Loss sequences identical: \(identical ? "yes" : "NO").")
}

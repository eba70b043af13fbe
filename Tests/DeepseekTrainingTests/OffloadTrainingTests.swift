import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekStorage
import DeepseekTensor
import DeepseekTraining
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct OffloadTrainingTests {
    func engine() async throws -> (Engine, DeviceActor) {
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
        try await system.start()
        let device = DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)
        return (try await Engine(actorSystem: system, devices: [device]), device)
    }

    func data(_ count: Int, features: Int, seed: UInt64) throws -> LabeledImages {
        var rng = SeededRandom(seed: seed)
        let x = try Tensor.normal([count, features], rng: &rng)
        let labels = try x.sliced(axis: 1, start: 0, end: 10).argmax(axis: 1)
        let side = Int(Double(features).squareRoot())
        return LabeledImages(images: x, labels: labels, height: side, width: side)
    }

    struct Run {
        var losses: [Double]
        var seconds: Double
        var counters: StorageCounters?
        var budget: Int
        var peakMemory: Int?
        var activations: ActivationSpillCounters?
    }

    /// Trains `steps` steps, with the parameters and Adam state in a store of 25 % of their size when `offload`.
    func train(model makeModel: () throws -> any Module, inputShape: [Int], features: Int, steps: Int, offload: Bool, prefetch: Bool = true, budgetFraction: Double = 0.25, activationBudget: Int? = nil, batchSize: Int = 16) async throws -> Run {
        let (engine, device) = try await engine()
        defer { withExtendedLifetime(device) {} }
        let model = try makeModel()
        let trainer = Trainer(
            model: model, optimizer: try Adam(learningRate: 0.002), engine: engine,
            settings: TrainerSettings(epochs: 1, batchSize: batchSize, seed: 3, inputShape: inputShape, prefetch: 0))
        let batches = try Batches(try data(steps * batchSize, features: features, seed: 11), batchSize: batchSize, shuffle: true, seed: 3, dropLast: true)
        let budget = Int(Double(TrainingOffload.stateBytes(model: model, optimizerStateTensorsPerParameter: 2)) * budgetFraction)
        let store =
            offload
            ? try await TrainingOffload(
                trainer: trainer, memoryBudgetBytes: budget, directory: scratchDirectory(), prefetch: prefetch, activationBudgetBytes: activationBudget)
            : nil
        var losses: [Double] = []
        let clock = ContinuousClock()
        let start = clock.now
        for batch in batches.epoch(0) {
            if let store {
                losses.append(try await trainer.trainStep(batch, offload: store).loss)
            } else {
                losses.append(try await trainer.trainStep(batch).loss)
            }
        }
        let seconds = (clock.now - start).inSeconds
        if let store { try await store.detach(from: trainer) }
        let counters = await store?.store.counters()
        let peak = await store?.store.peakMemoryBytes()
        return Run(losses: losses, seconds: seconds, counters: counters, budget: budget, peakMemory: peak, activations: store?.activations.counters())
    }

    func report(_ name: String, _ plain: Run, _ offloaded: Run) -> String {
        let c = offloaded.counters!
        return "\(name): \(plain.losses.count) steps, budget \(offloaded.budget) B (peak held \(offloaded.peakMemory!) B), hit rate "
            + "\(Int(c.hitRate * 100)) %, read \(c.bytesRead) B, written \(c.bytesWritten) B, stalls \(c.stalls) (\(Int(c.stallSeconds * 1000)) ms), "
            + "step time \(Int(plain.seconds / Double(plain.losses.count) * 1000)) ms → \(Int(offloaded.seconds / Double(offloaded.losses.count) * 1000)) ms"
    }

    @Test func aWideMLPWithinAQuarterOfItsStateGivesTheSameLossSequence() async throws {
        let make = { () throws -> any Module in try MLP(sizes: [64, 256, 256, 10], seed: 5) }
        let plain = try await train(model: make, inputShape: [64], features: 64, steps: 24, offload: false)
        let offloaded = try await train(model: make, inputShape: [64], features: 64, steps: 24, offload: true)
        #expect(plain.losses == offloaded.losses)
        #expect(offloaded.peakMemory! <= offloaded.budget)
        #expect(offloaded.counters!.bytesRead > 0 && offloaded.counters!.bytesWritten > 0)
        print(report("MLP 64-256-256-10, Adam", plain, offloaded))
    }

    @Test func leNetWithinAQuarterOfItsStateGivesTheSameLossSequence() async throws {
        let make = { () throws -> any Module in try LeNet(seed: 5) }
        let plain = try await train(model: make, inputShape: [1, 28, 28], features: 784, steps: 8, offload: false)
        let offloaded = try await train(model: make, inputShape: [1, 28, 28], features: 784, steps: 8, offload: true)
        #expect(plain.losses == offloaded.losses)
        #expect(offloaded.peakMemory! <= offloaded.budget)
        print(report("LeNet-5, Adam", plain, offloaded))
    }

    /// Activations over their budget go to the SSD and come back before the backward pass needs
    /// them: the loss sequence stays exactly that of the unconstrained run.
    @Test(arguments: [0, 256 << 10])
    func activationsSpilledOverTheirBudgetGiveTheSameLossSequence(_ activationBudget: Int) async throws {
        let make = { () throws -> any Module in try MLP(sizes: [64, 256, 256, 256, 10], seed: 5) }
        let plain = try await train(model: make, inputShape: [64], features: 64, steps: 8, offload: false, batchSize: 64)
        let spilled = try await train(
            model: make, inputShape: [64], features: 64, steps: 8, offload: true, budgetFraction: 1, activationBudget: activationBudget, batchSize: 64)
        #expect(plain.losses == spilled.losses)
        let a = try #require(spilled.activations)
        #expect(a.runs == 8)
        #expect(a.parkedBytes > 0)
        #expect(a.bytesSpilled > 0)
        #expect(a.bytesReadBack > 0)
        // Within budget, give or take what the nodes running at once hold: the outputs of one that
        // just ran, the inputs read back for two backward nodes (64 KiB each here).
        #expect(a.peakResidentBytes <= activationBudget + (256 << 10))
        #expect(Int64(a.peakResidentBytes) < a.parkedBytes / Int64(a.runs))
        if activationBudget > 0 { #expect(a.prefetched > 0) }
        print(
            "activations over a budget of \(activationBudget) B: \(a.parked / a.runs) parked per step (\(a.parkedBytes / Int64(a.runs)) B), "
                + "\(a.spilled) spilled (\(a.bytesSpilled) B), \(a.readBack) read back (\(a.prefetched) ahead of need), \(a.stalls) stalls "
                + "(\(Int(a.stallSeconds * 1000)) ms), peak held \(a.peakResidentBytes) B; step time "
                + "\(Int(plain.seconds / Double(plain.losses.count) * 1000)) ms → \(Int(spilled.seconds / Double(spilled.losses.count) * 1000)) ms")
    }

    @Test func leNetActivationsSpilledGiveTheSameLossSequence() async throws {
        let make = { () throws -> any Module in try LeNet(seed: 5) }
        let plain = try await train(model: make, inputShape: [1, 28, 28], features: 784, steps: 4, offload: false)
        let spilled = try await train(
            model: make, inputShape: [1, 28, 28], features: 784, steps: 4, offload: true, activationBudget: 128 << 10)
        #expect(plain.losses == spilled.losses)
        let a = try #require(spilled.activations)
        #expect(a.bytesSpilled > 0 && a.bytesReadBack > 0)
        print("LeNet-5 activations over 128 KiB: \(a.parkedBytes / Int64(a.runs)) B parked per step, \(a.bytesSpilled) B spilled, \(a.readBack) read back (\(a.prefetched) ahead), \(a.stalls) stalls")
    }

    /// Half the state in memory and layers of equal size, so the next layers' tensors fit beside
    /// the current one's: reading them while the optimizer works on the current layer saves waits.
    /// (At 25 % the widest layer of the MLP above alone exceeds the budget and every read of it waits.)
    @Test func prefetchingFromTheStepScheduleStallsLess() async throws {
        let make = { () throws -> any Module in try MLP(sizes: [64, 128, 128, 128, 128, 10], seed: 5) }
        let without = try await train(model: make, inputShape: [64], features: 64, steps: 12, offload: true, prefetch: false, budgetFraction: 0.5)
        let with = try await train(model: make, inputShape: [64], features: 64, steps: 12, offload: true, prefetch: true, budgetFraction: 0.5)
        #expect(with.losses == without.losses)
        #expect(with.counters!.stalls < without.counters!.stalls)
        print("prefetch off: \(without.counters!.stalls) stalls, \(Int(without.counters!.stallSeconds * 1000)) ms; on: \(with.counters!.stalls) stalls, \(Int(with.counters!.stallSeconds * 1000)) ms")
    }
}

func scratchDirectory() -> String {
    let path = "/tmp/deepseek-offload-tests-\(getpid())"
    mkdir(path, 0o755)
    return path
}

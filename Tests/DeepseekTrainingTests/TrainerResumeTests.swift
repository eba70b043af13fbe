import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTraining
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct TrainerResumeTests {
    /// Learnable synthetic data: the label is the index of the largest of the first 10 features.
    func data(_ count: Int, seed: UInt64) throws -> LabeledImages {
        var rng = SeededRandom(seed: seed)
        let x = try Tensor.normal([count, 64], rng: &rng)
        let labels = try x.sliced(axis: 1, start: 0, end: 10).argmax(axis: 1)
        return LabeledImages(images: x, labels: labels, height: 8, width: 8)
    }

    func trainer(_ engine: Engine, epochs: Int) throws -> Trainer<SGD> {
        Trainer(
            model: try MLP(sizes: [64, 32, 10], seed: 5), optimizer: try SGD(learningRate: 0.05, momentum: 0.9), engine: engine,
            settings: TrainerSettings(epochs: epochs, batchSize: 16, seed: 9, inputShape: [64], stepsPerEpoch: 12))
    }

    @Test func stoppingAndResumingGivesTheSameLossSequence() async throws {
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
        try await system.start()
        let device = DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)
        let engine = try await Engine(actorSystem: system, devices: [device])
        let train = try data(400, seed: 1)
        let test = try data(100, seed: 2)

        let straight = try trainer(engine, epochs: 4)
        let uninterrupted = try await straight.fit(train, validation: test).map(\.meanLoss)

        let first = try trainer(engine, epochs: 2)
        _ = try await first.fit(train, validation: test)
        let directory = "/tmp/deepseek-resume-\(getpid())"
        let store = try CheckpointDirectory(directory)
        let path = try store.save(first.checkpoint(), step: first.globalStep)

        let second = try trainer(engine, epochs: 4)  // fresh weights, overwritten by the checkpoint
        try second.resume(from: try Checkpoint.read(from: path))
        let rest = try await second.fit(train, validation: test).map(\.meanLoss)
        #expect(second.history.count == 4)
        #expect(Array(uninterrupted[2...]) == rest, "uninterrupted \(uninterrupted), resumed \(rest)")
        #expect(uninterrupted[3] < uninterrupted[0])
        for step in try store.steps() { unlink(store.path(step: step)) }
        rmdir(directory)
        withExtendedLifetime(device) {}
    }

    @Test func aCheckpointOfAnotherModelIsRefusedAndChangesNothing() async throws {
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
        try await system.start()
        let device = DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)
        let engine = try await Engine(actorSystem: system, devices: [device])
        let other = Checkpoint.capture(model: try MLP(sizes: [64, 16, 10], seed: 1), optimizer: try SGD(learningRate: 0.1))
        let target = try trainer(engine, epochs: 1)
        let before = target.model.parameterValues
        #expect(throws: CheckpointError.self) { try target.resume(from: other) }
        for (name, value) in target.model.parameterValues {
            #expect(try value.scalars(as: Float.self) == before[name]!.scalars(as: Float.self))
        }
        #expect(target.completedEpochs == 0)
        withExtendedLifetime(device) {}
    }
}

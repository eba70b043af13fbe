import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTraining
import Testing

/// `Trainer.distributed`: ranks in one process, each with its own engine, train shares of the
/// same batches and end where one trainer with the whole batch ends.
@Suite struct TrainerDistributedTests {
    func data(_ count: Int, seed: UInt64) throws -> LabeledImages {
        var rng = SeededRandom(seed: seed)
        let x = try Tensor.normal([count, 64], rng: &rng)
        let labels = try x.sliced(axis: 1, start: 0, end: 10).argmax(axis: 1)
        return LabeledImages(images: x, labels: labels, height: 8, width: 8)
    }

    func engine() async throws -> Engine {
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
        try await system.start()
        return try await Engine(actorSystem: system, devices: [DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)])
    }

    func trainer(_ engine: Engine, epochs: Int = 2) throws -> Trainer<SGD> {
        Trainer(
            model: try MLP(sizes: [64, 16, 10], seed: 5), optimizer: try SGD(learningRate: 0.1), engine: engine,
            settings: TrainerSettings(epochs: epochs, batchSize: 16, seed: 9, inputShape: [64], stepsPerEpoch: 5, prefetch: 0))
    }

    /// Trains `ranks` trainers together; returns them after `fit`.
    func trainTogether(
        ranks: Int, stage: ZeROStage, optimizer: OptimizerChoice = .sgd(learningRate: 0.1), epochs: Int = 2,
        prepare: @escaping @Sendable (Trainer<SGD>, Int) async throws -> Void = { _, _ in }
    ) async throws -> [Trainer<SGD>] {
        let world = try await InProcessWorld(ranks: ranks)
        let train = try data(200, seed: 1)
        let test = try data(60, seed: 2)
        var trainers: [Trainer<SGD>] = []
        for c in world.communicators {
            let t = try trainer(try await engine(), epochs: epochs)
            try await prepare(t, c.rank)
            t.distributed = try await DistributedOptimizer(
                t.model.parameters, optimizer: optimizer, settings: DistributedSettings(stage: stage), communicator: c)
            trainers.append(t)
        }
        let all = trainers
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in all { group.addTask { _ = try await t.fit(train, validation: test) } }
            try await group.waitForAll()
        }
        return trainers
    }

    @Test(arguments: [ZeROStage.one, .three])
    func ranksSharingEachBatchFollowOneTrainerWithTheWholeBatch(stage: ZeROStage) async throws {
        let single = try trainer(try await engine())
        _ = try await single.fit(try data(200, seed: 1), validation: try data(60, seed: 2))
        let ranks = try await trainTogether(ranks: 4, stage: stage)
        for t in ranks {
            for (a, b) in zip(t.history, single.history) {
                #expect(abs(a.meanLoss - b.meanLoss) <= 1e-4 * max(1, abs(b.meanLoss)), "epoch \(a.epoch): \(a.meanLoss) vs \(b.meanLoss)")
                #expect(abs(a.testLoss - b.testLoss) <= 1e-4 * max(1, abs(b.testLoss)))
                #expect(abs(a.testAccuracy - b.testAccuracy) <= 1.0 / 60 + 1e-9)
            }
        }
        // Every replica holds the same bits.
        let digests = try await withThrowingTaskGroup(of: UInt64.self) { group in
            for t in ranks { group.addTask { try await t.parameterDigest() } }
            return try await group.reduce(into: Set<UInt64>()) { $0.insert($1) }
        }
        #expect(digests.count == 1)
        if stage == .three {
            for t in ranks { #expect(t.model.parameters.filter(\.isTrainable).allSatisfy { $0.value.isMeta }) }
        }
    }

    @Test func aDistributedCheckpointResumesInOneProcess() async throws {
        let ranks = try await trainTogether(ranks: 2, stage: .two, optimizer: .sgd(learningRate: 0.1), epochs: 1)
        let checkpoints = try await withThrowingTaskGroup(of: (Int, Checkpoint).self) { group in
            for (r, t) in ranks.enumerated() { group.addTask { (r, try await t.distributedCheckpoint(t.distributed!)) } }
            return try await group.reduce(into: [Int: Checkpoint]()) { $0[$1.0] = $1.1 }
        }
        let checkpoint = try #require(checkpoints[0])
        #expect(checkpoint.optimizer != nil)
        #expect(checkpoint.dataOrder.epoch == 1)
        let resumed = try trainer(try await engine(), epochs: 2)
        try resumed.resume(from: checkpoint)
        #expect(resumed.globalStep == 5)
        for p in resumed.model.parameters {
            let saved = try #require(checkpoint.parameters[p.name])
            let restored = try p.value.scalars(as: Float.self)
            #expect(try restored == saved.scalars(as: Float.self))
        }
        _ = try await resumed.fit(try data(200, seed: 1), validation: try data(60, seed: 2))
        #expect(resumed.history.count == 2)
    }

    @Test func aBatchTooSmallToShareIsRefusedNamingTheRank() async throws {
        let world = try await InProcessWorld(ranks: 2)
        let t = try trainer(try await engine())
        t.distributed = try await DistributedOptimizer(t.model.parameters, optimizer: .sgd(learningRate: 0.1), communicator: world.communicators[0])  // rank 0's share of one example is empty
        let one = try data(1, seed: 3)
        let batch = MiniBatch(images: one.images, labels: one.labels, indices: [0])
        await #expect(throws: DatasetError.self) { _ = try await t.trainStep(batch) }
    }
}

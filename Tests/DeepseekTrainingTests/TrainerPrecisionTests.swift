import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTraining
import Testing

@Suite struct TrainerPrecisionTests {
    func data(_ count: Int, seed: UInt64) throws -> LabeledImages {
        var rng = SeededRandom(seed: seed)
        let x = try Tensor.normal([count, 64], rng: &rng)
        let labels = try x.sliced(axis: 1, start: 0, end: 10).argmax(axis: 1)
        return LabeledImages(images: x, labels: labels, height: 8, width: 8)
    }

    @Test(arguments: [Precision.bf16, .fp16])
    func mixedPrecisionTrainsLikeFloat32(_ precision: Precision) async throws {
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
        try await system.start()
        let device = DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)
        let engine = try await Engine(actorSystem: system, devices: [device])
        let train = try data(640, seed: 1)
        let test = try data(200, seed: 2)
        func run(_ p: Precision) async throws -> (EpochReport, Trainer<SGD>) {
            let trainer = Trainer(
                model: try MLP(sizes: [64, 32, 10], seed: 5), optimizer: try SGD(learningRate: 0.1), engine: engine,
                settings: TrainerSettings(epochs: 3, batchSize: 32, seed: 9, inputShape: [64], precision: p))
            return (try await trainer.fit(train, validation: test).last!, trainer)
        }
        let (reference, _) = try await run(.fp32)
        let (mixed, trainer) = try await run(precision)
        // The parameters stay float32 (master weights); the compute ran in the half type.
        #expect(trainer.model.parameters.allSatisfy { $0.value.dtype == .float32 })
        #expect(abs(mixed.testAccuracy - reference.testAccuracy) <= 0.05, "fp32 \(reference), \(precision) \(mixed)")
        #expect(abs(mixed.meanLoss - reference.meanLoss) <= 0.02 * reference.meanLoss, "fp32 \(reference), \(precision) \(mixed)")
        if precision == .fp16 {
            let scaler = try #require(trainer.lossScaler)
            // Overflowing steps are skipped and halve the scale; most steps must still apply.
            #expect(trainer.skippedSteps < trainer.globalStep / 2, "\(trainer.skippedSteps) of \(trainer.globalStep) skipped")
            #expect(scaler.scale <= 65536 && scaler.scale >= 1)
        }
        withExtendedLifetime(device) {}
    }
}

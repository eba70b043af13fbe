import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTraining
import Testing

@Suite(.enabled(if: FashionMNIST.isAvailable(), "dataset-fashion-mnist is not installed"))
struct ClassifierTrainingTests {
    @Test(.timeLimit(.minutes(5)))
    func anMLPLearnsFashionMNISTThroughTheEngine() async throws {
        let full = try FashionMNIST.load(split: .train)
        let standardization = try Standardization(fitting: full)
        let train = try standardization.apply(full)
        let allTest = try standardization.apply(try FashionMNIST.load(split: .test))
        let test = LabeledImages(
            images: try allTest.images.sliced(axis: 0, start: 0, end: 2000).contiguous(),
            labels: try allTest.labels.sliced(axis: 0, start: 0, end: 2000).contiguous(), height: 28, width: 28)
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
        try await system.start()
        let device = DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)
        let engine = try await Engine(actorSystem: system, devices: [device])
        let model = try MLP(sizes: [784, 64, 10], seed: 3)
        let trainer = Trainer(
            model: model, optimizer: try SGD(learningRate: 0.1), engine: engine,
            settings: TrainerSettings(epochs: 2, batchSize: 64, seed: 1, inputShape: [784], stepsPerEpoch: 40))
        let before = try await trainer.evaluate(test)
        let reports = try await trainer.fit(train, validation: test)
        #expect(before.accuracy < 0.3)
        #expect(reports[1].testLoss < before.loss)
        #expect(reports[1].testAccuracy > 0.65, "\(reports)")
        #expect(reports[1].meanLoss < reports[0].meanLoss, "\(reports)")
        // One trace per step, planned once.
        #expect(reports.map(\.planCacheHits).reduce(0, +) >= 79, "\(reports)")
        #expect(trainer.globalStep == 80 && trainer.completedEpochs == 2)
        withExtendedLifetime(device) {}
    }
}

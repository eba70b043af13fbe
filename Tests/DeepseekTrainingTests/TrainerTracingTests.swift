import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTraining
import DeepseekTracing
import Testing

/// With a tracer on the actor system, training shows each step, the wait for its batch and the
/// loss and learning rate as counters, beside the engine's own events.
@Suite struct TrainerTracingTests {
    @Test func aTracedFitRecordsStepsCountersAndKernels() async throws {
        let recorder = RingBufferRecorder(capacityPerShard: 1 << 16)
        var settings = ActorSystemSettings()
        settings.tracer = Tracer(recorder: recorder, clock: MonotonicClock())
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)), settings: settings)
        try await system.start()
        let engine = try await Engine(actorSystem: system, devices: [DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)])
        var rng = SeededRandom(seed: 3)
        let x = try Tensor.normal([64, 16], rng: &rng)
        let data = LabeledImages(images: x, labels: try x.sliced(axis: 1, start: 0, end: 4).argmax(axis: 1), height: 4, width: 4)
        let trainer = Trainer(
            model: try MLP(sizes: [16, 8, 4], seed: 1), optimizer: try SGD(learningRate: 0.1), engine: engine,
            settings: TrainerSettings(epochs: 1, batchSize: 16, inputShape: [16], stepsPerEpoch: 3))
        _ = try await trainer.fit(data)
        let events = recorder.snapshot()
        let trainerRow = events.filter { $0.track.name == "Trainer" }
        #expect(trainerRow.filter { $0.name.hasPrefix("step ") }.map(\.name) == ["step 0", "step 1", "step 2"])
        #expect(trainerRow.filter { $0.name == "next batch" }.count == 3)
        let losses = trainerRow.compactMap { e -> Double? in if case .counter(let v) = e.kind, e.name == "loss" { v } else { nil } }
        #expect(losses.count == 3 && losses.allSatisfy(\.isFinite))
        #expect(events.contains { if case .kernel = $0.kind { true } else { false } })
        // Every step span lies within the run of the trace, in order.
        let steps = trainerRow.filter { $0.name.hasPrefix("step ") }
        #expect(zip(steps, steps.dropFirst()).allSatisfy { $0.end <= $1.timestamp })
    }
}

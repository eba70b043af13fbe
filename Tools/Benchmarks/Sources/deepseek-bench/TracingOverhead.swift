import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTracing
import DeepseekTraining

/// What recording costs a training step: the same MLP step with the actor system's tracer on (a
/// ring buffer drained after every step, as `deepseek train --trace` drains it in the background)
/// and off. The target is ≤ 5 % of the step.
func appendTracingOverhead(_ options: Options, to report: inout GroupReport) async throws {
    let backend = CPUBackend()
    KernelBackends.default = backend
    let ring = RingBufferRecorder(capacityPerShard: 1 << 16)
    func trainer(traced: Bool) async throws -> (Trainer<SGD>, DeviceActor) {
        var settings = ActorSystemSettings()
        if traced { settings.tracer = Tracer(recorder: ring, clock: MonotonicClock()) }
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)), settings: settings)
        try await system.start()
        let device = DeviceActor(backend: backend, kind: .cpu, name: "cpu0", actorSystem: system)
        let engine = try await Engine(actorSystem: system, devices: [device])
        let model = try MLP(sizes: [784, 256, 10], seed: 1)
        return (Trainer(model: model, optimizer: try SGD(learningRate: 0.01), engine: engine, settings: TrainerSettings(batchSize: 64, inputShape: [784])), device)
    }
    var rng = SeededRandom(seed: 5)
    let batch = MiniBatch(
        images: try Tensor.uniform([64, 784], rng: &rng), labels: try Tensor((0..<64).map { Int64($0 % 10) }, shape: [64]), indices: Array(0..<64))
    let (plain, plainDevice) = try await trainer(traced: false)
    let (traced, tracedDevice) = try await trainer(traced: true)
    for _ in 0..<5 {
        _ = try await plain.trainStep(batch)
        _ = try await traced.trainStep(batch)
        _ = ring.drain()
    }
    progress("tracing: MLP training step, traced vs not")
    var events = 0
    let samples = try await measureAsync(
        [
            AsyncContestant(name: "untraced") { _ = try await plain.trainStep(batch) },
            AsyncContestant(name: "traced") {
                _ = try await traced.trainStep(batch)
                events = ring.drain().count
            },
        ], repetitions: max(options.repetitions, 30), minimumSampleSeconds: 0)
    let overhead = samples[1].median / samples[0].median - 1
    for (index, name) in ["MLP 784-256-10 step, batch 64, untraced", "MLP 784-256-10 step, batch 64, traced (\(events) events/step)"].enumerated() {
        report.records.append([
            "case": .text(name), "ns_event": .missing, "mevents": .missing,
            "ratio": .number(index == 0 ? 1 : samples[0].median / samples[1].median),
        ])
    }
    report.notes.append(
        "Training step with tracing on: \(formatNumber(samples[1].median * 1e3, digits: 3)) ms against \(formatNumber(samples[0].median * 1e3, digits: 3)) ms off, "
            + "\(formatNumber(overhead * 100, digits: 1)) % more (target ≤ 5 %), \(events) events per step recorded and drained.")
    withExtendedLifetime((plainDevice, tracedDevice)) {}
}

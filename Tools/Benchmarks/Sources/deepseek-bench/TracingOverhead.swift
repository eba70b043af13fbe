import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTracing
import DeepseekTraining
import Foundation
import Synchronization

/// What recording costs a training step: the same MLP step with the actor system's tracer off and
/// on. On, the ring is drained either the way `deepseek train --trace` drains it (a background
/// thread every 100 ms) or, the pessimistic variant, inside every timed step. The target is ≤ 5 %.
func appendTracingOverhead(_ options: Options, to report: inout GroupReport) async throws {
    let backend = CPUBackend()
    KernelBackends.default = backend
    func trainer(tracer: Tracer?) async throws -> (Trainer<SGD>, DeviceActor) {
        var settings = ActorSystemSettings()
        if let tracer { settings.tracer = tracer }
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
    let inStep = RingBufferRecorder(capacityPerShard: 1 << 16)
    let background = BackgroundDrain(RingBufferRecorder(capacityPerShard: 1 << 16, policy: .dropNewest))
    let (plain, plainDevice) = try await trainer(tracer: nil)
    let (drainedInStep, inStepDevice) = try await trainer(tracer: Tracer(recorder: inStep, clock: MonotonicClock()))
    let (drainedAside, asideDevice) = try await trainer(tracer: Tracer(recorder: background.ring, clock: MonotonicClock()))
    for _ in 0..<5 {
        _ = try await plain.trainStep(batch)
        _ = try await drainedInStep.trainStep(batch)
        _ = inStep.drain()
        _ = try await drainedAside.trainStep(batch)
    }
    progress("tracing: MLP training step, traced vs not")
    var events = 0
    let samples = try await measureAsync(
        [
            AsyncContestant(name: "untraced") { _ = try await plain.trainStep(batch) },
            AsyncContestant(name: "traced, background drain") { _ = try await drainedAside.trainStep(batch) },
            AsyncContestant(name: "traced, drained in the step") {
                _ = try await drainedInStep.trainStep(batch)
                events = inStep.drain().count
            },
        ], repetitions: max(options.repetitions, 21), minimumSampleSeconds: 0.02)
    let drained = background.stop()
    let names = [
        "MLP 784-256-10 step, batch 64, untraced",
        "MLP 784-256-10 step, batch 64, traced (\(events) events/step), drained every 100 ms aside, as --trace does",
        "MLP 784-256-10 step, batch 64, traced, drained inside every step",
    ]
    for (index, name) in names.enumerated() {
        report.records.append([
            "case": .text(name), "ns_event": .missing, "mevents": .missing,
            "ratio": .number(index == 0 ? 1 : samples[0].median / samples[index].median),
        ])
    }
    let aside = samples[1].median / samples[0].median - 1
    let inside = samples[2].median / samples[0].median - 1
    report.notes.append(
        "Training step with tracing on: \(formatNumber(samples[1].median * 1e3, digits: 3)) ms against \(formatNumber(samples[0].median * 1e3, digits: 3)) ms off, "
            + "\(formatNumber(aside * 100, digits: 1)) % more (target ≤ 5 %) with the ring drained aside every 100 ms (\(drained) events drained, "
            + "\(background.ring.statistics.dropped) dropped); drained inside every timed step: \(formatNumber(samples[2].median * 1e3, digits: 3)) ms, "
            + "\(formatNumber(inside * 100, digits: 1)) % more; \(events) events per step.")
    withExtendedLifetime((plainDevice, inStepDevice, asideDevice)) {}
}

/// A thread that drains a ring every 100 ms, as `deepseek train --trace` does, counting what it
/// drained instead of writing it.
private final class BackgroundDrain: Sendable {
    let ring: RingBufferRecorder
    private let stopping = Atomic<Bool>(false)
    private let drained = Atomic<Int>(0)
    private let done = Atomic<Bool>(false)

    init(_ ring: RingBufferRecorder) {
        self.ring = ring
        let thread = Thread { [self] in
            while !stopping.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: 0.1)
                drained.wrappingAdd(ring.drain().count, ordering: .relaxed)
            }
            done.store(true, ordering: .releasing)
        }
        thread.start()
    }

    /// Stops the thread and returns how many events it drained.
    func stop() -> Int {
        stopping.store(true, ordering: .releasing)
        while !done.load(ordering: .acquiring) { Thread.sleep(forTimeInterval: 0.01) }
        return drained.load(ordering: .relaxed) + ring.drain().count
    }
}

import CBenchBaselines
import DeepseekActors
import DeepseekCore
import DeepseekTensor
import DeepseekTransportURing
import Distributed
#if canImport(Glibc)
import Glibc
#endif

// The actor-system groups: local and remote distributed calls, tensor streaming and pipelined
// calls over URingTransport on loopback TCP, each against a plain-Swift or raw-C baseline.

/// The actor the transport groups call: every method does as little as it can, so the time
/// measured is the call path itself.
distributed actor BenchEcho {
    typealias ActorSystem = DeepseekActorSystem

    var total: Int64 = 0

    distributed func add(_ amount: Int64) -> Int64 {
        total &+= amount
        return total
    }
    distributed func echo(_ bytes: [UInt8]) -> [UInt8] { bytes }
    distributed func take(_ tensor: Tensor) -> Int64 { Int64(tensor.elementCount) }
}

/// The baseline for a local distributed call: the same method on a plain actor.
actor PlainEcho {
    var total: Int64 = 0

    @inline(never)
    func add(_ amount: Int64) -> Int64 {
        total &+= amount
        return total
    }
}

/// Results the timed loops fold in, so the optimizer cannot drop the calls.
nonisolated(unsafe) var benchSink: Int64 = 0

/// An async body timed like `Sampler` does: warm-up, calibrated inner count, rotating order.
struct AsyncContestant {
    var name: String
    var body: () async throws -> Void
}

func measureAsync(_ contestants: [AsyncContestant], repetitions: Int, minimumSampleSeconds: Double) async throws -> [Samples] {
    var inner = [Int](repeating: 1, count: contestants.count)
    for (i, c) in contestants.enumerated() {
        let start = monotonicSeconds()
        try await c.body()
        let first = monotonicSeconds() - start
        if first < minimumSampleSeconds { inner[i] = Int(minimumSampleSeconds / max(first, 1e-9)) + 1 }
    }
    var samples = [Samples](repeating: Samples(seconds: []), count: contestants.count)
    for rep in 0..<repetitions {
        for k in 0..<contestants.count {
            let i = (k + rep) % contestants.count
            let start = monotonicSeconds()
            for _ in 0..<inner[i] { try await contestants[i].body() }
            samples[i].seconds.append((monotonicSeconds() - start) / Double(inner[i]))
        }
    }
    return samples
}

/// Context switches (voluntary and involuntary) of all this process's threads so far: each
/// one is a thread that blocked or was preempted, the hand-offs a call path pays for.
func contextSwitches() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_nvcsw + usage.ru_nivcsw
}

/// The value below which `fraction` of `values` lie (nearest rank).
func percentile(_ values: [Double], _ fraction: Double) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((fraction * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// A failure in setting up the loopback cluster or a C baseline, with what to check.
struct TransportBenchError: Error, CustomStringConvertible {
    var description: String
}

/// Two actor systems joined by URingTransport over loopback TCP on ephemeral ports.
struct LoopbackCluster {
    let a: DeepseekActorSystem
    let b: DeepseekActorSystem
    let t0: URingTransport
    let t1: URingTransport

    static func start(
        incomingCalls: IncomingCallExecution = .pool, configure: (inout URingTransportSettings) -> Void = { _ in }
    ) async throws -> LoopbackCluster {
        let probe = URingTransport.probe()
        guard probe.isAvailable else {
            throw TransportBenchError(description: "io_uring is not available in this process (\(probe)); the transport groups need it")
        }
        func settings(_ node: Int) -> URingTransportSettings {
            var s = URingTransportSettings(
                localNode: NodeID(node), listenAddress: .tcp(host: "127.0.0.1", port: 0),
                clusterSecret: Array("deepseek-bench loopback".utf8))
            // A 64 MiB tensor plus its header must fit one queued frame.
            s.sendQueueByteLimit = 512 << 20
            configure(&s)
            return s
        }
        let t0 = try URingTransport(settings: settings(0))
        let t1 = try URingTransport(settings: settings(1))
        try t0.setAddress(t1.boundAddress, for: NodeID(1))
        try t1.setAddress(t0.boundAddress, for: NodeID(0))
        let systemSettings = ActorSystemSettings(defaultCallTimeout: .seconds(120), incomingCalls: incomingCalls)
        let a = DeepseekActorSystem(transport: t0, settings: systemSettings)
        let b = DeepseekActorSystem(transport: t1, settings: systemSettings)
        try await a.start()
        try await b.start()
        return LoopbackCluster(a: a, b: b, t0: t0, t1: t1)
    }

    func shutdown() async {
        await a.shutdown()
        await b.shutdown()
    }
}

func checked(_ seconds: Double, _ what: String) throws -> Double {
    guard seconds > 0 else { throw TransportBenchError(description: "the C baseline \(what) failed: loopback TCP socket setup or I/O error") }
    return seconds
}

/// The `actor-call` group: a local distributed call vs a plain actor call.
func runActorCall(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(group: Group.actorCall.rawValue, title: "Local distributed-actor call", command: options.command(for: .actorCall))
    report.columns = [
        Column("case", "call"), Column("calls_per_s", "calls/s (median)", .fixed(0)),
        Column("ns", "ns per call", .fixed(1)), Column("overhead_ns", "overhead ns", .fixed(1)),
        Column("speedup", "speed vs plain actor", .ratio),
    ]
    let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
    try await system.start()
    let distributed = BenchEcho(actorSystem: system)
    let plain = PlainEcho()
    let calls = 1000
    progress("actor-call: \(calls) calls per body")
    let samples = try await measureAsync(
        [
            AsyncContestant(name: "plain") {
                var sum: Int64 = 0
                for i in 0..<calls { sum &+= await plain.add(Int64(i)) }
                benchSink &+= sum
            },
            AsyncContestant(name: "distributed") {
                var sum: Int64 = 0
                for i in 0..<calls { sum &+= try await distributed.add(Int64(i)) }
                benchSink &+= sum
            },
        ], repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
    let plainNs = samples[0].median / Double(calls) * 1e9
    let distNs = samples[1].median / Double(calls) * 1e9
    report.records.append(["case": .text("plain `actor` method"), "calls_per_s": .number(1e9 / plainNs), "ns": .number(plainNs)])
    report.records.append([
        "case": .text("local distributed actor (DeepseekActorSystem)"), "calls_per_s": .number(1e9 / distNs),
        "ns": .number(distNs), "overhead_ns": .number(distNs - plainNs),
        "speedup": .number(samples[1].pairedSpeedup(over: samples[0])),
    ])
    report.notes.append("Both called from the main task, awaited one at a time (each call hops to the actor's executor); the distributed actor is local, so no serialization. Overhead: distributed minus plain, in ns per call.")
    withExtendedLifetime(distributed) {}
    await system.shutdown()
    return report
}

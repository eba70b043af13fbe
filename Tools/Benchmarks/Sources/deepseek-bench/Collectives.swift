import CBenchBaselines
import DeepseekActors
import DeepseekTensor
import DeepseekTraining
import DeepseekTransportURing
import Distributed

// The `collectives` group: ring all-reduce among four actor systems joined by URingTransport over
// loopback TCP (one process, four nodes: four processes would need a launcher the harness does not
// have), against the transport's own point-to-point throughput between two of the same nodes.

/// Four actor systems on URingTransport, every pair connected over loopback TCP.
struct LoopbackWorld {
    let systems: [DeepseekActorSystem]
    let transports: [URingTransport]
    let communicators: [Communicator]

    static func start(ranks: Int) async throws -> LoopbackWorld {
        let probe = URingTransport.probe()
        guard probe.isAvailable else {
            throw TransportBenchError(description: "io_uring is not available in this process (\(probe)); the collectives group needs it")
        }
        var transports: [URingTransport] = []
        for r in 0..<ranks {
            var s = URingTransportSettings(
                localNode: NodeID(r), listenAddress: .tcp(host: "127.0.0.1", port: 0), clusterSecret: Array("deepseek-bench collectives".utf8))
            s.sendQueueByteLimit = 512 << 20
            transports.append(try URingTransport(settings: s))
        }
        for (r, t) in transports.enumerated() {
            for (q, other) in transports.enumerated() where q != r { try t.setAddress(other.boundAddress, for: NodeID(q)) }
        }
        let settings = ActorSystemSettings(defaultCallTimeout: .seconds(120))
        var systems: [DeepseekActorSystem] = []
        for t in transports {
            let system = DeepseekActorSystem(transport: t, settings: settings)
            try await system.start()
            systems.append(system)
        }
        let group = CollectiveGroup(worldSize: ranks)
        var communicators: [Communicator] = []
        for (r, s) in systems.enumerated() {
            communicators.append(await Communicator(group: group, rank: r, actorSystem: s, settings: CommunicatorSettings(operationTimeout: .seconds(120))))
        }
        for c in communicators { await c.connect() }
        return LoopbackWorld(systems: systems, transports: transports, communicators: communicators)
    }

    /// One all-reduce on every rank at once.
    func allReduce(_ inputs: [[Float]]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (r, c) in communicators.enumerated() { group.addTask { _ = try await c.allReduce(inputs[r]) } }
            try await group.waitForAll()
        }
    }

    func shutdown() async { for s in systems { await s.shutdown() } }
}

/// Takes a tensor and answers its element count: the point-to-point baseline.
distributed actor CollectiveSink {
    typealias ActorSystem = DeepseekActorSystem
    distributed func take(_ tensor: Tensor) -> Int64 { Int64(tensor.elementCount) }
}

func runCollectives(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(
        group: Group.collectives.rawValue, title: "Ring all-reduce among 4 nodes (one process, io_uring loopback TCP)",
        command: options.command(for: .collectives))
    report.columns = [
        Column("size", "buffer"), Column("ms", "all-reduce ms (median)", .fixed(1)), Column("algbw", "algbw GB/s", .fixed(2)),
        Column("busbw", "busbw GB/s", .fixed(2)), Column("p2p", "transport p2p GB/s", .fixed(2)), Column("ratio", "busbw / p2p", .ratio),
        Column("c", "C socket stream GB/s", .fixed(2)),
    ]
    let n = 4
    let world = try await LoopbackWorld.start(ranks: n)
    let sink = CollectiveSink(actorSystem: world.systems[1])
    let remote = try CollectiveSink.resolve(id: sink.id, using: world.systems[0])
    for mib in options.sizes ?? [1, 16, 64] {
        progress("collectives: all-reduce of \(mib) MiB among \(n)")
        let bytes = mib << 20
        let inputs = (0..<n).map { r in [Float](repeating: Float(r + 1), count: bytes / 4) }
        let tensor = Tensor(inputs[0])
        let samples = try await measureAsync(
            [
                AsyncContestant(name: "all-reduce") { try await world.allReduce(inputs) },
                AsyncContestant(name: "p2p") { _ = try await remote.take(tensor) },
                AsyncContestant(name: "c") { _ = try checked(cbench_tcp_stream(1, bytes), "stream") },
            ], repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
        let algbw = Double(bytes) / samples[0].median / 1e9
        let busbw = algbw * Double(2 * (n - 1)) / Double(n)
        let p2p = Double(bytes) / samples[1].median / 1e9
        report.records.append([
            "size": .text("\(mib) MiB"), "ms": .number(samples[0].median * 1e3), "algbw": .number(algbw), "busbw": .number(busbw),
            "p2p": .number(p2p), "ratio": .number(busbw / p2p), "c": .number(Double(bytes) / samples[2].median / 1e9),
        ])
    }
    let traffic = await world.communicators[0].traffic
    report.notes.append(
        "algbw = buffer bytes ÷ time; busbw = algbw × 2(n−1)/n, the bytes each node sends per second. The four nodes share this "
            + "machine's cores, so four senders and four receivers compete for them; p2p is one distributed call carrying a float32 tensor "
            + "of the same size from node 0 to node 1 (bytes out of band), the C column a blocking socket stream of the same bytes. "
            + "Rank 0 sent \(traffic.messagesSent) collective messages, \(traffic.bytesSent / 1_048_576) MiB in all.")
    withExtendedLifetime(sink) {}
    await world.shutdown()
    return report
}

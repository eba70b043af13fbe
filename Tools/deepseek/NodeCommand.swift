import ArgumentParser
import DeepseekActors
import DeepseekCore
import DeepseekTensor
import DeepseekRuntime
import DeepseekTransportURing
import Foundation
import Synchronization
import Distributed

/// `deepseek node`: one node process of a cluster.
///
/// The node learns its rank, the world size and the coordinator (rank 0) from flags or from the
/// launcher's environment (Slurm, Open MPI, torchrun), authenticates every connection with the
/// cluster secret, rendezvouses through the coordinator, exchanges a tensor and a call with every
/// peer, and then serves until `--serve` seconds have passed, reporting membership changes.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Run one node of a Deepseek cluster.",
        discussion: """
            Placement comes from --rank/--world-size/--coordinator, or else from the launcher's
            environment: SLURM_PROCID/SLURM_NTASKS/SLURM_LAUNCH_NODE_IPADDR, OMPI_COMM_WORLD_RANK/
            OMPI_COMM_WORLD_SIZE, or RANK/WORLD_SIZE; MASTER_ADDR/MASTER_PORT name the coordinator.
            The cluster secret comes from --secret-file or DEEPSEEK_CLUSTER_SECRET.
            """
    )

    @Option(help: "This node's rank (0 is the coordinator).") var rank: Int?
    @Option(help: "Number of nodes in the cluster.") var worldSize: Int?
    @Option(help: "The coordinator's host:port (rank 0 listens there).") var coordinator: String?
    @Option(help: "The host to listen on (default: the coordinator's host for rank 0, 0.0.0.0 otherwise).") var bindHost: String?
    @Option(help: "The address peers should use to reach this node (default: the source address towards the coordinator).")
    var advertise: String?
    @Option(help: "A file holding the cluster secret.") var secretFile: String?
    @Option(help: "Bytes of the tensor exchanged with each peer.") var exchangeBytes: Int = 1 << 20
    @Option(help: "Seconds to keep serving after the exchange.") var serve: Double = 0
    @Option(help: "Seconds to wait for the whole cluster to assemble.") var joinTimeout: Double = 60
    @Flag(help: "Print transport log lines.") var verbose = false
    @Flag(name: .customLong("run-graph"), help: "After the exchange, run a graph with one branch per node through the engine and check it against a local run.")
    var runGraph = false

    func validate() throws {
        if let worldSize, worldSize < 1 { throw ValidationError("--world-size must be at least 1, got \(worldSize)") }
        if let rank, rank < 0 { throw ValidationError("--rank must not be negative, got \(rank)") }
        guard exchangeBytes >= 4 && exchangeBytes <= 1 << 30 else {
            throw ValidationError("--exchange-bytes must be between 4 and 1 GiB, got \(exchangeBytes)")
        }
        guard serve >= 0 && joinTimeout > 0 else { throw ValidationError("--serve must be ≥ 0 and --join-timeout > 0") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let placement = try resolvePlacement(environment)
        let secret = try clusterSecret(environment)
        let node = NodeID(placement.rank)
        let say: @Sendable (String) -> Void = { line in
            // Unbuffered write, so lines from several node processes interleave whole and in time.
            let text = Array("[rank \(placement.rank)] \(line)\n".utf8)
            _ = text.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        }
        say("placement: \(placement)")
        let rdma = RDMAInfo.probe()
        say(
            "transport: io_uring over TCP (RDMA "
                + (rdma.available ? "devices present: \(rdma.devices.map(\.name).joined(separator: ", "))" : "unavailable: \(rdma.reason ?? "unknown reason")")
                + ")")

        var settings = URingTransportSettings(
            localNode: node,
            listenAddress: .tcp(
                host: bindHost ?? (placement.rank == 0 ? placement.coordinatorHost : "0.0.0.0"),
                port: placement.rank == 0 ? UInt16(placement.coordinatorPort) : 0),
            peers: placement.rank == 0
                ? [:] : [NodeID(0): .tcp(host: placement.coordinatorHost, port: UInt16(placement.coordinatorPort))],
            clusterSecret: secret)
        let verbose = self.verbose
        settings.log = { level, line in if verbose || level >= .warning { say("transport \(level): \(line)") } }
        let transport = try URingTransport(settings: settings)
        guard case .tcp(_, let port)? = transport.boundAddress else {
            throw ValidationError("the transport did not report the port it listens on")
        }
        let host = try advertise ?? NodeNetworking.sourceAddress(towards: placement.coordinatorHost, port: placement.coordinatorPort)
        let myAddress = "\(host):\(port)"
        say("listening on port \(port), advertised as \(myAddress)")

        let registry = WireTypeRegistry()
        let system = DeepseekActorSystem(
            transport: transport,
            settings: ActorSystemSettings(
                defaultCallTimeout: .seconds(joinTimeout), registry: registry,
                failureDetection: .init(interval: .milliseconds(250), suspicionTimeout: .seconds(1), deathTimeout: .seconds(3))))
        try await system.start()
        let waitDump = WaitDump.install(system, say: say)
        defer { waitDump.cancel() }
        let coordinatorActor =
            placement.rank == 0
            ? RendezvousCoordinator.make(worldSize: placement.worldSize, actorSystem: system) { joinedRank, address in
                guard joinedRank != 0, let parsed = try? NodeNetworking.parse(address) else { return }
                try? transport.setAddress(parsed, for: NodeID(joinedRank))
            } : nil
        let agent = NodeAgent.make(rank: placement.rank, processID: getpid(), actorSystem: system)
        defer { withExtendedLifetime((coordinatorActor, agent)) {} }

        // Rendezvous: learn every rank's address from the coordinator.
        let coordinatorRef = try RendezvousCoordinator.resolve(id: RendezvousCoordinator.address(on: NodeID(0)), using: system)
        let table = try await NodeNetworking.retrying(for: joinTimeout, say: say) {
            try await coordinatorRef.join(rank: placement.rank, address: myAddress)
        }
        for (peerRank, address) in table.enumerated() where peerRank != placement.rank {
            try transport.setAddress(try NodeNetworking.parse(address), for: NodeID(peerRank))
        }
        say("cluster ready: \(placement.worldSize) nodes: \(table.joined(separator: ", "))")

        // Watch every peer: report when one goes away; the coordinator stops waiting for it.
        let gone = Mutex<Set<Int>>([])
        for peerRank in 0..<placement.worldSize where peerRank != placement.rank {
            await system.watch(NodeAgent.address(ofRank: peerRank)) { _, reason in
                gone.withLock { _ = $0.insert(peerRank) }
                say("rank \(peerRank) is gone: \(reason)")
                if let coordinatorActor { Task { try? await coordinatorActor.markGone(peerRank) } }
            }
        }

        // Exchange a tensor and a call with every peer.
        var rng = SeededRandom(seed: UInt64(placement.rank) + 1)
        let payload = try Tensor.uniform([exchangeBytes / 4], rng: &rng)
        let expectedSum = try payload.cast(to: .float64).sum().item(as: Double.self)
        let clock = ContinuousClock()
        for peerRank in 0..<placement.worldSize where peerRank != placement.rank {
            let peer = try NodeAgent.resolve(id: NodeAgent.address(ofRank: peerRank), using: system)
            let start = clock.now
            let who = try await peer.describe()
            let back = try await peer.echo(payload)
            let remoteSum = try await peer.sum(payload)
            let elapsed = clock.now - start
            guard try back.scalars(as: Float.self) == payload.scalars(as: Float.self),
                Swift.abs(remoteSum - expectedSum) <= 1e-6 * Swift.max(1, Swift.abs(expectedSum))
            else {
                throw ValidationError("exchange with rank \(peerRank) returned different data")
            }
            say("exchange with \(who): ok (\(payload.byteCount) bytes each way, \(elapsed))")
        }
        try await coordinatorRef.barrier("exchanged", rank: placement.rank)
        say("exchange ok with \(placement.worldSize - 1) peers")

        if runGraph {
            let (runtime, device, graph) = try NodeGraphRun.host(rank: placement.rank, worldSize: placement.worldSize, system: system)
            await runtime.whenLocal { $0.register(graph) }
            try await coordinatorRef.barrier("runtime-ready", rank: placement.rank)
            if placement.rank == 0 {
                try await NodeGraphRun.coordinate(worldSize: placement.worldSize, local: device, system: system, say: say)
            }
            try await coordinatorRef.barrier("graph-done", rank: placement.rank)
            withExtendedLifetime((runtime, device)) {}
        }

        // Keep serving: every second, a call to every live peer, reported per round.
        let end = clock.now + .milliseconds(Int(serve * 1000))
        var round = 0
        while clock.now < end {
            try await Task.sleep(for: .seconds(1))
            round += 1
            var answered: [Int] = []
            for peerRank in 0..<placement.worldSize where peerRank != placement.rank && !gone.withLock({ $0.contains(peerRank) }) {
                let peer = try NodeAgent.resolve(id: NodeAgent.address(ofRank: peerRank), using: system)
                if (try? await DeepseekActorSystem.$callTimeout.withValue(.seconds(2)) { try await peer.describe() }) != nil {
                    answered.append(peerRank)
                }
            }
            say("round \(round): ok with \(answered.count) peers \(answered)")
        }
        if gone.withLock({ $0.contains(0) }) {
            say("leaving without the coordinator: it is gone")
        } else {
            do {
                try await DeepseekActorSystem.$callTimeout.withValue(.seconds(30)) {
                    try await coordinatorRef.barrier("leaving", rank: placement.rank)
                }
            } catch {
                say("leaving without the coordinator: \(error)")
            }
        }
        if placement.rank == 0 {
            // The coordinator leaves last: the others are still reading its barrier replies.
            let deadline = ContinuousClock.now + .seconds(10)
            while !system.connectedPeers.isEmpty && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        await system.shutdown()
        say("done")
    }

    func resolvePlacement(_ environment: [String: String]) throws -> ClusterPlacement {
        if let rank, let worldSize {
            guard rank < worldSize else { throw ValidationError("--rank \(rank) must be below --world-size \(worldSize)") }
            let (host, port) = try NodeNetworking.split(coordinator ?? "127.0.0.1:\(LaunchEnvironment.defaultPort)")
            return ClusterPlacement(rank: rank, worldSize: worldSize, coordinatorHost: host, coordinatorPort: port, source: "flags")
        }
        if rank != nil || worldSize != nil {
            throw ValidationError("give both --rank and --world-size, or neither (then the launcher's environment is used)")
        }
        do {
            guard var placement = try LaunchEnvironment.placement(from: environment) else {
                throw ValidationError(
                    "no placement: pass --rank and --world-size, or run under srun, mpirun or a torchrun-style launcher")
            }
            if let coordinator {
                (placement.coordinatorHost, placement.coordinatorPort) = try NodeNetworking.split(coordinator)
            }
            return placement
        } catch let problem as LaunchEnvironment.Problem {
            throw ValidationError("launcher environment: \(problem)")
        }
    }

    func clusterSecret(_ environment: [String: String]) throws -> [UInt8] {
        if let secretFile {
            guard let data = FileManager.default.contents(atPath: secretFile), !data.isEmpty else {
                throw ValidationError("cannot read a non-empty cluster secret from \(secretFile)")
            }
            return Array(data)
        }
        if let text = environment["DEEPSEEK_CLUSTER_SECRET"], !text.isEmpty { return Array(text.utf8) }
        throw ValidationError("no cluster secret: pass --secret-file or set DEEPSEEK_CLUSTER_SECRET (the same on every node)")
    }
}

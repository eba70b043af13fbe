import ArgumentParser
import DeepseekActors
import DeepseekCore
import DeepseekNN
import DeepseekGraph
import DeepseekRuntime
import DeepseekTracing
import DeepseekTraining
import DeepseekTransportURing
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One rank of a distributed `deepseek train`: joins the others over io_uring TCP (cluster
/// secret, rendezvous at rank 0), trains its share of every batch through the engine and
/// averages gradients with a `DistributedOptimizer`. Rank 0 prints the epochs, writes the
/// checkpoints and the metrics; every rank prints its parameter checksum and memory.
extension TrainCommand {
    func runRank(_ placement: ClusterPlacement) async throws {
        let r = placement.rank
        let say: @Sendable (String) -> Void = { line in
            let text = Array("[rank \(r)] \(line)\n".utf8)
            _ = text.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        }
        if let launcherPID { Self.exitWhenGone(launcherPID, say: say) }
        do {
            try await trainAsRank(placement, say: say)
        } catch {
            let text = Array("[rank \(r)] error: \(error)\n".utf8)
            _ = text.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            throw ExitCode.failure
        }
    }

    func trainAsRank(_ placement: ClusterPlacement, say: @escaping @Sendable (String) -> Void) async throws {
        try validateDistributed(worldSize: placement.worldSize)
        let wallStart = ContinuousClock.now
        let r = placement.rank
        let n = placement.worldSize
        if r == 0 || launcherPID == nil { say("placement: \(placement)") }
        let secret = try clusterSecret()
        var transportSettings = URingTransportSettings(
            localNode: NodeID(r),
            listenAddress: .tcp(host: r == 0 ? placement.coordinatorHost : "0.0.0.0", port: r == 0 ? UInt16(placement.coordinatorPort) : 0),
            peers: r == 0 ? [:] : [NodeID(0): .tcp(host: placement.coordinatorHost, port: UInt16(placement.coordinatorPort))],
            clusterSecret: secret)
        // A rank that died does not come back within a job: give up on it after a few quick
        // redials (under a second), so its peers fail fast naming it instead of waiting.
        transportSettings.reconnectAttempts = 4
        transportSettings.reconnectBackoffMaximum = .milliseconds(500)
        transportSettings.log = { level, line in if level >= .warning { say("transport \(level): \(line)") } }
        let transport = try URingTransport(settings: transportSettings)
        guard case .tcp(_, let port)? = transport.boundAddress else { throw ValidationError("the transport did not report the port it listens on") }
        let host = try NodeNetworking.sourceAddress(towards: placement.coordinatorHost, port: placement.coordinatorPort)
        let recording = try trace.map { try TraceRecording(path: Self.tracePath($0, rank: r), processName: "deepseek train (rank \(r))") }
        let system = DeepseekActorSystem(
            transport: transport,
            settings: ActorSystemSettings(
                defaultCallTimeout: .seconds(joinTimeout),
                failureDetection: .init(interval: .seconds(1), suspicionTimeout: .seconds(4), deathTimeout: .seconds(10)),
                tracer: recording?.tracer ?? .disabled))
        try await system.start()
        let coordinatorActor =
            r == 0
            ? RendezvousCoordinator.make(worldSize: n, actorSystem: system) { joined, address in
                guard joined != 0, let parsed = try? NodeNetworking.parse(address) else { return }
                try? transport.setAddress(parsed, for: NodeID(joined))
            } : nil
        let coordinatorRef = try RendezvousCoordinator.resolve(id: RendezvousCoordinator.address(on: NodeID(0)), using: system)
        let table = try await Self.joining(for: joinTimeout, say: say) {
            try await coordinatorRef.join(rank: r, address: "\(host):\(port)")
        }
        for (peer, address) in table.enumerated() where peer != r { try transport.setAddress(try NodeNetworking.parse(address), for: NodeID(peer)) }
        let communicator = await Communicator(
            group: CollectiveGroup(worldSize: n), rank: r, actorSystem: system, settings: CommunicatorSettings(operationTimeout: .seconds(collectiveTimeout)))
        try await coordinatorRef.barrier("communicators", rank: r)
        await communicator.connect()
        if r == 0 { say("cluster ready: \(n) ranks: \(table.joined(separator: ", "))") }

        let job = try prepare(announce: r == 0)
        // The engine runs this rank's share on its own devices: a local actor system, as in a
        // one-process run; only the collectives cross processes.
        let local = DeepseekActorSystem(
            transport: InProcessNetwork().transport(for: NodeID(0)), settings: ActorSystemSettings(tracer: recording?.tracer ?? .disabled))
        try await local.start()
        let device = DeviceActor(backend: job.cpu, kind: .cpu, name: "cpu0", actorSystem: local)
        let engine = try await Engine(actorSystem: local, devices: [device])
        let rate = job.learningRate
        let context = RankContext(placement: placement, communicator: communicator, say: say, wallStart: wallStart, transport: transport)
        do {
            switch optimizer {
            case .sgd:
                try await fitRank(job, try SGD(learningRate: rate, momentum: momentum, weightDecay: weightDecay), .sgd(learningRate: rate, momentum: momentum, weightDecay: weightDecay), engine, context)
            case .adam: try await fitRank(job, try Adam(learningRate: rate, weightDecay: weightDecay), .adam(learningRate: rate, weightDecay: weightDecay), engine, context)
            case .adamw: try await fitRank(job, try AdamW(learningRate: rate, weightDecay: weightDecay), .adamW(learningRate: rate, weightDecay: weightDecay), engine, context)
            case .lamb: try await fitRank(job, try LAMB(learningRate: rate, weightDecay: weightDecay), .lamb(learningRate: rate, weightDecay: weightDecay), engine, context)
            }
        } catch {
            _ = try? recording?.finish(metadata: ["outcome": "failed: \(error)"])
            throw error
        }
        if let recording { say(try recording.finish(metadata: ["command": CommandLine.arguments.joined(separator: " "), "rank": "\(r)"])) }
        // Leave together; rank 0 (whose coordinator answers the barrier) goes last.
        try await coordinatorRef.barrier("finished", rank: r)
        await communicator.close()
        if r == 0 {
            let deadline = ContinuousClock.now + .seconds(10)
            while !system.connectedPeers.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        }
        withExtendedLifetime((device, coordinatorActor)) {}
        await local.shutdown()
        await system.shutdown()
    }

    /// What one rank's training needs besides the job.
    struct RankContext {
        var placement: ClusterPlacement
        var communicator: Communicator
        var say: @Sendable (String) -> Void
        var wallStart: ContinuousClock.Instant
        var transport: URingTransport
    }

    func fitRank<O: Optimizer>(_ job: Job, _ optimizer: O, _ choice: OptimizerChoice, _ engine: Engine, _ c: RankContext) async throws {
        let r = c.placement.rank
        let n = c.placement.worldSize
        let trainer = Trainer(model: job.network, optimizer: optimizer, engine: engine, settings: job.settings)
        if let metricsCSV, r == 0 { trainer.callbacks.append(try MetricsCSV(path: metricsCSV)) }
        var resumed: OptimizerState?
        if let checkpointDirectory {
            // Rank 0 writes; every rank reads (across machines the directory must be shared).
            let directory = try CheckpointDirectory(checkpointDirectory)
            if resume {
                guard let checkpoint = try directory.loadLatest() else { throw ValidationError("--resume: no checkpoint in \(checkpointDirectory)") }
                try trainer.resume(from: checkpoint)
                resumed = checkpoint.optimizer
                if r == 0 {
                    let savedBy = checkpoint.metadata.tags["world_size"].map { "\($0) ranks" } ?? "one process"
                    Self.emit("resumed from \(checkpointDirectory) after epoch \(trainer.completedEpochs), step \(trainer.globalStep) (saved by \(savedBy), continuing on \(n))")
                }
            }
            trainer.callbacks.append(DistributedCheckpointEveryEpoch(directory: directory, writes: r == 0))
        }
        if let crashRank, crashRank == r, let crashAtStep { trainer.callbacks.append(CrashAtStep(step: crashAtStep, say: c.say)) }
        let compression = try gradientCompression()
        let distributed = try await DistributedOptimizer(
            job.network.parameters, optimizer: choice, precision: precision.precision, compression: compression,
            settings: DistributedSettings(stage: ZeROStage(rawValue: zeroStage) ?? .one, bucketBytes: bucketBytes), communicator: c.communicator)
        if let resumed { try await distributed.restore(resumed) }
        trainer.distributed = distributed
        if r == 0 {
            Self.emit("training \(job.description) on \(n) ranks (batch \(batchSize / n) per rank), ZeRO stage \(zeroStage), compression \(compression)")
        }
        let reports = try await trainer.fit(job.train, validation: job.test)
        let digest = try await trainer.parameterDigest()
        c.say("parameter checksum \(String(digest, radix: 16))")
        let memory = try await distributed.memory()
        c.say("memory: \(memory)")
        let traffic = await c.communicator.traffic
        let transportBytes = c.transport.counters.bytesSent
        // Exact sums of counters above 2^24: split each into 20-bit halves before the float all-reduce.
        func halves(_ v: Int) -> [Float] { [Float(v >> 20), Float(v & 0xF_FFFF)] }
        let local = halves(traffic.bytesSent) + halves(traffic.messagesSent) + halves(transportBytes)
        let sums = try await c.communicator.allReduce(local, tag: await c.communicator.nextTag())
        let total = stride(from: 0, to: sums.count, by: 2).map { Int(sums[$0]) << 20 + Int(sums[$0 + 1]) }
        let (compute, synchronization) = trainer.distributedSeconds
        let share = compute + synchronization > 0 ? synchronization / (compute + synchronization) : 0
        guard r == 0, let last = trainer.history.last else { return }
        Self.emit("final test accuracy: \(Double(Int(last.testAccuracy * 10000)) / 100)%")
        Self.emit("rank 0: \(Int((share * 1000).rounded()) / 10)% of step time in gradient synchronisation (\(Int(synchronization * 1000)) of \(Int((compute + synchronization) * 1000)) ms)")
        Self.emit("sent by all ranks: \(total[0]) bytes in \(total[1]) collective messages (\(total[2]) bytes on the wire)")
        if let metricsJSON {
            var metrics: [(key: String, value: Double)] = [
                ("test_accuracy", last.testAccuracy), ("test_loss", last.testLoss), ("train_loss", last.meanLoss), ("epochs", Double(trainer.completedEpochs)),
                ("samples_per_second", Self.samplesPerSecond(reports, batchSize: batchSize)), ("wall_seconds", (ContinuousClock.now - c.wallStart).inSeconds),
                ("world_size", Double(n)), ("zero_stage", Double(zeroStage)), ("bytes_sent", Double(total[0])), ("messages_sent", Double(total[1])),
                ("transport_bytes_sent", Double(total[2])), ("memory_bytes", Double(memory.total)), ("communication_share", share),
                ("memory_model_parameter_bytes", Double(memory.modelParameterBytes)), ("memory_shard_parameter_bytes", Double(memory.shardParameterBytes)),
                ("memory_gradient_bytes", Double(memory.gradientBytes)), ("memory_bucket_bytes", Double(memory.bucketBytes)),
                ("memory_optimizer_state_bytes", Double(memory.optimizerStateBytes)), ("memory_compression_bytes", Double(memory.compressionBytes)),
            ]
            if case .topK(let density, _, _, _, _) = compression { metrics.append(("top_k_density", density)) }
            try MetricsJSON.write(metrics, to: metricsJSON)
        }
    }

    /// The cluster secret: `--secret-file`, else `DEEPSEEK_CLUSTER_SECRET` (the launcher sets it).
    func clusterSecret() throws -> [UInt8] {
        if let secretFile {
            guard let data = FileManager.default.contents(atPath: secretFile), !data.isEmpty else {
                throw ValidationError("cannot read a non-empty cluster secret from \(secretFile)")
            }
            return Array(data)
        }
        if let text = ProcessInfo.processInfo.environment["DEEPSEEK_CLUSTER_SECRET"], !text.isEmpty { return Array(text.utf8) }
        throw ValidationError("no cluster secret: pass --secret-file or set DEEPSEEK_CLUSTER_SECRET (the same on every rank)")
    }

    /// Retries the rendezvous while rank 0 is not up yet: its node unreachable, or reachable
    /// but its coordinator actor not yet created (ranks start in any order).
    static func joining<T>(for seconds: Double, say: (String) -> Void, _ body: () async throws -> T) async throws -> T {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as ActorSystemError where (error.code == .nodeUnreachable || error.code == .deadActor) && ContinuousClock.now < deadline {
                attempt += 1
                if attempt % 20 == 0 { say("waiting for rank 0: \(error.message)") }
                try await Task.sleep(for: .milliseconds(min(100 * attempt, 1000)))
            }
        }
    }

    /// `run.json` → `run-rank2.json` for ranks other than 0.
    static func tracePath(_ path: String, rank: Int) -> String {
        guard rank > 0 else { return path }
        if path.hasSuffix(".json") { return String(path.dropLast(5)) + "-rank\(rank).json" }
        return path + "-rank\(rank)"
    }

    /// A rank started by `--nodes` must not outlive its launcher (killed, or its terminal gone).
    static func exitWhenGone(_ launcher: Int32, say: @escaping @Sendable (String) -> Void) {
        let thread = Thread {
            while getppid() == launcher { Thread.sleep(forTimeInterval: 0.5) }
            say("the launcher (pid \(launcher)) is gone; stopping")
            _exit(3)
        }
        thread.start()
    }
}

/// Fault injection for tests of failure handling: the rank kills itself with SIGKILL — no
/// cleanup, no goodbye to its peers — once it has taken `step` steps.
final class CrashAtStep: TrainerCallback, @unchecked Sendable {
    let step: Int
    let say: @Sendable (String) -> Void

    init(step: Int, say: @escaping @Sendable (String) -> Void) {
        self.step = step
        self.say = say
    }

    func trainerDidStep(_ report: StepReport) {
        guard report.globalStep >= step else { return }
        say("fault injection: killing myself (SIGKILL) after step \(report.globalStep)")
        kill(getpid(), SIGKILL)
    }
}

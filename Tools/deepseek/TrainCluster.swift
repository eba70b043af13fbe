import ArgumentParser
import DeepseekActors
import DeepseekTraining
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `deepseek train --nodes N`: starts N rank processes of the same binary on loopback and
/// watches them. The first rank that dies stops the job: the launcher names it, gives the
/// others a moment to report what they saw, stops them and exits with a failure — no hang.
extension TrainCommand {
    /// The placement of this process when it is one rank of a distributed job: from the hidden
    /// flags the launcher passes, or from Slurm / Open MPI / torchrun variables when no
    /// `--nodes` is given. `nil` for a one-process run.
    func rankPlacement() throws -> ClusterPlacement? {
        if let rank, let worldSize {
            guard worldSize >= 1, rank >= 0, rank < worldSize else {
                throw ValidationError("--rank \(rank) must be in 0..<--world-size \(worldSize)")
            }
            let (host, port) = try NodeNetworking.split(coordinator ?? "127.0.0.1:\(LaunchEnvironment.defaultPort)")
            return ClusterPlacement(rank: rank, worldSize: worldSize, coordinatorHost: host, coordinatorPort: port, source: launcherPID != nil ? "deepseek train --nodes" : "flags")
        }
        if rank != nil || worldSize != nil { throw ValidationError("give both --rank and --world-size, or neither") }
        guard nodes == nil else { return nil }
        do {
            guard var placement = try LaunchEnvironment.placement(from: ProcessInfo.processInfo.environment), placement.worldSize > 1 else { return nil }
            if let coordinator { (placement.coordinatorHost, placement.coordinatorPort) = try NodeNetworking.split(coordinator) }
            return placement
        } catch let problem as LaunchEnvironment.Problem {
            throw ValidationError("launcher environment: \(problem)")
        }
    }

    /// Checks what a distributed run cannot do, before any process starts.
    func validateDistributed(worldSize: Int) throws {
        guard batchSize % worldSize == 0 else {
            throw ValidationError("--batch-size \(batchSize) must be a multiple of the \(worldSize) ranks (each rank trains on an equal share of every batch)")
        }
        guard (1...3).contains(zeroStage) else { throw ValidationError("--zero-stage must be 1, 2 or 3, got \(zeroStage)") }
        guard memoryBudget == nil else { throw ValidationError("--memory-budget works in one process only; drop it or --nodes") }
        guard precision != .fp16 else {
            throw ValidationError("--precision fp16 skips overflowing steps per rank, which would desynchronise the ranks; use bf16 or fp32 with several ranks")
        }
        guard clipNorm == nil else { throw ValidationError("--clip-norm is not supported with several ranks yet (it needs the norm of the averaged gradient)") }
        guard bucketBytes >= 4, collectiveTimeout > 0, joinTimeout > 0 else {
            throw ValidationError("--bucket-bytes must be ≥ 4 and --collective-timeout, --join-timeout > 0")
        }
        _ = try gradientCompression()
    }

    /// `--compression` and `--[no-]error-feedback` as the optimizer takes them.
    func gradientCompression() throws -> GradientCompression {
        let text = compression.lowercased()
        if text == "none" || text == "dense" { return .none }
        if text.hasPrefix("topk:"), let density = Double(text.dropFirst(5)), density > 0, density <= 1 {
            return .topK(density: density, errorFeedback: errorFeedback)
        }
        throw ValidationError("--compression '\(compression)' is neither none nor topk:DENSITY with DENSITY in (0, 1] (e.g. topk:0.01)")
    }

    /// Each rank's share of the machine's cores, at least one.
    static func threadsPerRank(cores: Int, ranks: Int) -> Int { Swift.max(1, cores / Swift.max(1, ranks)) }

    /// Starts `nodes` ranks of this binary on loopback and waits for them.
    func launch(nodes: Int) async throws {
        try validateDistributed(worldSize: nodes)
        guard FashionMNIST.isAvailable(directory: data) else {
            throw ValidationError("Fashion-MNIST is not in \(data); install it with `apt-get install dataset-fashion-mnist` or pass --data")
        }
        let port = try Self.freeLoopbackPort()
        var secret = SystemRandomNumberGenerator()
        let clusterSecret = (0..<4).map { _ in String(secret.next(), radix: 16) }.joined()
        var environment = ProcessInfo.processInfo.environment
        for key in Self.placementVariables { environment[key] = nil }
        environment["DEEPSEEK_CLUSTER_SECRET"] = clusterSecret
        let executable = Self.ownExecutable()
        var arguments = Array(CommandLine.arguments.dropFirst())
        if threads == nil {
            // Ranks on one machine share its cores, as torchrun's one OpenMP thread per process:
            // a rank whose parallel kernel waits for a thread another rank has descheduled waits
            // a whole scheduler time slice, many times a step.
            arguments += ["--threads", "\(Self.threadsPerRank(cores: ProcessInfo.processInfo.activeProcessorCount, ranks: nodes))"]
        }
        var children: [Process] = []
        for r in 0..<nodes {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: executable)
            child.arguments = arguments + ["--rank", "\(r)", "--world-size", "\(nodes)", "--coordinator", "127.0.0.1:\(port)", "--launcher-pid", "\(getpid())"]
            child.environment = environment
            child.standardInput = FileHandle.nullDevice
            do {
                try child.run()
            } catch {
                for c in children { c.terminate() }
                throw ValidationError("cannot start rank \(r) (\(executable)): \(error)")
            }
            children.append(child)
        }
        Self.emit("launched \(nodes) ranks on 127.0.0.1:\(port): pids \(children.map { String($0.processIdentifier) }.joined(separator: ", "))")
        let outcome = await Self.watch(children)
        if let failure = outcome {
            FileHandle.standardError.write(Data("error: \(failure); the job stopped. Restart it, or continue from the last checkpoint with --resume --checkpoint-dir (any number of --nodes)\n".utf8))
            throw ExitCode.failure
        }
        Self.emit("all \(nodes) ranks finished")
    }

    /// Waits until every child exits; on the first failure, waits up to 5 s for the others to
    /// stop on their own (they report the lost peer), then stops them. Returns the first
    /// failure, described, or `nil` when every rank succeeded.
    static func watch(_ children: [Process]) async -> String? {
        var failure: String?
        var failedAt: ContinuousClock.Instant?
        var signalled = false
        while children.contains(where: \.isRunning) {
            if failure == nil, let (r, child) = children.enumerated().first(where: { !$0.element.isRunning && !succeeded($0.element) }) {
                failure = describe(rank: r, child)
                failedAt = .now
                FileHandle.standardError.write(Data("launcher: \(failure!); stopping the other ranks\n".utf8))
            }
            if let failedAt {
                let waited = ContinuousClock.now - failedAt
                if waited > .seconds(5) && !signalled {
                    for c in children where c.isRunning { c.terminate() }
                    signalled = true
                } else if waited > .seconds(8) {
                    for c in children where c.isRunning { kill(c.processIdentifier, SIGKILL) }
                }
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
        for c in children { c.waitUntilExit() }
        if failure == nil, let (r, child) = children.enumerated().first(where: { !succeeded($0.element) }) {
            failure = describe(rank: r, child)
        }
        return failure
    }

    /// Writes a line straight to standard output, unbuffered, so lines of several rank
    /// processes sharing it arrive whole and in time order.
    static func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
    }

    static func succeeded(_ child: Process) -> Bool { child.terminationReason == .exit && child.terminationStatus == 0 }

    static func describe(rank: Int, _ child: Process) -> String {
        let who = "rank \(rank) (node\(rank), pid \(child.processIdentifier))"
        if child.terminationReason == .uncaughtSignal {
            let name = strsignal(child.terminationStatus).map { String(cString: $0) } ?? "signal"
            return "\(who) was killed by signal \(child.terminationStatus) (\(name))"
        }
        return "\(who) exited with status \(child.terminationStatus)"
    }

    /// The variables through which external launchers place a process; cleared for the
    /// children, which get their placement as flags.
    static let placementVariables = [
        "RANK", "WORLD_SIZE", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT",
    ]

    /// This binary, as the kernel knows it (argv[0] may be relative or a name on PATH).
    static func ownExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard length > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now (bound to port 0, then released).
    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ValidationError("cannot open a socket to pick a port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw ValidationError("cannot bind a loopback port (errno \(errno))") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

import Foundation
import Synchronization
import Testing

/// Four `deepseek node` processes on loopback form a cluster, exchange tensors and calls, and
/// leave cleanly; placement comes from flags for some nodes and launcher variables for others.
@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"))
struct NodeClusterTests {
    /// A free TCP port on loopback (bound and released; the race window is tiny on a test box).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    struct Node {
        let process: Process
        let output: Pipe
        let errors: Pipe
    }

    static func launch(_ arguments: [String], environment: [String: String]) throws -> Node {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: deepseekBinary!)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for key in ["RANK", "WORLD_SIZE", "SLURM_PROCID", "SLURM_NTASKS", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"] {
            env[key] = nil
        }
        env.merge(environment) { $1 }
        process.environment = env
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return Node(process: process, output: output, errors: errors)
    }

    @Test(.timeLimit(.minutes(2)))
    func fourNodesFormAClusterAndExchangeTensors() async throws {
        let port = Self.freePort()
        let secret = ["DEEPSEEK_CLUSTER_SECRET": "test-cluster-\(port)"]
        let common = ["node", "--exchange-bytes", "262144", "--join-timeout", "60"]
        var nodes: [Node] = []
        for rank in 0..<4 {
            if rank % 2 == 0 {
                nodes.append(try Self.launch(
                    common + ["--rank", "\(rank)", "--world-size", "4", "--coordinator", "127.0.0.1:\(port)"], environment: secret))
            } else {
                // torchrun-style variables for the odd ranks.
                nodes.append(try Self.launch(
                    common, environment: secret.merging(["RANK": "\(rank)", "WORLD_SIZE": "4", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "\(port)"]) { $1 }))
            }
        }
        let deadline = ContinuousClock.now + .seconds(90)
        while nodes.contains(where: { $0.process.isRunning }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        for node in nodes where node.process.isRunning { node.process.terminate() }
        for (rank, node) in nodes.enumerated() {
            node.process.waitUntilExit()
            let out = String(decoding: node.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let err = String(decoding: node.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(node.process.terminationStatus == 0, "rank \(rank) failed:\n\(out)\n\(err)")
            #expect(out.contains("cluster ready: 4 nodes"), "rank \(rank):\n\(out)")
            #expect(out.contains("exchange ok with 3 peers"), "rank \(rank):\n\(out)")
            #expect(out.contains("done"), "rank \(rank):\n\(out)")
        }
    }

    @Test func aNodeWithoutASecretRefusesToStart() async throws {
        let node = try Self.launch(["node", "--rank", "0", "--world-size", "1"], environment: ["DEEPSEEK_CLUSTER_SECRET": ""])
        node.process.waitUntilExit()
        let err = String(decoding: node.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(node.process.terminationStatus != 0)
        #expect(err.contains("cluster secret"))
    }

    @Test func inconsistentLauncherVariablesAreNamed() async throws {
        let node = try Self.launch(["node"], environment: ["RANK": "5", "WORLD_SIZE": "4", "DEEPSEEK_CLUSTER_SECRET": "s"])
        node.process.waitUntilExit()
        let err = String(decoding: node.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(node.process.terminationStatus != 0)
        #expect(err.contains("RANK=5 is not below WORLD_SIZE=4"))
    }
}

extension NodeClusterTests {
    @Test(.timeLimit(.minutes(2)))
    func aGraphPlacedAcrossTwoNodeProcessesMatchesOneProcess() async throws {
        let port = Self.freePort()
        let secret = ["DEEPSEEK_CLUSTER_SECRET": "graph-cluster-\(port)"]
        let nodes = try (0..<2).map { rank in
            try Self.launch(
                ["node", "--rank", "\(rank)", "--world-size", "2", "--coordinator", "127.0.0.1:\(port)", "--exchange-bytes", "4096", "--run-graph"],
                environment: secret)
        }
        let deadline = ContinuousClock.now + .seconds(90)
        while nodes.contains(where: { $0.process.isRunning }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        for node in nodes where node.process.isRunning { node.process.terminate() }
        for (rank, node) in nodes.enumerated() {
            node.process.waitUntilExit()
            let out = String(decoding: node.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let err = String(decoding: node.errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(node.process.terminationStatus == 0, "rank \(rank) failed:\n\(out)\n\(err)")
            if rank == 0 { #expect(out.contains("outputs identical to the single-process run"), "\(out)\n\(err)") }
        }
    }
}

extension NodeClusterTests {
    /// `kill -USR1` makes a running node print what it waits for, and it keeps running.
    @Test(.timeLimit(.minutes(1)))
    func sigusr1PrintsTheNodesPendingCallsAndTheNodeCarriesOn() async throws {
        let port = Self.freePort()
        let node = try Self.launch(
            ["node", "--rank", "0", "--world-size", "1", "--coordinator", "127.0.0.1:\(port)", "--exchange-bytes", "4096", "--serve", "3"],
            environment: ["DEEPSEEK_CLUSTER_SECRET": "usr1-\(port)"])
        // Wait until the node serves (its handler is installed before the rendezvous).
        let seen = Mutex("")
        node.output.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            seen.withLock { $0 += String(decoding: data, as: UTF8.self) }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while !seen.withLock({ $0.contains("cluster ready") }) && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        kill(node.process.processIdentifier, SIGUSR1)
        node.process.waitUntilExit()
        node.output.fileHandleForReading.readabilityHandler = nil
        let out = seen.withLock { $0 } + String(decoding: node.output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(node.process.terminationStatus == 0, "\(out)")
        #expect(out.contains("SIGUSR1: node0: no pending calls"), "\(out)")
        #expect(out.contains("done"), "\(out)")
    }
}

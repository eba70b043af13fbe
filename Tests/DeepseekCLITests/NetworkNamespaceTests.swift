import Foundation
import Testing

/// Whether this process may create network namespaces (root with iproute2).
let networkNamespacesAvailable: Bool = {
    guard getuid() == 0, let ip = ipCommand else { return false }
    let probe = "dsprobe\(getpid())"
    defer { _ = shell("\(ip) netns del \(probe)") }
    return shell("\(ip) netns add \(probe)") == 0
}()

let ipCommand: String? = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first { access($0, X_OK) == 0 }

@discardableResult
func shell(_ command: String) -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/sh")
    p.arguments = ["-c", command]
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    do { try p.run() } catch { return -1 }
    p.waitUntilExit()
    return p.terminationStatus
}

/// Three nodes, each in its own network namespace, joined through a bridge by veth pairs. One
/// link is cut while the cluster runs: the two survivors report the loss and keep serving each
/// other, and everyone exits.
@Suite(
    .enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"),
    .enabled(if: networkNamespacesAvailable, "needs root and iproute2 to create network namespaces"))
struct NetworkNamespaceTests {
    @Test(.timeLimit(.minutes(2)))
    func survivorsReportACutLinkAndKeepWorking() async throws {
        let ip = ipCommand!
        let tag = "ds\(getpid() % 100_000)"
        let bridge = "\(tag)b"
        let spaces = (0..<3).map { "\(tag)n\($0)" }
        let subnet = "10.\(77 + getpid() % 50).\(getpid() % 200)"
        defer {
            for ns in spaces + [bridge] { shell("\(ip) netns del \(ns)") }
        }
        var setup = [
            "\(ip) netns add \(bridge)", "\(ip) -n \(bridge) link add br0 type bridge", "\(ip) -n \(bridge) link set br0 up",
        ]
        for (i, ns) in spaces.enumerated() {
            setup += [
                "\(ip) netns add \(ns)",
                "\(ip) -n \(ns) link add eth0 type veth peer name p\(i) netns \(bridge)",
                "\(ip) -n \(bridge) link set p\(i) master br0", "\(ip) -n \(bridge) link set p\(i) up",
                "\(ip) -n \(ns) addr add \(subnet).\(i + 1)/24 dev eth0", "\(ip) -n \(ns) link set eth0 up",
                "\(ip) -n \(ns) link set lo up",
            ]
        }
        for command in setup {
            try #require(shell(command) == 0, "setup failed: \(command)")
        }

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(tag)-logs")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let logs = (0..<3).map { directory.appendingPathComponent("rank\($0).log").path }
        var nodes: [Process] = []
        for (rank, ns) in spaces.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = [
                "-c",
                "exec \(ip) netns exec \(ns) \(deepseekBinary!) node --rank \(rank) --world-size 3 --coordinator \(subnet).1:29500 --serve 12 --exchange-bytes 65536 > \(logs[rank]) 2>&1",
            ]
            p.environment = ["DEEPSEEK_CLUSTER_SECRET": "netns-\(tag)"]
            try p.run()
            nodes.append(p)
        }
        func log(_ rank: Int) -> String { (try? String(contentsOfFile: logs[rank], encoding: .utf8)) ?? "" }

        // Once every node has exchanged with every other, cut rank 2's link.
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(60)
        while !(0..<3).allSatisfy({ log($0).contains("exchange ok") }) && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
        }
        try #require((0..<3).allSatisfy { log($0).contains("exchange ok") }, "cluster did not form:\n\(log(0))\n\(log(1))\n\(log(2))")
        #expect(shell("\(ip) -n \(bridge) link set p2 down") == 0)

        while nodes.contains(where: \.isRunning) && clock.now < deadline + .seconds(30) {
            try await Task.sleep(for: .milliseconds(200))
        }
        for p in nodes where p.isRunning { p.terminate() }
        for rank in 0..<2 {
            let text = log(rank)
            #expect(nodes[rank].terminationStatus == 0, "rank \(rank):\n\(text)")
            #expect(text.contains("rank 2 is gone"), "rank \(rank) did not notice the cut:\n\(text)")
            #expect(text.contains("ok with 1 peers [\(1 - rank)]"), "rank \(rank) stopped serving its survivor:\n\(text)")
            #expect(text.contains("done"), "rank \(rank):\n\(text)")
        }
        #expect(log(2).contains("is gone"), "the cut-off node should notice too:\n\(log(2))")
    }
}

extension NetworkNamespaceTests {
    /// Four `deepseek train` ranks, each in its own network namespace (veth pairs on a bridge),
    /// placed by torchrun-style variables, end with the same parameters as four ranks on loopback.
    @Test(.timeLimit(.minutes(3)))
    func fourRanksInSeparateNamespacesTrainLikeFourOnLoopback() async throws {
        let ip = ipCommand!
        let binary = try #require(deepseekBinary)
        let tag = "dt\(getpid() % 100_000)"
        let bridge = "\(tag)b"
        let spaces = (0..<4).map { "\(tag)n\($0)" }
        let subnet = "10.\(130 + getpid() % 50).\(getpid() % 200)"
        defer { for ns in spaces + [bridge] { shell("\(ip) netns del \(ns)") } }
        var setup = ["\(ip) netns add \(bridge)", "\(ip) -n \(bridge) link add br0 type bridge", "\(ip) -n \(bridge) link set br0 up"]
        for (i, ns) in spaces.enumerated() {
            setup += [
                "\(ip) netns add \(ns)", "\(ip) -n \(ns) link add eth0 type veth peer name p\(i) netns \(bridge)",
                "\(ip) -n \(bridge) link set p\(i) master br0", "\(ip) -n \(bridge) link set p\(i) up",
                "\(ip) -n \(ns) addr add \(subnet).\(i + 1)/24 dev eth0", "\(ip) -n \(ns) link set eth0 up", "\(ip) -n \(ns) link set lo up",
            ]
        }
        for command in setup { try #require(shell(command) == 0, "setup failed: \(command)") }

        let data = try TrainClusterTests.dataset("netns-train")
        defer { try? FileManager.default.removeItem(at: data) }
        let arguments = TrainClusterTests.common(data) + ["--epochs", "2"]
        let loopback = runProcess(binary, arguments + ["--nodes", "4"], timeout: 150)
        #expect(loopback.exitCode == 0, "\(loopback.stdout)\n\(loopback.stderr)")
        let expected = TrainClusterTests.checksums(loopback.stdout)
        #expect(expected.count == 4 && Set(expected.values).count == 1, "\(expected)")

        let logs = (0..<4).map { data.appendingPathComponent("rank\($0).log").path }
        var ranks: [Process] = []
        for (rank, ns) in spaces.enumerated() {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/bin/sh")
            p.arguments = ["-c", "exec \(ip) netns exec \(ns) \(binary) \(arguments.joined(separator: " ")) > \(logs[rank]) 2>&1"]
            p.environment = [
                "RANK": "\(rank)", "WORLD_SIZE": "4", "MASTER_ADDR": "\(subnet).1", "MASTER_PORT": "29500",
                "DEEPSEEK_CLUSTER_SECRET": "netns-train-\(tag)", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            ]
            try p.run()
            ranks.append(p)
        }
        let deadline = ContinuousClock.now + .seconds(120)
        while ranks.contains(where: \.isRunning) && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        for p in ranks where p.isRunning { p.terminate() }
        var sums: [Int: String] = [:]
        for (rank, p) in ranks.enumerated() {
            p.waitUntilExit()
            let log = (try? String(contentsOfFile: logs[rank], encoding: .utf8)) ?? ""
            #expect(p.terminationStatus == 0, "rank \(rank):\n\(log)")
            sums.merge(TrainClusterTests.checksums(log)) { a, _ in a }
        }
        #expect(sums.count == 4, "\(sums)")
        #expect(Set(sums.values) == Set(expected.values), "namespaces \(sums), loopback \(expected)")
    }
}

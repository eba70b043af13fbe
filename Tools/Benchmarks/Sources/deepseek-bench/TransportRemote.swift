import CBenchBaselines
import DeepseekActors
import DeepseekTensor
import DeepseekTransportURing
import Distributed

/// The `remote-call` group: round-trip latency of a distributed call with a 64-byte argument
/// between two nodes vs a blocking C ping-pong of 64 bytes on the same loopback.
func runRemoteCall(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(group: Group.remoteCall.rawValue, title: "Remote distributed call, 64-byte argument (loopback TCP)", command: options.command(for: .remoteCall))
    report.columns = [
        Column("case", "round trip"), Column("median_us", "median µs", .fixed(1)), Column("p99_us", "p99 µs", .fixed(1)),
        Column("calls_per_s", "calls/s", .fixed(0)), Column("ratio", "median ÷ C", .ratio), Column("ratio_p99", "p99 ÷ C", .ratio),
        Column("switches", "context switches per call", .fixed(1)),
    ]
    let cluster = try await LoopbackCluster.start()
    let echo = BenchEcho(actorSystem: cluster.b)
    let remote = try BenchEcho.resolve(id: echo.id, using: cluster.a)
    let payload = [UInt8](repeating: 42, count: 64)
    let calls = 2000
    for _ in 0..<200 { _ = try await remote.echo(payload) }  // connect and warm up
    var swiftLatencies: [Double] = []
    var cLatencies: [Double] = []
    var ratios: [Double] = []
    var buffer = [Double](repeating: 0, count: calls)
    var cSwitches = 0
    var swiftSwitches = 0
    for rep in 0..<options.repetitions {
        progress("remote-call: repetition \(rep + 1)/\(options.repetitions)")
        let before = contextSwitches()
        _ = try checked(buffer.withUnsafeMutableBufferPointer { cbench_tcp_pingpong(Int64(calls), 64, $0.baseAddress) }, "ping-pong")
        cLatencies += buffer
        let middle = contextSwitches()
        cSwitches += middle - before
        var mine = [Double](repeating: 0, count: calls)
        for i in 0..<calls {
            let start = monotonicSeconds()
            _ = try await remote.echo(payload)
            mine[i] = monotonicSeconds() - start
        }
        swiftLatencies += mine
        swiftSwitches += contextSwitches() - middle
        ratios.append(Samples(seconds: mine).median / Samples(seconds: buffer).median)
    }
    let cMedian = Samples(seconds: cLatencies).median
    let sMedian = Samples(seconds: swiftLatencies).median
    let cP99 = percentile(cLatencies, 0.99)
    let sP99 = percentile(swiftLatencies, 0.99)
    report.records.append([
        "case": .text("C blocking TCP ping-pong, 2 threads"), "median_us": .number(cMedian * 1e6), "p99_us": .number(cP99 * 1e6),
        "calls_per_s": .number(1 / cMedian), "switches": .number(Double(cSwitches) / Double(calls * options.repetitions)),
    ])
    report.records.append([
        "case": .text("distributed call over URingTransport"), "median_us": .number(sMedian * 1e6), "p99_us": .number(sP99 * 1e6),
        "calls_per_s": .number(1 / sMedian), "ratio": .number(Samples(seconds: ratios).median), "ratio_p99": .number(sP99 / cP99),
        "switches": .number(Double(swiftSwitches) / Double(calls * options.repetitions)),
    ])
    let c0 = cluster.t0.counters
    report.notes.append(
        "\(calls) sequential calls per repetition; latencies pooled over all repetitions. Median ÷ C: median of per-repetition ratios. "
            + "Context switches: getrusage of the whole process (both nodes or both threads), per round trip. Target ≤ 1.5×. Node 0 transport counters: \(c0).")
    withExtendedLifetime(echo) {}
    await cluster.shutdown()
    return report
}

/// The `stream` group: throughput of 1 MiB and 64 MiB tensors sent as distributed-call
/// arguments vs a C socket writing the same bytes (each message acknowledged by one byte).
func runStream(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(group: Group.stream.rawValue, title: "Tensor stream between two nodes (loopback TCP)", command: options.command(for: .stream))
    report.columns = [
        Column("size", "message"), Column("c_gbs", "C GB/s", .fixed(2)), Column("swift_gbs", "distributed call GB/s", .fixed(2)),
        Column("ratio", "vs C", .ratio),
    ]
    let cluster = try await LoopbackCluster.start()
    let echo = BenchEcho(actorSystem: cluster.b)
    let remote = try BenchEcho.resolve(id: echo.id, using: cluster.a)
    for (mib, messages) in [(1, 32), (64, 2)] {
        progress("stream: \(mib) MiB × \(messages)")
        let bytes = mib << 20
        let tensor = Tensor([Float](repeating: 1.5, count: bytes / 4))
        let samples = try await measureAsync(
            [
                AsyncContestant(name: "c") { _ = try checked(cbench_tcp_stream(Int64(messages), bytes), "stream") },
                AsyncContestant(name: "swift") { for _ in 0..<messages { _ = try await remote.take(tensor) } },
            ], repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
        let volume = Double(bytes * messages) / 1e9
        report.records.append([
            "size": .text("\(mib) MiB"), "c_gbs": .number(volume / samples[0].median), "swift_gbs": .number(volume / samples[1].median),
            "ratio": .number(samples[1].pairedSpeedup(over: samples[0])),
        ])
    }
    report.notes.append(
        "Each distributed call carries one float32 tensor and returns its element count; the C baseline writes the same bytes "
            + "on a blocking socket and waits for a one-byte acknowledgement per message. Target ≥ 0.8×.")
    withExtendedLifetime(echo) {}
    await cluster.shutdown()
    return report
}

/// The `pipelined` group: messages/s with 64 concurrent callers vs a C client that keeps 64
/// 64-byte requests in flight to an echo thread.
func runPipelined(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(group: Group.pipelined.rawValue, title: "Pipelined calls, 64 in flight (loopback TCP)", command: options.command(for: .pipelined))
    report.columns = [
        Column("case", "case"), Column("msgs_per_s", "messages/s (median)", .fixed(0)), Column("ratio", "vs C", .ratio),
    ]
    let cluster = try await LoopbackCluster.start()
    let echo = BenchEcho(actorSystem: cluster.b)
    let remote = try BenchEcho.resolve(id: echo.id, using: cluster.a)
    let payload = [UInt8](repeating: 7, count: 64)
    let callers = 64
    let perCaller = 100
    let total = callers * perCaller
    progress("pipelined: \(callers) callers × \(perCaller) calls")
    let samples = try await measureAsync(
        [
            AsyncContestant(name: "c") { _ = try checked(cbench_tcp_pipelined(Int64(total), 64, Int32(callers)), "pipelined") },
            AsyncContestant(name: "swift") {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<callers {
                        group.addTask { for _ in 0..<perCaller { _ = try await remote.echo(payload) } }
                    }
                    try await group.waitForAll()
                }
            },
        ], repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
    report.records.append(["case": .text("C client, 64 requests in flight, echo thread"), "msgs_per_s": .number(Double(total) / samples[0].median)])
    report.records.append([
        "case": .text("64 tasks calling a remote distributed actor"), "msgs_per_s": .number(Double(total) / samples[1].median),
        "ratio": .number(samples[1].pairedSpeedup(over: samples[0])),
    ])
    report.notes.append("A message is one 64-byte request and its 64-byte reply. Target ≥ 0.5×. Node 0 counters: \(cluster.t0.counters).")
    withExtendedLifetime(echo) {}
    await cluster.shutdown()
    return report
}

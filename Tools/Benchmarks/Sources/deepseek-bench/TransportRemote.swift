import CBenchBaselines
import DeepseekActors
import DeepseekTensor
import DeepseekTransportURing
import Distributed

/// The `remote-call` group: round-trip latency of a distributed call with a 64-byte argument
/// between two nodes vs a raw C io_uring ping-pong of 64 bytes on the same loopback (the
/// baseline of the target), with a blocking-socket C ping-pong as a second reference — with
/// handlers on the concurrent pool (the default), on the receiving ring thread, and with the
/// caller's task on its own ring thread too.
func runRemoteCall(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(group: Group.remoteCall.rawValue, title: "Remote distributed call, 64-byte argument (loopback TCP)", command: options.command(for: .remoteCall))
    report.columns = [
        Column("case", "round trip"), Column("median_us", "median µs", .fixed(1)), Column("p99_us", "p99 µs", .fixed(1)),
        Column("calls_per_s", "calls/s", .fixed(0)), Column("ratio", "median ÷ C io_uring", .ratio),
        Column("ratio_p99", "p99 ÷ C io_uring", .ratio), Column("ratio_blocking", "median ÷ C blocking", .ratio),
        Column("ratio_blocking_p99", "p99 ÷ C blocking", .ratio),
        Column("switches", "context switches per call", .fixed(1)), Column("cpu_us", "CPU µs per call", .fixed(1)),
    ]
    let modes: [(IncomingCallExecution, String)] = [
        (.pool, "distributed call over URingTransport, handlers on the pool (default)"),
        (.transportThread, "distributed call over URingTransport, handlers on the ring thread"),
        (.transportThread, "the same, caller's task also on its node's ring thread"),
    ]
    var clusters: [(LoopbackCluster, BenchEcho, BenchEcho)] = []
    for (mode, _) in modes {
        let cluster = try await LoopbackCluster.start(incomingCalls: mode)
        let echo = BenchEcho(actorSystem: cluster.b)
        clusters.append((cluster, echo, try BenchEcho.resolve(id: echo.id, using: cluster.a)))
    }
    let payload = [UInt8](repeating: 42, count: 64)
    let calls = 2000
    for (_, _, remote) in clusters { for _ in 0..<200 { _ = try await remote.echo(payload) } }  // connect and warm up
    // The two C baselines: 0 = io_uring ping-pong, 1 = blocking sockets.
    let baselines: [(String, (Int64, Int, UnsafeMutablePointer<Double>?) -> Double)] = [
        ("C io_uring TCP ping-pong, 2 threads, one ring each", { cbench_uring_pingpong($0, $1, $2) }),
        ("C blocking TCP ping-pong, 2 threads", { cbench_tcp_pingpong($0, $1, $2) }),
    ]
    var cLatencies = [[Double]](repeating: [], count: baselines.count)
    var cMedians = [[Double]](repeating: [], count: baselines.count)
    var cSwitches = [Int](repeating: 0, count: baselines.count)
    var cCPU = [Double](repeating: 0, count: baselines.count)
    var swiftLatencies = [[Double]](repeating: [], count: modes.count)
    var ratios = [[[Double]]](repeating: [[], []], count: modes.count)
    var swiftMedians = [[Double]](repeating: [], count: modes.count)
    var swiftSwitches = [Int](repeating: 0, count: modes.count)
    var swiftCPU = [Double](repeating: 0, count: modes.count)
    var buffer = [Double](repeating: 0, count: calls)
    for rep in 0..<options.repetitions {
        progress("remote-call: repetition \(rep + 1)/\(options.repetitions)")
        for (b, (name, body)) in baselines.enumerated() {
            let before = contextSwitches()
            let cpuBefore = processCPUSeconds()
            _ = try checked(buffer.withUnsafeMutableBufferPointer { body(Int64(calls), 64, $0.baseAddress) }, name)
            cSwitches[b] += contextSwitches() - before
            cCPU[b] += processCPUSeconds() - cpuBefore
            cLatencies[b] += buffer
            cMedians[b].append(Samples(seconds: buffer).median)
        }
        for (m, (cluster, _, remote)) in clusters.enumerated() {
            let start = contextSwitches()
            let cpuStart = processCPUSeconds()
            // The third case runs the calling loop with node 0's ring executor as its preference,
            // the way an event-loop-style caller would: the reply resumes it without a hand-off.
            let mine = try await withTaskExecutorPreference(m == 2 ? cluster.t0.callExecutor : nil) {
                var mine = [Double](repeating: 0, count: calls)
                for i in 0..<calls {
                    let t0 = monotonicSeconds()
                    _ = try await remote.echo(payload)
                    mine[i] = monotonicSeconds() - t0
                }
                return mine
            }
            swiftLatencies[m] += mine
            swiftSwitches[m] += contextSwitches() - start
            swiftCPU[m] += processCPUSeconds() - cpuStart
            let median = Samples(seconds: mine).median
            swiftMedians[m].append(median)
            for b in baselines.indices { ratios[m][b].append(median / cMedians[b][rep]) }
        }
    }
    let perCall = Double(calls * options.repetitions)
    let cP99 = cLatencies.map { percentile($0, 0.99) }
    for (b, (name, _)) in baselines.enumerated() {
        let median = Samples(seconds: cLatencies[b]).median
        var record: [String: Value] = [
            "case": .text(name), "median_us": .number(median * 1e6), "p99_us": .number(cP99[b] * 1e6),
            "calls_per_s": .number(1 / median), "switches": .number(Double(cSwitches[b]) / perCall),
            "cpu_us": .number(cCPU[b] / perCall * 1e6), "repetition_medians_us": .numbers(cMedians[b].map { $0 * 1e6 }),
        ]
        if b == 1 {
            // The blocking baseline against the io_uring one.
            record["ratio"] = .number(Samples(seconds: zip(cMedians[1], cMedians[0]).map { $0 / $1 }).median)
            record["ratio_p99"] = .number(cP99[1] / cP99[0])
        }
        report.records.append(record)
    }
    for (m, (_, name)) in modes.enumerated() {
        let sMedian = Samples(seconds: swiftLatencies[m]).median
        let sP99 = percentile(swiftLatencies[m], 0.99)
        report.records.append([
            "case": .text(name), "median_us": .number(sMedian * 1e6), "p99_us": .number(sP99 * 1e6),
            "calls_per_s": .number(1 / sMedian), "ratio": .number(Samples(seconds: ratios[m][0]).median),
            "ratio_p99": .number(sP99 / cP99[0]), "ratio_blocking": .number(Samples(seconds: ratios[m][1]).median),
            "ratio_blocking_p99": .number(sP99 / cP99[1]),
            "switches": .number(Double(swiftSwitches[m]) / perCall), "cpu_us": .number(swiftCPU[m] / perCall * 1e6),
            "repetition_medians_us": .numbers(swiftMedians[m].map { $0 * 1e6 }),
        ])
    }
    let c0 = clusters[0].0.t0.counters
    let perRep = cMedians[0].map { "\(($0 * 1e7).rounded() / 10)" }.joined(separator: ", ")
    report.notes.append(
        "\(calls) sequential calls per repetition and case; latencies pooled over all repetitions. Median ÷ C: median of per-repetition ratios "
            + "(the C baselines run just before the distributed calls in each repetition); p99 ÷ C: pooled p99 over pooled p99. "
            + "The C io_uring baseline submits the request's SEND and the reply's RECV in one io_uring_enter on the client; the echo "
            + "thread submits its reply's SEND with the next request's RECV; each side has its own ring (single issuer, deferred task work). "
            + "Its median per repetition (µs): \(perRep). "
            + "Context switches and CPU time: getrusage and the process CPU clock of the whole process (both nodes or both threads), per round trip. "
            + "Target ≤ 1.5× the C io_uring ping-pong. "
            + "Node 0 transport counters (pool case): direct writes \(c0.directWrites) of \(c0.framesSent) frames sent, "
            + "\(c0.submittedEntries) operations in \(c0.submitCalls) io_uring_enter calls.")
    for (cluster, echo, _) in clusters {
        withExtendedLifetime(echo) {}
        await cluster.shutdown()
    }
    return report
}

/// The `stream` group: throughput of 1 MiB and 64 MiB tensors sent as distributed-call
/// arguments vs a C socket writing the same bytes (each message acknowledged by one byte).
func runStream(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(group: Group.stream.rawValue, title: "Tensor stream between two nodes (loopback TCP)", command: options.command(for: .stream))
    report.columns = [
        Column("size", "message"), Column("c_gbs", "C GB/s", .fixed(2)), Column("swift_gbs", "distributed call GB/s", .fixed(2)),
        Column("ratio", "vs C", .ratio), Column("ring_gbs", "handlers on ring GB/s", .fixed(2)),
        Column("ring_ratio", "ring vs C", .ratio), Column("zc_gbs", "SEND_ZC forced GB/s", .fixed(2)),
        Column("zc_ratio", "SEND_ZC vs C", .ratio),
    ]
    // To a loopback peer the transport sends plain (the kernel copies loopback data on delivery,
    // so zero-copy gains nothing); the second cluster forces IORING_OP_SEND_ZC for comparison.
    let cluster = try await LoopbackCluster.start()
    let ring = try await LoopbackCluster.start(incomingCalls: .transportThread)
    let plain = try await LoopbackCluster.start { $0.zeroCopyOnLoopback = true }
    let echoes = [BenchEcho(actorSystem: cluster.b), BenchEcho(actorSystem: plain.b), BenchEcho(actorSystem: ring.b)]
    let remote = try BenchEcho.resolve(id: echoes[0].id, using: cluster.a)
    let remotePlain = try BenchEcho.resolve(id: echoes[1].id, using: plain.a)
    let remoteRing = try BenchEcho.resolve(id: echoes[2].id, using: ring.a)
    for (mib, messages) in [(1, 32), (64, 2)] {
        progress("stream: \(mib) MiB × \(messages)")
        let bytes = mib << 20
        let tensor = Tensor([Float](repeating: 1.5, count: bytes / 4))
        let samples = try await measureAsync(
            [
                AsyncContestant(name: "c") { _ = try checked(cbench_tcp_stream(Int64(messages), bytes), "stream") },
                AsyncContestant(name: "swift") { for _ in 0..<messages { _ = try await remote.take(tensor) } },
                AsyncContestant(name: "zero-copy") { for _ in 0..<messages { _ = try await remotePlain.take(tensor) } },
                AsyncContestant(name: "ring") { for _ in 0..<messages { _ = try await remoteRing.take(tensor) } },
            ], repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
        let volume = Double(bytes * messages) / 1e9
        report.records.append([
            "size": .text("\(mib) MiB"), "c_gbs": .number(volume / samples[0].median), "swift_gbs": .number(volume / samples[1].median),
            "ratio": .number(samples[1].pairedSpeedup(over: samples[0])), "zc_gbs": .number(volume / samples[2].median),
            "zc_ratio": .number(samples[2].pairedSpeedup(over: samples[0])), "ring_gbs": .number(volume / samples[3].median),
            "ring_ratio": .number(samples[3].pairedSpeedup(over: samples[0])),
        ])
    }
    let c0 = cluster.t0.counters
    let c1 = cluster.t1.counters
    report.notes.append(
        "Each distributed call carries one float32 tensor and returns its element count; the C baseline writes the same bytes "
            + "on a blocking socket and waits for a one-byte acknowledgement per message (both sides reuse one pre-touched buffer and "
            + "receive with MSG_WAITALL). Target ≥ 0.8×. The tensor's bytes travel "
            + "out of band: sent from the tensor's storage (node 0: \(c0.zeroCopySends) zero-copy and \(c0.plainSends) plain sends), "
            + "received with MSG_WAITALL straight into pooled page-aligned buffers that become the received tensor's storage "
            + "(node 1: \(c1.segmentReads) segment reads).")
    withExtendedLifetime(echoes) {}
    await cluster.shutdown()
    await ring.shutdown()
    await plain.shutdown()
    return report
}

/// The `pipelined` group: messages/s with 64 concurrent callers vs a C client that keeps 64
/// 64-byte requests in flight to an echo thread.
func runPipelined(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(group: Group.pipelined.rawValue, title: "Pipelined calls, 64 in flight (loopback TCP)", command: options.command(for: .pipelined))
    report.columns = [
        Column("case", "case"), Column("msgs_per_s", "messages/s (median)", .fixed(0)), Column("ratio", "vs C", .ratio),
    ]
    let pool = try await LoopbackCluster.start(incomingCalls: .pool)
    let ring = try await LoopbackCluster.start(incomingCalls: .transportThread)
    let ringExecutor = ring.t0.callExecutor
    let echoes = [BenchEcho(actorSystem: pool.b), BenchEcho(actorSystem: ring.b)]
    let remotes = [try BenchEcho.resolve(id: echoes[0].id, using: pool.a), try BenchEcho.resolve(id: echoes[1].id, using: ring.a)]
    let payload = [UInt8](repeating: 7, count: 64)
    let callers = 64
    let perCaller = 100
    let total = callers * perCaller
    progress("pipelined: \(callers) callers × \(perCaller) calls")
    func pipelined(_ remote: BenchEcho, callersOn executor: (any TaskExecutor)? = nil) -> AsyncContestant {
        AsyncContestant(name: "swift") {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<callers {
                    group.addTask(executorPreference: executor) { for _ in 0..<perCaller { _ = try await remote.echo(payload) } }
                }
                try await group.waitForAll()
            }
        }
    }
    let samples = try await measureAsync(
        [
            AsyncContestant(name: "c") { _ = try checked(cbench_tcp_pipelined(Int64(total), 64, Int32(callers)), "pipelined") },
            pipelined(remotes[0]), pipelined(remotes[1]), pipelined(remotes[1], callersOn: ringExecutor),
        ], repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
    report.records.append(["case": .text("C client, 64 requests in flight, echo thread"), "msgs_per_s": .number(Double(total) / samples[0].median)])
    let names = [
        "64 tasks calling a remote distributed actor, handlers on the pool (default)", "the same, handlers on the ring thread",
        "the same, callers' tasks also on their node's ring thread",
    ]
    for (i, name) in names.enumerated() {
        report.records.append([
            "case": .text(name), "msgs_per_s": .number(Double(total) / samples[i + 1].median),
            "ratio": .number(samples[i + 1].pairedSpeedup(over: samples[0])),
        ])
    }
    let c0 = pool.t0.counters
    report.notes.append(
        "A message is one 64-byte request and its 64-byte reply. Target ≥ 0.5×. Node 0 counters (pool case): "
            + "\(c0.framesSent) frames sent (\(c0.directWrites) written directly by callers), \(c0.submittedEntries) operations "
            + "in \(c0.submitCalls) io_uring_enter calls, at most \(c0.maximumQueuedFrames) frames queued.")
    withExtendedLifetime(echoes) {}
    await pool.shutdown()
    await ring.shutdown()
    return report
}

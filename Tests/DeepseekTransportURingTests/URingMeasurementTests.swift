import DeepseekActors
import DeepseekCore
import DeepseekTestSupport
import DeepseekTransportURing
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Counts what arrives without keeping it.
final class CountingReceiver: TransportReceiver {
    let messages = Atomic<Int>(0)
    let bytes = Atomic<Int>(0)
    func receive(_ message: TransportMessage, from node: NodeID) {
        if case .call(let call) = message { bytes.add(call.arguments.first?.bytes.count ?? 0, ordering: .relaxed) }
        messages.add(1, ordering: .relaxed)
    }
    func peerConnected(_ node: NodeID) {}
    func peerDisconnected(_ node: NodeID, reason: String) {}
}

/// Small latency and throughput measurements, printed so runs can be compared. The assertions
/// only check that the work completed; figures depend on the machine and its load.
@Suite(.serialized, .enabled(if: uringAvailable, "io_uring is not available in this process"))
struct URingMeasurementTests {
    static func percentile(_ sorted: [Duration], _ p: Double) -> Double {
        let d = sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]
        return Double(d.components.seconds) * 1e6 + Double(d.components.attoseconds) / 1e12
    }

    @Test func reportsCallLatencyAndThroughputOverLoopbackTCP() async throws {
        let systems = try await URingSystems(.tcp)
        let tally = Tally(actorSystem: systems.b)
        let remote = try Tally.resolve(id: tally.id, using: systems.a)
        let payload = [UInt8](repeating: 1, count: 64)
        let clock = ContinuousClock()
        for _ in 0..<200 { _ = try await remote.echo(payload) }
        var samples: [Duration] = []
        for _ in 0..<2000 {
            let start = clock.now
            _ = try await remote.echo(payload)
            samples.append(clock.now - start)
        }
        samples.sort()
        let concurrency = 32
        let perTask = 200
        let start = clock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask { for _ in 0..<perTask { _ = try await remote.echo(payload) } }
            }
            try await group.waitForAll()
        }
        let elapsed = clock.now - start
        let callsPerSecond = Double(concurrency * perTask) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        let c = systems.t0.counters
        print(
            "io_uring 64 B call round trip: median \(Self.percentile(samples, 0.5)) µs, p99 \(Self.percentile(samples, 0.99)) µs; "
                + "\(concurrency) callers in flight: \(Int(callsPerSecond)) calls/s; "
                + "ops per io_uring_enter on node0: \(Double(c.submittedEntries) / Double(max(1, c.submitCalls)))")
        withExtendedLifetime(tally) {}
        await systems.shutdown()
    }

    @Test func reportsOneMebibyteMessageThroughput() async throws {
        let (t0, t1) = try URingFixture.pair(.tcp)
        let counter = CountingReceiver()
        try await t0.start(receiver: RecordingReceiver())
        try await t1.start(receiver: counter)
        let blob = [UInt8](repeating: 3, count: 1 << 20)
        let recipient = ActorAddress(node: NodeID(1), path: "sink", incarnation: 1)
        func message(_ i: Int) -> TransportMessage {
            .call(CallEnvelope(callID: UInt64(i), origin: NodeID(0), recipient: recipient, target: "t", arguments: [.encoded(blob)]))
        }
        for i in 0..<8 { try await t0.send(message(i), to: NodeID(1)) }
        try await eventually("warm-up") { counter.messages.load(ordering: .relaxed) == 8 }
        let count = 128
        let clock = ContinuousClock()
        let start = clock.now
        for i in 0..<count { try await t0.send(message(i), to: NodeID(1)) }
        try await eventually("\(count) MiB", within: .seconds(60)) { counter.messages.load(ordering: .relaxed) == 8 + count }
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let c = t0.counters
        print(
            "io_uring 1 MiB messages: \(Int(Double(count) / seconds)) MiB/s (\(count) messages in \(Int(seconds * 1000)) ms); "
                + "zero-copy sends \(c.zeroCopySends), plain sends \(c.plainSends); receiver fixed-buffer reads \(t1.counters.fixedBufferReads)")
        #expect(counter.bytes.load(ordering: .relaxed) == (8 + count) << 20)
        await t0.shutdown()
        await t1.shutdown()
    }

    /// The same 64-byte ping-pong with blocking sockets and no runtime, as the baseline.
    @Test func reportsARawSocketPingPongBaseline() async throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { p in
                _ = bind(listener, p, length)
                _ = getsockname(listener, p, &length)
            }
        }
        listen(listener, 1)
        let rounds = 2200
        var server = pthread_t()
        let box = Unmanaged.passRetained(Box((listener, rounds))).toOpaque()
        pthread_create(&server, nil, { raw in
            let (listener, rounds) = Unmanaged<Box<(Int32, Int)>>.fromOpaque(raw!).takeRetainedValue().value
            let fd = accept(listener, nil, nil)
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            var buffer = [UInt8](repeating: 0, count: 64)
            for _ in 0..<rounds {
                guard buffer.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, 64, Int32(MSG_WAITALL)) }) == 64 else { break }
                _ = buffer.withUnsafeBytes { send(fd, $0.baseAddress, 64, 0) }
            }
            close(fd)
            return nil
        }, box)
        let raw = try RawSocket(port: UInt16(bigEndian: address.sin_port))
        var one: Int32 = 1
        setsockopt(raw.fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var buffer = [UInt8](repeating: 1, count: 64)
        var samples: [Duration] = []
        let clock = ContinuousClock()
        for i in 0..<rounds {
            let start = clock.now
            _ = buffer.withUnsafeBytes { send(raw.fd, $0.baseAddress, 64, 0) }
            let n = buffer.withUnsafeMutableBytes { recv(raw.fd, $0.baseAddress, 64, Int32(MSG_WAITALL)) }
            try #require(n == 64)
            if i >= 200 { samples.append(clock.now - start) }
        }
        pthread_join(server, nil)
        close(listener)
        samples.sort()
        print(
            "raw blocking-socket 64 B ping-pong (baseline): median \(Self.percentile(samples, 0.5)) µs, "
                + "p99 \(Self.percentile(samples, 0.99)) µs")
    }
}

final class Box<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

import DeepseekActors
import DeepseekCore
import DeepseekTestSupport
import DeepseekTransportURing
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite(.enabled(if: uringAvailable, "io_uring is not available in this process"))
struct URingFailureTests {
    /// A listening transport plus a proper peer, with node 0's log captured.
    struct Guarded {
        let log = LogCapture()
        let t0: URingTransport
        let t1: URingTransport
        let r0 = RecordingReceiver()

        init(maximumFrameSize: Int = 1 << 20) async throws {
            let log = self.log
            (t0, t1) = try URingFixture.pair(.tcp) { s in
                s.maximumFrameSize = maximumFrameSize
                if s.localNode == NodeID(0) { s.log = log.sink }
            }
            try await t0.start(receiver: r0)
            try await t1.start(receiver: RecordingReceiver())
        }

        /// Node 0 still serves a well-behaved peer.
        func stillServes() async throws {
            try await t1.send(marker(42), to: NodeID(0))
            try await eventually("the proper peer's message") { r0.snapshot.messages.contains { markerIndex($0.0) == 42 } }
        }

        func shutdown() async {
            await t0.shutdown()
            await t1.shutdown()
        }
    }

    @Test func garbageBytesCloseTheConnectionAndTheNodeKeepsServing() async throws {
        let g = try await Guarded()
        let raw = try RawSocket(port: URingFixture.port(of: g.t0))
        raw.write(Array("GET / HTTP/1.1\r\nHost: deepseek\r\n\r\n".utf8))
        #expect(try await raw.closedByPeer(), "the garbage connection is closed")
        try await eventually("a logged reason") { g.log.contains("corrupt stream") }
        try await g.stillServes()
        #expect(g.t0.counters.framingErrors >= 1)
        await g.shutdown()
    }

    @Test func anOversizedFrameHeaderClosesTheConnection() async throws {
        let g = try await Guarded(maximumFrameSize: 1 << 20)
        let raw = try RawSocket(port: URingFixture.port(of: g.t0))
        raw.write([0xF0, 0xFF, 0xFF, 0x7F, FrameKind.handshake.rawValue])
        #expect(try await raw.closedByPeer())
        try await eventually("the oversized reason") { g.log.contains("oversized") }
        try await g.stillServes()
        await g.shutdown()
    }

    @Test func aMessageFrameBeforeTheHandshakeClosesTheConnection() async throws {
        let g = try await Guarded()
        let raw = try RawSocket(port: URingFixture.port(of: g.t0))
        raw.write(Frame(kind: .message, body: marker(1).wireBytes).encoded)
        #expect(try await raw.closedByPeer())
        try await eventually("the early-message reason") { g.log.contains("before the handshake finished") }
        #expect(g.r0.snapshot.messages.isEmpty)
        try await g.stillServes()
        await g.shutdown()
    }

    @Test func anUnauthenticatedPeerCannotMakeTheNodeBufferALargeFrame() async throws {
        let g = try await Guarded(maximumFrameSize: 64 << 20)
        let raw = try RawSocket(port: URingFixture.port(of: g.t0))
        raw.write([0, 0, 0, 1, FrameKind.handshake.rawValue] + [UInt8](repeating: 0, count: 64 << 10))
        #expect(try await raw.closedByPeer())
        try await eventually("the handshake-size reason") { g.log.contains("before the handshake finished (limit") }
        try await g.stillServes()
        await g.shutdown()
    }

    @Test func aTruncatedFrameIsReported() async throws {
        let g = try await Guarded()
        let raw = try RawSocket(port: URingFixture.port(of: g.t0))
        raw.write([100, 0, 0, 0, FrameKind.handshake.rawValue, 1, 2, 3])
        raw.finishWriting()
        #expect(try await raw.closedByPeer())
        try await eventually("the truncation reason") { g.log.contains("truncated frame") }
        try await g.stillServes()
        await g.shutdown()
    }

    @Test func aWrongSecretIsRefused() async throws {
        let log0 = LogCapture()
        let log1 = LogCapture()
        let (t0, t1) = try URingFixture.pair(.tcp) { s in
            s.reconnectAttempts = 1
            if s.localNode == NodeID(0) {
                s.log = log0.sink
            } else {
                s.log = log1.sink
                s.clusterSecret = Array("another secret".utf8)
            }
        }
        let r0 = RecordingReceiver()
        let r1 = RecordingReceiver()
        try await t0.start(receiver: r0)
        try await t1.start(receiver: r1)
        try await t0.send(marker(1), to: NodeID(1))
        try await eventually("node 0 to give up") { r0.snapshot.disconnected.contains { $0.0 == NodeID(1) } }
        #expect(log0.contains("wrong cluster secret"))
        try await eventually("node 1 to log the rejection") { log1.contains("rejected the handshake") }
        #expect(r0.snapshot.connected.isEmpty)
        #expect(r1.snapshot.connected.isEmpty)
        #expect(r1.snapshot.messages.isEmpty)
        #expect(t0.connectedPeers.isEmpty && t1.connectedPeers.isEmpty)
        try await eventually("the failure to be counted") { t0.counters.handshakeFailures >= 1 }
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func aHelloWithAnotherProtocolVersionIsRefused() async throws {
        let g = try await Guarded()
        let raw = try RawSocket(port: URingFixture.port(of: g.t0))
        let hello = HandshakeMessage.hello(version: 99, node: NodeID(5), nonce: [UInt8](repeating: 9, count: 32))
        raw.write(Frame(kind: .handshake, body: hello.wireBytes).encoded)
        #expect(try await raw.closedByPeer())
        try await eventually("the version reason") { g.log.contains("protocol version 99") }
        #expect(!g.t0.connectedPeers.contains(NodeID(5)))
        try await g.stillServes()
        await g.shutdown()
    }

    @Test func connectAllDialsEveryPeerBeforeAnyMessage() async throws {
        let (t0, t1) = try URingFixture.pair(.unix)
        let r0 = RecordingReceiver()
        let r1 = RecordingReceiver()
        try await t0.start(receiver: r0)
        try await t1.start(receiver: r1)
        t0.connectAll()
        try await eventually("both sides to see the connection") {
            t0.connectedPeers == [NodeID(1)] && r1.snapshot.connected == [NodeID(0)]
        }
        #expect(t0.counters.connectAttempts == 1)
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func sendingToANodeWithoutAnAddressFailsAtOnce() async throws {
        let (t0, t1) = try URingFixture.pair(.unix)
        try await t0.start(receiver: RecordingReceiver())
        await #expect(throws: ActorSystemError.self) { try await t0.send(marker(1), to: NodeID(9)) }
        await t0.shutdown()
        await t1.shutdown()
        await #expect(throws: ActorSystemError.self) { try await t0.send(marker(2), to: NodeID(1)) }
    }

    @Test(arguments: [Endpoint.tcp, .unix])
    func reconnectsAfterThePeerRestarts(_ endpoint: Endpoint) async throws {
        let (t0, t1) = try URingFixture.pair(endpoint) { $0.reconnectAttempts = 60 }
        let r0 = RecordingReceiver()
        let r1 = RecordingReceiver()
        try await t0.start(receiver: r0)
        try await t1.start(receiver: r1)
        try await t0.send(marker(1), to: NodeID(1))
        try await eventually("the first message") { r1.snapshot.messages.count == 1 }
        let address = try #require(t1.boundAddress)
        await t1.shutdown()

        var s = URingFixture.settings(1, endpoint)
        s.listenAddress = address
        s.peers = [NodeID(0): try #require(t0.boundAddress)]
        let restarted = try URingTransport(settings: s)
        let again = RecordingReceiver()
        try await restarted.start(receiver: again)
        try await t0.send(marker(2), to: NodeID(1))
        try await eventually("the message after the restart") { again.snapshot.messages.contains { markerIndex($0.0) == 2 } }
        #expect(t0.counters.reconnectsScheduled >= 1)
        await t0.shutdown()
        await restarted.shutdown()
    }
}

/// Records messages, but holds the ring thread inside `receive` while the gate is closed, so
/// the node stops reading and its peer's writes back up.
final class GatedReceiver: TransportReceiver {
    let gateOpen = Atomic<Bool>(false)
    let inner = RecordingReceiver()
    func receive(_ message: TransportMessage, from node: NodeID) {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while !gateOpen.load(ordering: .acquiring) && clock.now < deadline { usleep(1000) }
        inner.receive(message, from: node)
    }
    func peerConnected(_ node: NodeID) { inner.peerConnected(node) }
    func peerDisconnected(_ node: NodeID, reason: String) { inner.peerDisconnected(node, reason: reason) }
}

@Suite(.enabled(if: uringAvailable, "io_uring is not available in this process"))
struct URingBackPressureTests {
    @Test func aSlowReceiverMakesSendersWaitInsteadOfQueueingWithoutBound() async throws {
        let capacity = 8
        let total = 800
        let (t0, t1) = try URingFixture.pair(.tcp) { s in
            s.sendQueueCapacity = capacity
            s.shutdownGracePeriod = .milliseconds(100)
        }
        let gated = GatedReceiver()
        try await t0.start(receiver: RecordingReceiver())
        try await t1.start(receiver: gated)
        let sent = Atomic<Int>(0)
        let sender = Task {
            for i in 0..<total {
                try await t0.send(marker(i, padding: 64 << 10), to: NodeID(1))
                sent.add(1, ordering: .relaxed)
            }
        }
        // Wait until the sender stalls: no progress for 300 ms.
        var last = -1
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(15)
        while clock.now < deadline {
            let now = sent.load(ordering: .relaxed)
            if now == last { break }
            last = now
            try await Task.sleep(for: .milliseconds(300))
        }
        let stalledAt = sent.load(ordering: .relaxed)
        #expect(stalledAt < total, "the sender must be held back while the receiver is stuck")
        #expect(t0.queuedMessageCount(for: NodeID(1)) <= capacity)
        #expect(t0.counters.maximumQueuedFrames <= capacity)
        gated.gateOpen.store(true, ordering: .releasing)
        try await eventually("every message", within: .seconds(30)) { gated.inner.snapshot.messages.count == total }
        try await sender.value
        let order = gated.inner.snapshot.messages.compactMap { markerIndex($0.0) }
        #expect(order == Array(0..<total))
        print("back-pressure: sender stalled after \(stalledAt) of \(total) 64 KiB messages with a queue of \(capacity)")
        await t0.shutdown()
        await t1.shutdown()
    }
}

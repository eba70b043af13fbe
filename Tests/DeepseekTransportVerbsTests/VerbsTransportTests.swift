import DeepseekActors
import DeepseekCore
import DeepseekTestSupport
import DeepseekTransportVerbs
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct VerbsTransportContractTests {
    @Test(arguments: [VerbsLinkLayer.infiniband, .ethernet])
    func passesTheTransportContractOverTheFakeFabric(_ layer: VerbsLinkLayer) async throws {
        let fabric = FakeVerbsFabric()
        let harness = TransportHarness(name: "verbs over a fake \(layer) fabric") {
            var h0 = FakeVerbsFabric.Host(index: 0)
            var h1 = FakeVerbsFabric.Host(index: 1)
            h0.linkLayer = layer
            h1.linkLayer = layer
            return try VerbsFixture.pair(fabric: fabric, hosts: (h0, h1))
        }
        try await TransportContract.checkAll(harness)
        try await eventually("every link torn down") { fabric.liveResources.queuePairs == 0 }
        let live = fabric.liveResources
        #expect(live.regions == 0 && live.completionQueues == 0 && live.domains == 0 && live.devices == 0, "\(live)")
        #expect(fabric.receiverNotReadyNAKs == 0 && fabric.sequenceErrors == 0)
    }
}

@Suite struct VerbsTransportTests {
    /// Starts both transports with recording receivers.
    func started(_ pair: (VerbsTransport, VerbsTransport)) async throws -> (RecordingReceiver, RecordingReceiver) {
        let r0 = RecordingReceiver()
        let r1 = RecordingReceiver()
        try await pair.0.start(receiver: r0)
        try await pair.1.start(receiver: r1)
        return (r0, r1)
    }

    static func call(_ bytes: Int, seed: UInt64 = 1) -> (TransportMessage, [UInt8]) {
        var rng = SeededRandom(seed: seed)
        let blob = (0..<bytes).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let message = TransportMessage.call(
            CallEnvelope(
                callID: seed, origin: NodeID(0), recipient: ActorAddress(node: NodeID(1), path: "t", incarnation: 1), target: "t",
                arguments: [.encoded(blob)]))
        return (message, blob)
    }

    @Test func smallMessagesArePackedAndLargeOnesWrittenIntoLandingSlots() async throws {
        let (t0, t1) = try VerbsFixture.pair()
        let (_, r1) = try await started((t0, t1))
        let address = ActorAddress(node: NodeID(1), path: "p", incarnation: 1)
        try await t0.send(.system(.registered(key: "first", actor: address)), to: NodeID(1))
        try await eventually("link") { r1.snapshot.messages.count == 1 }
        for i in 0..<300 { try await t0.send(.system(.registered(key: "k\(i)", actor: address)), to: NodeID(1)) }
        // 200 KiB: four 64 KiB landing slices through two landing slots, so credits must come back.
        let (large, blob) = Self.call(200 << 10)
        try await t0.send(large, to: NodeID(1))
        try await eventually("all messages") { r1.snapshot.messages.count == 302 }
        guard case .call(let got)? = r1.snapshot.messages.last?.0 else {
            Issue.record("the large call did not arrive last")
            return
        }
        #expect(got.arguments.first?.bytes == blob)
        let counters = t0.counters
        #expect(counters.messagesSent == 302)
        #expect(counters.sendRequests < 302, "small messages share SENDs (\(counters.sendRequests) SENDs)")
        #expect(counters.landingWrites == 4, "\(counters)")
        #expect(t1.counters.creditWrites > 0, "the receiver returned credits")
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func aSlowReceiverIsNeverOverrun() async throws {
        let fabric = FakeVerbsFabric()
        // Four receive buffers of 256 bytes and no RNR retries: one send too many fails the link.
        let settings = VerbsFixture.settings {
            $0.receiveDepth = 4
            $0.receiveBufferSize = 256
            $0.rnrRetry = 0
        }
        let (t0, t1) = try VerbsFixture.pair(fabric: fabric, settings: settings)
        let slow = SlowReceiver()
        try await t0.start(receiver: RecordingReceiver())
        try await t1.start(receiver: slow)
        let address = ActorAddress(node: NodeID(1), path: "a-path-long-enough-to-fill-buffers", incarnation: 1)
        for i in 0..<400 { try await t0.send(.system(.registered(key: "key-\(i)", actor: address)), to: NodeID(1)) }
        try await eventually("400 messages", seconds: 30) { slow.keys.count == 400 }
        #expect(slow.keys == (0..<400).map { "key-\($0)" })
        #expect(fabric.receiverNotReadyNAKs == 0, "a SEND found no receive posted")
        #expect(t0.counters.linkFailures == 0 && t1.counters.linkFailures == 0)
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func aWrongPacketSequenceNumberBreaksTheLinkOnBothSides() async throws {
        let fabric = FakeVerbsFabric()
        // Node 1's queue pair will expect the wrong first PSN from node 0.
        fabric.skewNextReceivePSN(onHost: 1)
        let (t0, t1) = try VerbsFixture.pair(fabric: fabric, settings: VerbsFixture.settings { $0.connectEagerly = false })
        let (r0, r1) = try await started((t0, t1))
        try await t0.send(.system(.leaving), to: NodeID(1))
        try await eventually("node 0 sees the link fail") { r0.snapshot.disconnected.contains { $0.0 == NodeID(1) } }
        try await eventually("node 1 is told") { r1.snapshot.disconnected.contains { $0.0 == NodeID(0) } }
        #expect(r0.snapshot.disconnected.first?.1.contains("retry counter exceeded") == true, "\(r0.snapshot.disconnected)")
        #expect(r1.snapshot.messages.isEmpty, "nothing is delivered with a mismatched PSN")
        #expect(fabric.sequenceErrors >= 1)
        #expect(t0.counters.linkFailures == 1)
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func aCrashedPeerIsNoticedAndANewLinkIsMadeAfterwards() async throws {
        let fabric = FakeVerbsFabric()
        let (t0, t1) = try VerbsFixture.pair(fabric: fabric)
        let (r0, r1) = try await started((t0, t1))
        try await t0.send(.system(.ping(1)), to: NodeID(1))
        try await eventually("first message") { r1.snapshot.messages.count == 1 }
        // Node 1's queue pairs vanish (its NIC state is lost); its process lives on.
        fabric.crash(host: 1)
        try await t0.send(.system(.ping(2)), to: NodeID(1))
        try await eventually("node 0 notices") { r0.snapshot.disconnected.contains { $0.0 == NodeID(1) } }
        #expect(r0.snapshot.disconnected.first?.1.contains("retry counter exceeded") == true)
        try await eventually("node 1 is told") { r1.snapshot.disconnected.contains { $0.0 == NodeID(0) } }
        // The next send connects again.
        try await t0.send(.system(.ping(3)), to: NodeID(1))
        try await eventually("the message on the new link") { r1.snapshot.messages.count == 2 }
        guard case .system(.ping(let n))? = r1.snapshot.messages.last?.0 else {
            Issue.record("expected ping 3")
            return
        }
        #expect(n == 3)
        // The counter is bumped on node 0's progress thread, which may trail the delivery.
        try await eventually("node 0 counts the new link") { t0.counters.linksEstablished == 2 }
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func sendsAfterShutdownFail() async throws {
        let (t0, t1) = try VerbsFixture.pair()
        _ = try await started((t0, t1))
        await t0.shutdown()
        await #expect(throws: ActorSystemError.self) { try await t0.send(.system(.leaving), to: NodeID(1)) }
        await t1.shutdown()
    }

    @Test func otherBootstrapTrafficReachesTheReceiver() async throws {
        let network = InProcessNetwork()
        let fabric = FakeVerbsFabric()
        let plain = network.transport(for: NodeID(0))
        let verbs = try VerbsTransport(
            localNode: NodeID(1), bootstrap: network.transport(for: NodeID(1)), settings: VerbsFixture.settings(),
            api: fabric.api(FakeVerbsFabric.Host(index: 1)))
        let r = RecordingReceiver()
        try await plain.start(receiver: RecordingReceiver())
        try await verbs.start(receiver: r)
        try await plain.send(.system(.ping(9)), to: NodeID(1))
        try await eventually("the passed-through message") { r.snapshot.messages.count == 1 }
        await verbs.shutdown()
        await plain.shutdown()
    }

    @Test func bothSidesConnectingAtOnceShareOneLink() async throws {
        let fabric = FakeVerbsFabric()
        let (t0, t1) = try VerbsFixture.pair(fabric: fabric, settings: VerbsFixture.settings { $0.connectEagerly = false })
        let (r0, r1) = try await started((t0, t1))
        async let a: Void = t0.send(.system(.ping(1)), to: NodeID(1))
        async let b: Void = t1.send(.system(.ping(2)), to: NodeID(0))
        _ = try await (a, b)
        try await eventually("both messages") { r0.snapshot.messages.count == 1 && r1.snapshot.messages.count == 1 }
        #expect(r0.snapshot.connected == [NodeID(1)] && r1.snapshot.connected == [NodeID(0)])
        #expect(t0.counters.linksEstablished == 1 && t1.counters.linksEstablished == 1)
        await t0.shutdown()
        await t1.shutdown()
        #expect(fabric.liveResources.queuePairs == 0)
    }

    @Test func aPeerThatNeverAnswersTimesOut() async throws {
        // Node 1 runs a plain transport: the connection request reaches it and goes unanswered.
        let network = InProcessNetwork()
        let verbs = try VerbsTransport(
            localNode: NodeID(0), bootstrap: network.transport(for: NodeID(0)),
            settings: VerbsFixture.settings {
                $0.connectTimeout = .milliseconds(100)
                $0.connectEagerly = false
            }, api: FakeVerbsFabric().api(FakeVerbsFabric.Host(index: 0)))
        let silent = network.transport(for: NodeID(1))
        let heard = RecordingReceiver()
        try await silent.start(receiver: heard)
        try await verbs.start(receiver: RecordingReceiver())
        await #expect {
            try await verbs.send(.system(.leaving), to: NodeID(1))
        } throws: { error in
            guard let error = error as? ActorSystemError else { return false }
            return error.code == .nodeUnreachable && error.message.contains("timed out")
        }
        #expect(heard.snapshot.messages.count >= 1, "the request went out over the bootstrap")
        await verbs.shutdown()
        await silent.shutdown()
    }

    @Test func aPortThatIsDownMakesTheTransportUnavailable() throws {
        var host = FakeVerbsFabric.Host(index: 0)
        host.portState = 1
        let fabric = FakeVerbsFabric()
        #expect {
            try VerbsTransport(
                localNode: NodeID(0), bootstrap: InProcessNetwork().transport(for: NodeID(0)), settings: VerbsFixture.settings(),
                api: fabric.api(host))
        } throws: { ($0 as? VerbsError)?.code == .unavailable && ($0 as? VerbsError)?.message.contains("not ACTIVE") == true }
        #expect(fabric.liveResources.devices == 0, "the device is closed again")
    }

    @Test func unusableSettingsAreRefused() throws {
        let fabric = FakeVerbsFabric()
        #expect {
            try VerbsTransport(
                localNode: NodeID(0), bootstrap: InProcessNetwork().transport(for: NodeID(0)),
                settings: VerbsFixture.settings { $0.receiveDepth = 1 }, api: fabric.api(FakeVerbsFabric.Host(index: 0)))
        } throws: { ($0 as? VerbsError)?.code == .invalidSettings }
    }
}

/// A receiver that takes its time, so the sender runs out of credits.
final class SlowReceiver: TransportReceiver {
    private let received = Mutex<[String]>([])
    var keys: [String] { received.withLock { $0 } }
    func receive(_ message: TransportMessage, from node: NodeID) {
        usleep(200)
        if case .system(.registered(let key, _)) = message { received.withLock { $0.append(key) } }
    }
    func peerConnected(_ node: NodeID) {}
    func peerDisconnected(_ node: NodeID, reason: String) {}
}

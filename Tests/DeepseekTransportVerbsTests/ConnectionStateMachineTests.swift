import DeepseekActors
import DeepseekCore
import DeepseekTransportVerbs
import Testing

typealias Machine = VerbsConnectionStateMachine
typealias Directive = VerbsConnectionStateMachine.Directive

func endpoint(_ node: Int, qpn: UInt32 = 0x20, psn: UInt32 = 0x1234) -> VerbsEndpoint {
    VerbsEndpoint(
        node: NodeID(node), linkLayer: .infiniband, lid: UInt16(node + 1), gid: .zero, queuePairNumber: qpn, packetSequenceNumber: psn,
        mtu: .bytes4096, receiveDepth: 8, receiveBufferSize: 4096,
        window: VerbsRemoteRegion(address: 0x1000, remoteKey: 7, length: 64 + 2 * 65536), landingSlotSize: 65536, landingSlotCount: 2)
}

extension Array where Element == Directive {
    var sent: [VerbsConnectionMessage] { compactMap { if case .send(let m) = $0 { m } else { nil } } }
    var closeReason: String? { lazy.compactMap { if case .close(let r) = $0 { r } else { nil } }.first }
    var rejected: Bool { sent.contains { if case .reject = $0 { true } else { false } } }
}

@Suite struct ConnectionStateMachineTests {
    let i = endpoint(0, qpn: 0x20, psn: 0x111)
    let a = endpoint(1, qpn: 0x30, psn: 0x222)

    /// Runs the initiator (node 0) and acceptor (node 1) to the end of a clean exchange.
    @Test func anExchangeEstablishesBothSides() {
        var initiator = Machine(localNode: NodeID(0), peer: NodeID(1))
        var acceptor = Machine(localNode: NodeID(1), peer: NodeID(0))
        #expect(initiator.connect() == [.prepareQueuePair])
        #expect(initiator.connect() == [], "a second connect while one is under way does nothing")
        let request = initiator.queuePairPrepared(i)
        #expect(request == [.send(.request(version: Machine.protocolVersion, endpoint: i))])
        #expect(acceptor.receive(.request(version: 1, endpoint: i), from: NodeID(0)) == [.prepareQueuePair])
        #expect(acceptor.queuePairPrepared(a) == [.connectQueuePair(remote: i)])
        let accept = acceptor.queuePairConnected()
        #expect(accept == [.send(.accept(version: 1, endpoint: a, yourQueuePair: 0x20, yourPacketSequence: 0x111))])
        #expect(!acceptor.isEstablished, "the acceptor waits for ready before sending")
        #expect(initiator.receive(accept.sent[0], from: NodeID(1)) == [.connectQueuePair(remote: a)])
        let ready = initiator.queuePairConnected()
        #expect(ready == [.send(.ready(yourQueuePair: 0x30, yourPacketSequence: 0x222)), .established(remote: a)])
        #expect(acceptor.receive(ready.sent[0], from: NodeID(0)) == [.established(remote: i)])
        #expect(initiator.isEstablished && acceptor.isEstablished)
        #expect(initiator.remote == a && acceptor.remote == i)
    }

    @Test func whenBothStartAtOnceTheLowerRankWins() {
        var low = Machine(localNode: NodeID(0), peer: NodeID(1))
        var high = Machine(localNode: NodeID(1), peer: NodeID(0))
        _ = low.connect()
        _ = high.connect()
        let lowRequest = low.queuePairPrepared(i).sent[0]
        let highRequest = high.queuePairPrepared(a).sent[0]
        #expect(low.receive(highRequest, from: NodeID(1)) == [], "the winner ignores the loser's request")
        // The loser answers as acceptor, reusing the queue pair it prepared.
        #expect(high.receive(lowRequest, from: NodeID(0)) == [.connectQueuePair(remote: i)])
        let accept = high.queuePairConnected().sent[0]
        _ = low.receive(accept, from: NodeID(1))
        let ready = low.queuePairConnected().sent[0]
        #expect(high.receive(ready, from: NodeID(0)) == [.established(remote: i)])
        #expect(low.remote == a)
    }

    @Test func theLoserStillPreparingBecomesTheAcceptor() {
        var high = Machine(localNode: NodeID(1), peer: NodeID(0))
        _ = high.connect()
        #expect(high.receive(.request(version: 1, endpoint: i), from: NodeID(0)) == [])
        #expect(high.queuePairPrepared(a) == [.connectQueuePair(remote: i)], "no request of its own goes out")
    }

    /// Brings an initiator to `.requested` with endpoint `i`.
    func requested() -> Machine {
        var m = Machine(localNode: NodeID(0), peer: NodeID(1))
        _ = m.connect()
        _ = m.queuePairPrepared(i)
        return m
    }

    @Test func anAcceptEchoingTheWrongPSNIsRefused() {
        var m = requested()
        let out = m.receive(.accept(version: 1, endpoint: a, yourQueuePair: 0x20, yourPacketSequence: 0x112), from: NodeID(1))
        #expect(out.rejected && out.closeReason?.contains("PSN") == true)
        #expect(m.isClosed)
    }

    @Test func anAcceptEchoingAnotherQueuePairIsRefused() {
        var m = requested()
        let out = m.receive(.accept(version: 1, endpoint: a, yourQueuePair: 0x21, yourPacketSequence: 0x111), from: NodeID(1))
        #expect(out.rejected && out.closeReason?.contains("stale or crossed") == true)
    }

    @Test func aReadyEchoingTheWrongPSNIsRefused() {
        var m = Machine(localNode: NodeID(1), peer: NodeID(0))
        _ = m.receive(.request(version: 1, endpoint: i), from: NodeID(0))
        _ = m.queuePairPrepared(a)
        _ = m.queuePairConnected()
        let out = m.receive(.ready(yourQueuePair: 0x30, yourPacketSequence: 0x223), from: NodeID(0))
        #expect(out.rejected && out.closeReason?.contains("PSN 547") == true)
        #expect(!m.isEstablished)
    }

    @Test(arguments: [
        ("PSN", endpoint(0, psn: 0x0100_0000)),
        ("queue pair number", endpoint(0, qpn: 1)),
        ("queue pair number", endpoint(0, qpn: 0x0100_0000)),
        ("claims to belong", endpoint(2)),
    ])
    func aRequestWithAnUnusableEndpointIsRefused(_ expected: String, _ remote: VerbsEndpoint) {
        var m = Machine(localNode: NodeID(1), peer: NodeID(0))
        let out = m.receive(.request(version: 1, endpoint: remote), from: NodeID(0))
        #expect(out.rejected, "\(expected)")
        #expect(out.closeReason?.contains(expected) == true, "\(out.closeReason ?? "no close")")
    }

    @Test func endpointsAreCheckedForTheirLinkLayer() {
        var ib = endpoint(0)
        ib.lid = 0
        #expect(ib.problem(limits: VerbsEndpointLimits())?.contains("subnet manager") == true)
        var roce = endpoint(0)
        roce.linkLayer = .ethernet
        roce.lid = 0
        #expect(roce.problem(limits: VerbsEndpointLimits())?.contains("GID") == true)
        roce.gid = VerbsGID(bytes: [UInt8](repeating: 1, count: 16))
        #expect(roce.problem(limits: VerbsEndpointLimits()) == nil)
        var small = endpoint(0)
        small.window.length = 100
        #expect(small.problem(limits: VerbsEndpointLimits())?.contains("window") == true)
    }

    @Test func anotherProtocolVersionIsRefused() {
        var m = Machine(localNode: NodeID(1), peer: NodeID(0))
        let out = m.receive(.request(version: 9, endpoint: i), from: NodeID(0))
        #expect(out.rejected && out.closeReason?.contains("version 9") == true)
    }

    @Test func aMessageFromAnotherNodeClosesWithoutReply() {
        var m = requested()
        let out = m.receive(.accept(version: 1, endpoint: a, yourQueuePair: 0x20, yourPacketSequence: 0x111), from: NodeID(5))
        #expect(!out.rejected && out.closeReason != nil)
    }

    @Test func messagesOutOfOrderAreRefused() {
        var idle = Machine(localNode: NodeID(1), peer: NodeID(0))
        #expect(idle.receive(.ready(yourQueuePair: 1, yourPacketSequence: 1), from: NodeID(0)).rejected)
        var other = Machine(localNode: NodeID(1), peer: NodeID(0))
        #expect(other.receive(.accept(version: 1, endpoint: i, yourQueuePair: 2, yourPacketSequence: 2), from: NodeID(0)).rejected)
        var m = requested()
        #expect(m.receive(.ready(yourQueuePair: 0x20, yourPacketSequence: 0x111), from: NodeID(1)).rejected)
        var early = Machine(localNode: NodeID(0), peer: NodeID(1))
        #expect(early.queuePairConnected().rejected, "RTS before anything was prepared")
    }

    @Test func aRejectClosesWithThePeersReason() {
        var m = requested()
        let out = m.receive(.reject(reason: "no memory"), from: NodeID(1))
        #expect(out == [.close(reason: "node1 refused the RDMA connection: no memory")])
        #expect(m.receive(.reject(reason: "again"), from: NodeID(1)) == [], "a closed machine ignores everything")
    }

    @Test func aQueuePairFailureIsReportedToThePeer() {
        var m = requested()
        let out = m.queuePairFailed("ibv_modify_qp failed: Invalid argument")
        #expect(out.rejected && out.closeReason?.contains("Invalid argument") == true)
    }

    @Test func aPeerGoneClosesInEveryState() {
        var states: [Machine] = [Machine(localNode: NodeID(0), peer: NodeID(1)), requested()]
        var established = requested()
        _ = established.receive(.accept(version: 1, endpoint: a, yourQueuePair: 0x20, yourPacketSequence: 0x111), from: NodeID(1))
        _ = established.queuePairConnected()
        states.append(established)
        for var m in states {
            let out = m.peerGone("bootstrap connection lost")
            #expect(out.closeReason?.contains("node1 is gone") == true && !out.rejected)
            #expect(m.peerGone("again") == [])
        }
    }

    @Test func aTimeoutClosesUnlessEstablished() {
        var m = requested()
        #expect(m.timedOut().closeReason?.contains("timed out in state requested") == true)
        var done = requested()
        _ = done.receive(.accept(version: 1, endpoint: a, yourQueuePair: 0x20, yourPacketSequence: 0x111), from: NodeID(1))
        _ = done.queuePairConnected()
        #expect(done.timedOut() == [])
    }

    @Test func aNewRequestOnAnEstablishedLinkRestartsIt() {
        var m = Machine(localNode: NodeID(1), peer: NodeID(0))
        _ = m.receive(.request(version: 1, endpoint: i), from: NodeID(0))
        _ = m.queuePairPrepared(a)
        _ = m.queuePairConnected()
        _ = m.receive(.ready(yourQueuePair: 0x30, yourPacketSequence: 0x222), from: NodeID(0))
        let out = m.receive(.request(version: 1, endpoint: endpoint(0, qpn: 0x40)), from: NodeID(0))
        guard case .restart? = out.first else {
            Issue.record("expected a restart, got \(out)")
            return
        }
    }

    @Test func messagesRoundTripThroughTheBootstrap() throws {
        let messages: [VerbsConnectionMessage] = [
            .request(version: 1, endpoint: i), .accept(version: 1, endpoint: a, yourQueuePair: 3, yourPacketSequence: 4),
            .ready(yourQueuePair: 5, yourPacketSequence: 6), .reject(reason: "because"),
        ]
        for message in messages {
            let wrapped = message.bootstrapMessage(from: NodeID(0), to: NodeID(1))
            #expect(try VerbsConnectionMessage.unwrap(wrapped) == message)
        }
        #expect(try VerbsConnectionMessage.unwrap(.system(.leaving)) == nil)
        let garbage = TransportMessage.call(
            CallEnvelope(
                callID: 0, origin: NodeID(0), recipient: ActorAddress(node: NodeID(1), path: "$verbs", incarnation: 0),
                target: VerbsConnectionMessage.bootstrapTarget, arguments: [.encoded([9, 9, 9])]))
        #expect(throws: WireError.self) { try VerbsConnectionMessage.unwrap(garbage) }
    }
}

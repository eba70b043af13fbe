import DeepseekActors
import DeepseekCore
import Testing

@Suite struct HandshakeTests {
    let secret = Array("cluster secret".utf8)
    let n0 = [UInt8](repeating: 1, count: 32)
    let n1 = [UInt8](repeating: 2, count: 32)

    /// Runs two machines against each other until neither has anything to send.
    func converse(
        _ a: inout HandshakeStateMachine, _ b: inout HandshakeStateMachine
    ) -> (a: [HandshakeStateMachine.Directive], b: [HandshakeStateMachine.Directive]) {
        var logA: [HandshakeStateMachine.Directive] = []
        var logB: [HandshakeStateMachine.Directive] = []
        var toB = a.start()
        logA += toB
        var toA: [HandshakeStateMachine.Directive] = []
        for _ in 0..<8 {
            toA = []
            for case .send(let m) in toB {
                let out = b.receive(frameBody: m.wireBytes)
                logB += out
                toA += out
            }
            toB = []
            for case .send(let m) in toA {
                let out = a.receive(frameBody: m.wireBytes)
                logA += out
                toB += out
            }
            if toB.isEmpty { break }
        }
        return (logA, logB)
    }

    @Test func bothSidesAuthenticateWithTheSameSecret() {
        var a = HandshakeStateMachine(role: .initiator(expectedPeer: NodeID(1)), localNode: NodeID(0), secret: secret, nonce: n0)
        var b = HandshakeStateMachine(role: .acceptor, localNode: NodeID(1), secret: secret, nonce: n1)
        let (logA, logB) = converse(&a, &b)
        #expect(logA.contains(.established(peer: NodeID(1))))
        #expect(logB.contains(.established(peer: NodeID(0))))
        #expect(a.isEstablished && b.isEstablished)
    }

    @Test func aWrongSecretIsRefusedOnBothSides() {
        var a = HandshakeStateMachine(role: .initiator(expectedPeer: nil), localNode: NodeID(0), secret: Array("wrong".utf8), nonce: n0)
        var b = HandshakeStateMachine(role: .acceptor, localNode: NodeID(1), secret: secret, nonce: n1)
        let (logA, logB) = converse(&a, &b)
        #expect(!a.isEstablished && !b.isEstablished)
        #expect(logA.contains { if case .close(let r) = $0 { r.contains("authentication") } else { false } })
        #expect(logB.contains { if case .close = $0 { true } else { false } })
    }

    @Test func anAcceptorWithTheWrongSecretIsRefusedByTheInitiator() {
        var a = HandshakeStateMachine(role: .initiator(expectedPeer: nil), localNode: NodeID(0), secret: secret, nonce: n0)
        var b = HandshakeStateMachine(role: .acceptor, localNode: NodeID(1), secret: Array("impostor".utf8), nonce: n1)
        _ = converse(&a, &b)
        #expect(!a.isEstablished)
        #expect(!b.isEstablished)
    }

    @Test func aDifferentVersionIsRejectedWithAReason() {
        var a = HandshakeStateMachine(role: .initiator(expectedPeer: nil), localNode: NodeID(0), secret: secret, nonce: n0, version: 9)
        var b = HandshakeStateMachine(role: .acceptor, localNode: NodeID(1), secret: secret, nonce: n1)
        let (logA, logB) = converse(&a, &b)
        #expect(logB.contains(.send(.reject(reason: "protocol version 9 from node0; this node speaks 1"))))
        #expect(logA.contains { if case .close(let r) = $0 { r.contains("protocol version 9") } else { false } })
    }

    @Test func theWrongPeerIsRefused() {
        var a = HandshakeStateMachine(role: .initiator(expectedPeer: NodeID(5)), localNode: NodeID(0), secret: secret, nonce: n0)
        var b = HandshakeStateMachine(role: .acceptor, localNode: NodeID(1), secret: secret, nonce: n1)
        let (logA, _) = converse(&a, &b)
        #expect(logA.contains { if case .close(let r) = $0 { r.contains("expected node5") } else { false } })
    }

    @Test func outOfOrderAndGarbageMessagesClose() {
        var b = HandshakeStateMachine(role: .acceptor, localNode: NodeID(1), secret: secret, nonce: n1)
        #expect(b.receive(.response(proof: [1, 2])).contains { if case .close = $0 { true } else { false } })
        var c = HandshakeStateMachine(role: .acceptor, localNode: NodeID(1), secret: secret, nonce: n1)
        #expect(c.receive(.accept).contains { if case .close(let r) = $0 { r.contains("unexpected") } else { false } })
        var d = HandshakeStateMachine(role: .acceptor, localNode: NodeID(1), secret: secret, nonce: n1)
        let out = d.receive(frameBody: [0xFF])
        #expect(out.count == 1)
        #expect(out.first.map { if case .close(let r) = $0 { r.contains("undecodable") } else { false } } == true)
        // A replayed challenge proof cannot be used as a response proof (labels differ).
        var e = HandshakeStateMachine(role: .acceptor, localNode: NodeID(1), secret: secret, nonce: n1)
        _ = e.receive(.hello(version: 1, node: NodeID(0), nonce: n0))
        #expect(!e.receive(.response(proof: [UInt8](repeating: 0, count: 32))).contains(.established(peer: NodeID(0))))
    }

    @Test func aTimeoutClosesAnUnfinishedHandshake() {
        var a = HandshakeStateMachine(role: .initiator(expectedPeer: nil), localNode: NodeID(0), secret: secret, nonce: n0)
        _ = a.start()
        #expect(a.timedOut() == [.close(reason: "handshake timed out")])
        #expect(a.timedOut().isEmpty)
    }
}

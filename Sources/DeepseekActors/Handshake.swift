public import DeepseekCore
import Crypto

/// The messages of the connection handshake.
public enum HandshakeMessage: Sendable, Equatable, WireCodable {
    /// Initiator → acceptor: who I am, what I speak, a fresh nonce.
    case hello(version: UInt16, node: NodeID, nonce: [UInt8])
    /// Acceptor → initiator: who I am, my nonce, and proof that I know the cluster secret.
    case challenge(version: UInt16, node: NodeID, nonce: [UInt8], proof: [UInt8])
    /// Initiator → acceptor: proof that the initiator knows the secret.
    case response(proof: [UInt8])
    /// Acceptor → initiator: the connection is established.
    case accept
    /// Either side: the connection is refused, and why.
    case reject(reason: String)

    public func encode(to w: inout WireWriter) {
        switch self {
        case .hello(let version, let node, let nonce):
            w.write(UInt8(1)); w.write(version); node.encode(to: &w); w.write(bytes: nonce)
        case .challenge(let version, let node, let nonce, let proof):
            w.write(UInt8(2)); w.write(version); node.encode(to: &w); w.write(bytes: nonce); w.write(bytes: proof)
        case .response(let proof):
            w.write(UInt8(3)); w.write(bytes: proof)
        case .accept:
            w.write(UInt8(4))
        case .reject(let reason):
            w.write(UInt8(5)); w.write(String(reason.prefix(512)))
        }
    }

    public static func decode(from r: inout WireReader) throws -> HandshakeMessage {
        r.maximumLength = 1024
        let start = r.offset
        switch try r.read(UInt8.self) {
        case 1: return .hello(version: try r.read(UInt16.self), node: try NodeID.decode(from: &r), nonce: try r.readBytes())
        case 2:
            return .challenge(
                version: try r.read(UInt16.self), node: try NodeID.decode(from: &r), nonce: try r.readBytes(), proof: try r.readBytes())
        case 3: return .response(proof: try r.readBytes())
        case 4: return .accept
        case 5: return .reject(reason: try r.readString())
        case let t: throw WireError(.malformed, "unknown handshake message \(t)", offset: start)
        }
    }
}

/// The handshake of one connection as a state machine: messages in, directives out, no I/O.
///
/// Both sides prove knowledge of the shared cluster secret with HMAC-SHA256 over both nonces,
/// both node IDs and the protocol version, so neither a replayed nor a reflected proof is
/// accepted. A wrong version, a wrong secret, a message out of order or an undecodable message
/// ends in `close(reason:)`, after a `reject` the peer can log where one is useful.
public struct HandshakeStateMachine: Sendable {
    /// Which end of the connection this is.
    public enum Role: Sendable, Equatable {
        /// Opened the connection; may require the peer to be a particular node.
        case initiator(expectedPeer: NodeID?)
        case acceptor
    }

    /// What the connection's shell must do next.
    public enum Directive: Sendable, Equatable {
        case send(HandshakeMessage)
        /// The peer is authenticated; messages may flow.
        case established(peer: NodeID)
        /// Close the connection, logging `reason`.
        case close(reason: String)
    }

    enum State: Equatable {
        case idle
        case sentHello
        case sentChallenge(peer: NodeID, peerNonce: [UInt8])
        case established(NodeID)
        case closed
    }

    public static let protocolVersion: UInt16 = 1
    public static let nonceSize = 32

    public let role: Role
    public let localNode: NodeID
    public let version: UInt16
    private let secret: [UInt8]
    // SymmetricKey is not Sendable; the key is rebuilt from the secret where it is used.
    private var key: SymmetricKey { SymmetricKey(data: secret) }
    private let nonce: [UInt8]
    private(set) var state: State = .idle

    /// - Parameters:
    ///   - secret: the cluster secret every node shares.
    ///   - nonce: 32 fresh random bytes (injected so tests are deterministic).
    public init(role: Role, localNode: NodeID, secret: [UInt8], nonce: [UInt8], version: UInt16 = protocolVersion) {
        precondition(nonce.count == Self.nonceSize, "a handshake nonce must be \(Self.nonceSize) bytes")
        self.role = role
        self.localNode = localNode
        self.secret = secret
        self.nonce = nonce
        self.version = version
    }

    /// Whether the handshake has finished successfully.
    public var isEstablished: Bool { if case .established = state { true } else { false } }

    /// The first directives: the initiator says hello; the acceptor waits.
    public mutating func start() -> [Directive] {
        guard case .idle = state, case .initiator = role else { return [] }
        state = .sentHello
        return [.send(.hello(version: version, node: localNode, nonce: nonce))]
    }

    /// Handles a received handshake frame body.
    public mutating func receive(frameBody: [UInt8]) -> [Directive] {
        do {
            return receive(try HandshakeMessage(wireBytes: frameBody))
        } catch {
            return fail("undecodable handshake message: \(error)", tell: false)
        }
    }

    /// Handles a received handshake message.
    public mutating func receive(_ message: HandshakeMessage) -> [Directive] {
        switch (role, state, message) {
        case (_, _, .reject(let reason)):
            state = .closed
            return [.close(reason: "peer rejected the handshake: \(reason)")]

        case (.acceptor, .idle, .hello(let peerVersion, let peer, let peerNonce)):
            guard peerVersion == version else {
                return fail("protocol version \(peerVersion) from \(peer); this node speaks \(version)", tell: true)
            }
            guard peerNonce.count == Self.nonceSize else { return fail("hello from \(peer) has a malformed nonce", tell: true) }
            state = .sentChallenge(peer: peer, peerNonce: peerNonce)
            let proof = mac("acceptor", initiator: peer, initiatorNonce: peerNonce, acceptor: localNode, acceptorNonce: nonce)
            return [.send(.challenge(version: version, node: localNode, nonce: nonce, proof: proof))]

        case (.initiator(let expected), .sentHello, .challenge(let peerVersion, let peer, let peerNonce, let proof)):
            guard peerVersion == version else {
                return fail("protocol version \(peerVersion) from \(peer); this node speaks \(version)", tell: true)
            }
            if let expected, expected != peer {
                return fail("connected to \(peer) but expected \(expected)", tell: true)
            }
            guard peerNonce.count == Self.nonceSize else { return fail("challenge from \(peer) has a malformed nonce", tell: true) }
            let data = macInput("acceptor", initiator: localNode, initiatorNonce: nonce, acceptor: peer, acceptorNonce: peerNonce)
            guard HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: data, using: key) else {
                return fail("\(peer) failed authentication (wrong cluster secret?)", tell: true)
            }
            state = .established(peer)
            let reply = mac("initiator", initiator: localNode, initiatorNonce: nonce, acceptor: peer, acceptorNonce: peerNonce)
            return [.send(.response(proof: reply)), .established(peer: peer)]

        case (.acceptor, .sentChallenge(let peer, let peerNonce), .response(let proof)):
            let data = macInput("initiator", initiator: peer, initiatorNonce: peerNonce, acceptor: localNode, acceptorNonce: nonce)
            guard HMAC<SHA256>.isValidAuthenticationCode(proof, authenticating: data, using: key) else {
                return fail("\(peer) failed authentication (wrong cluster secret?)", tell: true)
            }
            state = .established(peer)
            return [.send(.accept), .established(peer: peer)]

        case (.initiator, .established, .accept):
            return []

        default:
            return fail("unexpected handshake message \(Self.name(of: message)) in state \(state)", tell: true)
        }
    }

    /// The handshake did not finish in time.
    public mutating func timedOut() -> [Directive] {
        if case .established = state { return [] }
        return fail("handshake timed out", tell: false)
    }

    private mutating func fail(_ reason: String, tell: Bool) -> [Directive] {
        if case .closed = state { return [] }
        state = .closed
        return (tell ? [.send(.reject(reason: reason))] : []) + [.close(reason: reason)]
    }

    private func macInput(
        _ label: String, initiator: NodeID, initiatorNonce: [UInt8], acceptor: NodeID, acceptorNonce: [UInt8]
    ) -> [UInt8] {
        var w = WireWriter()
        w.write("deepseek-handshake-\(label)")
        w.write(version)
        initiator.encode(to: &w)
        w.write(bytes: initiatorNonce)
        acceptor.encode(to: &w)
        w.write(bytes: acceptorNonce)
        return w.bytes
    }

    private func mac(_ label: String, initiator: NodeID, initiatorNonce: [UInt8], acceptor: NodeID, acceptorNonce: [UInt8]) -> [UInt8] {
        let data = macInput(label, initiator: initiator, initiatorNonce: initiatorNonce, acceptor: acceptor, acceptorNonce: acceptorNonce)
        return Array(HMAC<SHA256>.authenticationCode(for: data, using: key))
    }

    private static func name(of m: HandshakeMessage) -> String {
        switch m {
        case .hello: "hello"
        case .challenge: "challenge"
        case .response: "response"
        case .accept: "accept"
        case .reject: "reject"
        }
    }
}

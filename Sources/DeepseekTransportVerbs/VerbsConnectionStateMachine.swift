public import DeepseekActors

/// Connecting one reliable-connected queue pair to one peer, as a state machine: events in,
/// directives out, no I/O.
///
/// The exchange runs over the (already authenticated) bootstrap transport:
///
/// ```text
/// initiator                                   acceptor
/// prepare QP (INIT, receives posted)
/// request(endpoint I)  ─────────────────────▶ prepare QP; INIT→RTR(I)→RTS
///                      ◀───────────────────── accept(endpoint A, echo I.qpn, I.psn)
/// check echo; INIT→RTR(A)→RTS
/// ready(echo A.qpn, A.psn) ─────────────────▶ check echo
/// established                                 established
/// ```
///
/// The acceptor may not send before `ready`: until the initiator's queue pair is in RTR its NIC
/// drops the packets. The echoes catch a reply meant for an earlier attempt (a QP number or PSN
/// that is not this attempt's is refused rather than producing a link whose first packets are
/// silently discarded). When both sides start at once, the lower rank's request wins and the
/// higher rank becomes the acceptor, reusing the queue pair it already prepared.
public struct VerbsConnectionStateMachine: Sendable {
    /// What the transport must do next.
    public enum Directive: Sendable, Equatable {
        /// Create the queue pair and its buffers, move it to INIT, post every receive, then call
        /// `queuePairPrepared(_:)` with the local endpoint.
        case prepareQueuePair
        /// Send this message to the peer over the bootstrap transport.
        case send(VerbsConnectionMessage)
        /// Move the prepared queue pair INIT → RTR (bound to `remote`) → RTS, then call
        /// `queuePairConnected()` (or `queuePairFailed(_:)`).
        case connectQueuePair(remote: VerbsEndpoint)
        /// The link is up: messages may flow both ways.
        case established(remote: VerbsEndpoint)
        /// Give up: release the queue pair and its buffers, fail waiting senders with `reason`.
        case close(reason: String)
        /// The peer started a new connection while this one was up or in progress: close this
        /// one and hand the request that arrived to a fresh machine.
        case restart(reason: String)
    }

    enum State: Equatable {
        case idle
        /// Preparing a queue pair; `remote` is set when it will answer a request.
        case preparing(remote: VerbsEndpoint?)
        case requested(local: VerbsEndpoint)
        /// Moving the queue pair to RTS; `initiator` tells which message follows.
        case connecting(local: VerbsEndpoint, remote: VerbsEndpoint, initiator: Bool)
        /// Acceptor in RTS, waiting for `ready`.
        case accepted(local: VerbsEndpoint, remote: VerbsEndpoint)
        case established(local: VerbsEndpoint, remote: VerbsEndpoint)
        case closed
    }

    public static let protocolVersion: UInt16 = 1

    public let localNode: NodeID
    public let peer: NodeID
    public let limits: VerbsEndpointLimits
    private(set) var state: State = .idle

    public init(localNode: NodeID, peer: NodeID, limits: VerbsEndpointLimits = VerbsEndpointLimits()) {
        precondition(localNode != peer, "a verbs connection needs two different nodes, got \(localNode) twice")
        self.localNode = localNode
        self.peer = peer
        self.limits = limits
    }

    public var isEstablished: Bool { if case .established = state { true } else { false } }
    public var isClosed: Bool { state == .closed }
    /// The peer's endpoint once established.
    public var remote: VerbsEndpoint? { if case .established(_, let remote) = state { remote } else { nil } }

    /// This side wants a link (a message is waiting for the peer). Starts an exchange unless one
    /// is already under way.
    public mutating func connect() -> [Directive] {
        guard state == .idle else { return [] }
        state = .preparing(remote: nil)
        return [.prepareQueuePair]
    }

    /// The queue pair asked for by `.prepareQueuePair` exists, is in INIT and has its receives posted.
    public mutating func queuePairPrepared(_ local: VerbsEndpoint) -> [Directive] {
        guard case .preparing(let remote) = state else { return unexpected("queue pair prepared") }
        if let problem = local.problem(limits: limits) { return fail("this side's own endpoint is invalid: \(problem)", tell: remote != nil) }
        guard let remote else {
            state = .requested(local: local)
            return [.send(.request(version: Self.protocolVersion, endpoint: local))]
        }
        state = .connecting(local: local, remote: remote, initiator: false)
        return [.connectQueuePair(remote: remote)]
    }

    /// The queue pair reached RTS.
    public mutating func queuePairConnected() -> [Directive] {
        guard case .connecting(let local, let remote, let initiator) = state else { return unexpected("queue pair connected") }
        if initiator {
            state = .established(local: local, remote: remote)
            return [
                .send(.ready(yourQueuePair: remote.queuePairNumber, yourPacketSequence: remote.packetSequenceNumber)),
                .established(remote: remote),
            ]
        }
        state = .accepted(local: local, remote: remote)
        return [
            .send(
                .accept(
                    version: Self.protocolVersion, endpoint: local, yourQueuePair: remote.queuePairNumber,
                    yourPacketSequence: remote.packetSequenceNumber))
        ]
    }

    /// Creating or moving the queue pair failed (a verbs call returned an error).
    public mutating func queuePairFailed(_ reason: String) -> [Directive] {
        fail("queue pair set-up failed: \(reason)", tell: true)
    }

    /// A connection message arrived from `sender` over the bootstrap transport.
    public mutating func receive(_ message: VerbsConnectionMessage, from sender: NodeID) -> [Directive] {
        guard sender == peer else { return fail("a connection message for \(peer) came from \(sender)", tell: false) }
        switch (state, message) {
        case (.closed, _):
            return []
        case (_, .reject(let reason)):
            state = .closed
            return [.close(reason: "\(peer) refused the RDMA connection: \(reason)")]

        case (.idle, .request(let version, let remote)):
            if let problem = check(version: version, remote) { return fail(problem, tell: true) }
            state = .preparing(remote: remote)
            return [.prepareQueuePair]

        case (.preparing(nil), .request(let version, let remote)), (.requested, .request(let version, let remote)):
            // Both sides started at once: the lower rank's request wins.
            if localNode < peer { return [] }
            if let problem = check(version: version, remote) { return fail(problem, tell: true) }
            if case .requested(let local) = state {
                state = .connecting(local: local, remote: remote, initiator: false)
                return [.connectQueuePair(remote: remote)]
            }
            state = .preparing(remote: remote)
            return []

        case (.established, .request), (.accepted, .request), (.connecting, .request), (.preparing, .request):
            state = .closed
            return [.restart(reason: "\(peer) started a new RDMA connection (it restarted or lost the previous one)")]

        case (.requested(let local), .accept(let version, let remote, let qpn, let psn)):
            if let problem = check(version: version, remote) { return fail(problem, tell: true) }
            if let problem = checkEcho(local: local, qpn: qpn, psn: psn, in: "accept") { return fail(problem, tell: true) }
            state = .connecting(local: local, remote: remote, initiator: true)
            return [.connectQueuePair(remote: remote)]

        case (.accepted(let local, let remote), .ready(let qpn, let psn)):
            if let problem = checkEcho(local: local, qpn: qpn, psn: psn, in: "ready") { return fail(problem, tell: true) }
            state = .established(local: local, remote: remote)
            return [.established(remote: remote)]

        default:
            return fail("unexpected \(Self.name(of: message)) from \(peer) in state \(Self.name(of: state))", tell: true)
        }
    }

    /// The bootstrap transport lost the peer (or the link broke): nothing more can be exchanged.
    public mutating func peerGone(_ reason: String) -> [Directive] {
        guard state != .closed else { return [] }
        state = .closed
        return [.close(reason: "\(peer) is gone: \(reason)")]
    }

    /// The exchange did not finish in time.
    public mutating func timedOut() -> [Directive] {
        if isEstablished || state == .closed { return [] }
        return fail("the RDMA connection exchange with \(peer) timed out in state \(Self.name(of: state))", tell: true)
    }

    private func check(version: UInt16, _ remote: VerbsEndpoint) -> String? {
        guard version == Self.protocolVersion else {
            return "\(peer) speaks verbs connection version \(version); this node speaks \(Self.protocolVersion)"
        }
        guard remote.node == peer else { return "an endpoint from \(peer) claims to belong to \(remote.node)" }
        if let problem = remote.problem(limits: limits) { return "\(peer) announced an unusable endpoint: \(problem)" }
        return nil
    }

    private func checkEcho(local: VerbsEndpoint, qpn: UInt32, psn: UInt32, in what: String) -> String? {
        if qpn != local.queuePairNumber {
            return "\(what) from \(peer) names queue pair \(qpn), but this side's is \(local.queuePairNumber) (a stale or crossed exchange)"
        }
        if psn != local.packetSequenceNumber {
            return "\(what) from \(peer) expects PSN \(psn), but this side starts at \(local.packetSequenceNumber); "
                + "its first packets would be dropped"
        }
        return nil
    }

    private mutating func unexpected(_ event: String) -> [Directive] {
        if state == .closed { return [] }
        return fail("\(event) in state \(Self.name(of: state))", tell: true)
    }

    private mutating func fail(_ reason: String, tell: Bool) -> [Directive] {
        if state == .closed { return [] }
        state = .closed
        return (tell ? [.send(.reject(reason: reason))] : []) + [.close(reason: reason)]
    }

    static func name(of state: State) -> String {
        switch state {
        case .idle: "idle"
        case .preparing: "preparing"
        case .requested: "requested"
        case .connecting: "connecting"
        case .accepted: "accepted"
        case .established: "established"
        case .closed: "closed"
        }
    }

    static func name(of message: VerbsConnectionMessage) -> String {
        switch message {
        case .request: "request"
        case .accept: "accept"
        case .ready: "ready"
        case .reject: "reject"
        }
    }
}

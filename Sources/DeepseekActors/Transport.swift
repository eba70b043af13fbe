/// What a transport tells the actor system it serves.
public protocol TransportReceiver: Sendable {
    /// A message arrived from `node`. Called from the transport's own context; must not block.
    func receive(_ message: TransportMessage, from node: NodeID)
    /// A connection to `node` is established (after any handshake).
    func peerConnected(_ node: NodeID)
    /// The connection to `node` is gone and will not come back by itself.
    func peerDisconnected(_ node: NodeID, reason: String)
}

/// Carries messages between the actor systems of a cluster.
///
/// Implementations: `InProcessTransport` (values passed by reference within one process),
/// `EmbeddedTransport` (delivery pumped by a test), io_uring sockets, RDMA verbs and the
/// simulator's network. Every one passes the same contract suite.
public protocol Transport: Sendable {
    /// The node this transport speaks for.
    var localNode: NodeID { get }
    /// Whether messages must be encoded to bytes (false only when values can be handed over as is).
    var requiresSerialization: Bool { get }
    /// Starts delivering inbound messages to `receiver`. Called once.
    func start(receiver: any TransportReceiver) async throws
    /// Sends `message` to `node`; suspends while the outbound queue is full (back-pressure).
    ///
    /// - Throws: `ActorSystemError.nodeUnreachable` when no connection to `node` can be made.
    func send(_ message: TransportMessage, to node: NodeID) async throws
    /// Closes every connection; later sends fail.
    func shutdown() async
    /// An executor on the transport's own receiving thread, for short work its messages start
    /// (see `IncomingCallExecution.transportThread`); `nil` when the transport has none.
    var callExecutor: (any TaskExecutor)? { get }
}

extension Transport {
    public var callExecutor: (any TaskExecutor)? { nil }
}

/// Tells `receiver`, which just joined a network as `node`, of every other member of `members`,
/// and each of them of it, in node order. For networks kept in one process (embedded, simulated)
/// whose members are all connected to each other.
public func introduce(_ node: NodeID, _ receiver: any TransportReceiver, to members: [NodeID: any TransportReceiver]) {
    for (other, r) in members.filter({ $0.key != node }).sorted(by: { $0.key < $1.key }) {
        r.peerConnected(node)
        receiver.peerConnected(other)
    }
}

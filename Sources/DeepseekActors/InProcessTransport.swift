import Synchronization

/// The nodes of one process that talk through `InProcessTransport`s.
///
/// Useful for tests and for running several logical nodes in one process: messages are handed
/// over as values (nothing is serialized) with real concurrency.
public final class InProcessNetwork: Sendable {
    private let receivers = Mutex<[NodeID: any TransportReceiver]>([:])

    public init() {}

    /// A transport for `node` on this network.
    public func transport(for node: NodeID) -> InProcessTransport { InProcessTransport(network: self, node: node) }

    func join(_ node: NodeID, _ receiver: any TransportReceiver) {
        let others = receivers.withLock { r -> [(NodeID, any TransportReceiver)] in
            r[node] = receiver
            return r.filter { $0.key != node }.map { ($0.key, $0.value) }
        }
        for (other, otherReceiver) in others {
            otherReceiver.peerConnected(node)
            receiver.peerConnected(other)
        }
    }

    func leave(_ node: NodeID) {
        let others = receivers.withLock { r -> [any TransportReceiver] in
            r[node] = nil
            return Array(r.values)
        }
        for o in others { o.peerDisconnected(node, reason: "transport shut down") }
    }

    func receiver(for node: NodeID) -> (any TransportReceiver)? { receivers.withLock { $0[node] } }
}

/// A transport between actor systems in one process: no serialization, no copies.
public final class InProcessTransport: Transport {
    public let localNode: NodeID
    private let network: InProcessNetwork
    private let started = Atomic<Bool>(false)

    init(network: InProcessNetwork, node: NodeID) {
        self.network = network
        self.localNode = node
    }

    public var requiresSerialization: Bool { false }

    public func start(receiver: any TransportReceiver) async throws {
        precondition(!started.exchange(true, ordering: .relaxed), "InProcessTransport for \(localNode) started twice")
        network.join(localNode, receiver)
    }

    public func send(_ message: TransportMessage, to node: NodeID) async throws {
        guard let receiver = network.receiver(for: node) else {
            throw ActorSystemError(.nodeUnreachable, "\(node) is not on this in-process network")
        }
        receiver.receive(message, from: localNode)
    }

    public func shutdown() async {
        network.leave(localNode)
    }
}

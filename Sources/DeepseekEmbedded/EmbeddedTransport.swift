public import DeepseekActors
import DeepseekCore
import Synchronization

/// A network of `EmbeddedTransport`s whose messages move only when a test delivers them.
///
/// Every message is encoded on send and decoded on delivery, so tests exercise the real wire
/// format. Messages wait in one first-in-first-out queue; a test delivers them one at a time,
/// all at once, drops or reorders them, and ends with `finish()`, which reports anything left.
///
/// ```swift
/// let net = EmbeddedNetwork()
/// let a = DeepseekActorSystem(transport: net.transport(for: NodeID(0)), settings: …)
/// let call = Task { try await remote.step() }
/// try await net.runUntilIdle()
/// try net.finish()                     // throws if messages or timers are left over
/// ```
public final class EmbeddedNetwork: Sendable {
    /// A message sent and not yet delivered.
    public struct InFlight: Sendable {
        public var from: NodeID
        public var to: NodeID
        /// The encoded message, as it would travel on a wire.
        public var bytes: [UInt8]
        /// The decoded message, for inspection.
        public var message: TransportMessage { (try? TransportMessage(wireBytes: bytes)) ?? .system(.leaving) }
    }

    /// What `finish()` found still pending.
    public struct Leftovers: Error, CustomStringConvertible {
        public var messages: [InFlight]
        public var timers: Int
        public var description: String {
            "embedded network finished with \(messages.count) undelivered message(s) and \(timers) pending timer(s)"
                + messages.prefix(5).map { "\n  \($0.from) → \($0.to): \($0.message)" }.joined()
        }
    }

    private struct State {
        var receivers: [NodeID: any TransportReceiver] = [:]
        var queue: [InFlight] = []
        var delivered = 0
        var partitioned: Set<NodeID> = []
        var muted: Set<NodeID> = []
        var discarded = 0
    }

    private let state = Mutex(State())
    /// The virtual clock and timer source to give the actor systems on this network.
    public let clock: TestClock

    public init(clock: TestClock = TestClock()) { self.clock = clock }

    /// A transport for `node` on this network.
    public func transport(for node: NodeID) -> EmbeddedTransport { EmbeddedTransport(network: self, node: node) }

    /// Settings that make an actor system run its timers on this network's clock.
    public func settings(registry: WireTypeRegistry = WireTypeRegistry(), timeout: Duration = .seconds(5)) -> ActorSystemSettings {
        ActorSystemSettings(defaultCallTimeout: timeout, registry: registry, scheduler: clock)
    }

    /// Messages waiting for delivery, oldest first.
    public var inFlight: [InFlight] { state.withLock { $0.queue } }
    /// How many messages have been delivered so far.
    public var deliveredCount: Int { state.withLock { $0.delivered } }

    func join(_ node: NodeID, _ receiver: any TransportReceiver) {
        let members = state.withLock { s -> [NodeID: any TransportReceiver] in
            s.receivers[node] = receiver
            return s.receivers
        }
        introduce(node, receiver, to: members)
    }

    func leave(_ node: NodeID) {
        let others = state.withLock { s -> [any TransportReceiver] in
            s.receivers[node] = nil
            s.queue.removeAll { $0.to == node }
            return s.receivers.sorted { $0.key < $1.key }.map(\.value)
        }
        for r in others { r.peerDisconnected(node, reason: "transport shut down") }
    }

    func enqueue(_ message: TransportMessage, from: NodeID, to: NodeID) throws {
        try state.withLock { s in
            guard s.receivers[to] != nil, !s.partitioned.contains(to), !s.partitioned.contains(from) else {
                throw ActorSystemError(.nodeUnreachable, "\(to) is not reachable from \(from) on the embedded network")
            }
            if s.muted.contains(from) {
                s.discarded += 1
                return
            }
            s.queue.append(InFlight(from: from, to: to, bytes: message.wireBytes))
        }
    }

    /// Delivers the oldest message; returns false when none is waiting.
    @discardableResult
    public func deliverNext() throws -> Bool {
        guard let (item, receiver) = state.withLock({ s -> (InFlight, (any TransportReceiver)?)? in
            guard !s.queue.isEmpty else { return nil }
            let item = s.queue.removeFirst()
            s.delivered += 1
            return (item, s.receivers[item.to])
        }) else { return false }
        guard let receiver else { return true }  // the destination left: the message is lost
        receiver.receive(try TransportMessage(wireBytes: item.bytes), from: item.from)
        return true
    }

    /// Removes the messages matching `predicate` without delivering them; returns how many.
    @discardableResult
    public func drop(where predicate: (InFlight) -> Bool) -> Int {
        state.withLock { s in
            let before = s.queue.count
            s.queue.removeAll(where: predicate)
            return before - s.queue.count
        }
    }

    /// Moves the newest message to the front of the queue (to provoke reordering).
    public func deliverNewestFirst() {
        state.withLock { s in
            if let last = s.queue.popLast() { s.queue.insert(last, at: 0) }
        }
    }

    /// Silently discards everything `node` sends from now on, as from a hung process whose
    /// connections stay open: only a failure detector can notice.
    public func mute(_ node: NodeID) {
        state.withLock { s in
            s.muted.insert(node)
            s.queue.removeAll { $0.from == node }
        }
    }

    /// Messages discarded because their sender was muted.
    public var discardedCount: Int { state.withLock { $0.discarded } }

    /// Cuts `node` off: sends to and from it fail and its peers learn it is unreachable.
    public func partition(_ node: NodeID) {
        let others = state.withLock { s -> [any TransportReceiver] in
            s.partitioned.insert(node)
            s.queue.removeAll { $0.to == node || $0.from == node }
            return s.receivers.filter { $0.key != node }.sorted { $0.key < $1.key }.map(\.value)
        }
        for r in others { r.peerDisconnected(node, reason: "network partition") }
        if let r = state.withLock({ $0.receivers[node] }) {
            for other in state.withLock({ $0.receivers.keys.filter { $0 != node }.sorted() }) {
                r.peerDisconnected(other, reason: "network partition")
            }
        }
    }

    /// Delivers messages and lets the tasks they start run, until nothing new happens for a while.
    ///
    /// - Parameters:
    ///   - quietRounds: consecutive scheduler yields with an empty queue before the run may end.
    ///   - quietTime: real time without a delivery before the run may end.
    /// - Returns: the number of messages delivered.
    @discardableResult
    public func runUntilIdle(
        quietRounds: Int = 50, quietTime: Duration = .milliseconds(50), maximumMessages: Int = 1_000_000
    ) async throws -> Int {
        // Idle means nothing to deliver for `quietRounds` yields *and* `quietTime` of real time:
        // handlers run as tasks (and may hop through other threads), so a reply can appear a
        // while after the call was delivered, however few tasks are runnable.
        let clock = ContinuousClock()
        var delivered = 0
        var quiet = 0
        var lastActivity = clock.now
        while delivered < maximumMessages {
            if try deliverNext() {
                delivered += 1
                quiet = 0
                lastActivity = clock.now
            } else {
                quiet += 1
                if quiet >= quietRounds && clock.now - lastActivity >= quietTime { break }
                if quiet < quietRounds { await Task.yield() } else { try await Task.sleep(for: .milliseconds(1)) }
            }
        }
        return delivered
    }

    /// Throws `Leftovers` when messages are still queued or timers still pending.
    public func finish() throws {
        let queue = inFlight
        let timers = clock.pendingTimerCount
        if !queue.isEmpty || timers > 0 { throw Leftovers(messages: queue, timers: timers) }
    }
}

/// One node's end of an `EmbeddedNetwork`.
public final class EmbeddedTransport: Transport {
    public let localNode: NodeID
    let network: EmbeddedNetwork

    init(network: EmbeddedNetwork, node: NodeID) {
        self.network = network
        self.localNode = node
    }

    public var requiresSerialization: Bool { true }

    public func start(receiver: any TransportReceiver) async throws { network.join(localNode, receiver) }

    public func send(_ message: TransportMessage, to node: NodeID) async throws {
        try network.enqueue(message, from: localNode, to: node)
    }

    public func shutdown() async { network.leave(localNode) }
}

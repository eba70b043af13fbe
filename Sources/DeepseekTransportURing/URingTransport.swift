internal import CDeepseekURing
public import DeepseekActors
import DeepseekCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `Transport` over TCP or Unix-domain stream sockets, driven by one io_uring per node.
///
/// One dedicated thread owns the ring: it accepts, connects, reads and writes for every peer,
/// submitting prepared operations in batches and reaping completions. `send` encodes on the
/// caller's thread, appends to the peer's bounded queue and returns; the ring thread coalesces
/// small frames into one send per connection, sends large frames from their own buffer (with
/// `IORING_OP_SEND_ZC` when the kernel has it), and reads into registered buffers. A small
/// message for an idle connection with nothing queued is written by the sending thread itself
/// (one non-blocking `sendmsg`), so a lone call costs no wake-up of the ring thread.
///
/// Bulk data — a tensor's bytes, anything a `WireCodable` writes with `writeBulk` — of at least
/// `outOfBandThreshold` bytes is not copied into the message: the frame carries a small head
/// (envelope plus a segment table) and the ring sends the bytes from the tensor's own memory.
/// The receiver reads them straight into pooled, page-aligned `WireBuffer`s, which the decoded
/// tensor adopts as its storage: one kernel copy each way, as with a raw socket.
///
/// Connections are made on the first `send` to a peer (or at once with `connectAll()`), and
/// authenticated with the cluster secret by `HandshakeStateMachine` before any message is
/// accepted. A dropped connection is redialled with exponential backoff; after the last failed
/// attempt the receiver hears `peerDisconnected` and queued messages are dropped. Each node
/// receives on all connections and sends to a peer on one: its own, or else the one the peer
/// opened — so a node answers a peer whose address it does not know (a rendezvous coordinator
/// answering joiners), and a pair of nodes that talk both ways needs a single connection.
///
/// ```swift
/// let transport = try URingTransport(settings: URingTransportSettings(
///     localNode: NodeID(0), listenAddress: .tcp(host: "127.0.0.1", port: 0),
///     peers: [NodeID(1): .tcp(host: "127.0.0.1", port: 7001)], clusterSecret: secret))
/// let system = DeepseekActorSystem(transport: transport)
/// try await system.start()
/// ```
///
/// Call `shutdown()` before dropping a started transport: it closes every socket and joins the
/// ring thread.
public final class URingTransport: Transport {
    public let localNode: NodeID
    public let settings: URingTransportSettings
    /// Where this transport accepts connections, with the port the kernel chose for port 0.
    public let boundAddress: URingAddress?
    let loop: RingLoop
    let queues: SendQueues
    private let thread = Mutex<(started: Bool, handle: pthread_t?)>((false, nil))
    private static let cachedProbe = URingProbe.run()

    /// Whether io_uring works in this process and which operations the kernel supports.
    /// Computed once per process.
    public static func probe() -> URingProbe { cachedProbe }

    /// Creates the transport and binds its listening socket (so `boundAddress` is known before
    /// `start`). The ring and its thread come up in `start`.
    ///
    /// - Throws: `URingTransportError` when io_uring is unavailable, the settings are invalid,
    ///   an address does not resolve, or the listener cannot be bound.
    public convenience init(settings: URingTransportSettings) throws(URingTransportError) {
        let probe = Self.probe()
        guard probe.isAvailable else {
            throw URingTransportError(.unavailable, probe.reason ?? "io_uring is not available here")
        }
        try self.init(settings: settings, syscalls: LiburingSyscalls(probe: probe))
    }

    /// Creates the transport over the given system-call layer (tests pass a recording one).
    package init(settings: URingTransportSettings, syscalls: any URingSyscalls) throws(URingTransportError) {
        try settings.validate()
        var addresses: [NodeID: SocketAddress] = [:]
        for (node, address) in settings.peers where node != settings.localNode {
            addresses[node] = try SocketAddress(address)
        }
        var listenFD: Int32 = -1
        var bound: URingAddress?
        var isUnix = false
        if let listen = settings.listenAddress {
            let address = try SocketAddress(listen)
            if case .unix(let path) = listen, cdskur_unlink_socket(path) == -EEXIST {
                throw URingTransportError(.listenFailed, "\(path) exists and is not a socket; choose another path")
            }
            let (fd, port) = syscalls.listen(on: address, backlog: 512)
            guard fd >= 0 else {
                throw URingTransportError(.listenFailed, "cannot listen on \(listen): \(errnoText(fd))")
            }
            listenFD = fd
            isUnix = address.isUnix
            if case .tcp(let host, _) = listen { bound = .tcp(host: host, port: port) } else { bound = listen }
        }
        let wakeFD = cdskur_eventfd()
        guard wakeFD >= 0 else {
            if listenFD >= 0 { syscalls.closeNow(listenFD) }
            throw URingTransportError(.setupFailed, "eventfd() failed: \(errnoText(wakeFD))")
        }
        self.localNode = settings.localNode
        self.settings = settings
        self.boundAddress = bound
        self.queues = SendQueues(
            localNode: settings.localNode, capacity: settings.sendQueueCapacity, byteLimit: settings.sendQueueByteLimit,
            addresses: addresses, wakeFD: wakeFD, syscalls: syscalls, directWrites: settings.directWrites)
        self.loop = RingLoop(settings: settings, syscalls: syscalls, queues: queues, listenFD: listenFD, listenIsUnix: isUnix)
    }

    public var requiresSerialization: Bool { true }

    /// Starts the ring thread and begins accepting connections.
    ///
    /// - Throws: `URingTransportError(.setupFailed)` when the ring cannot be created.
    public func start(receiver: any TransportReceiver) async throws {
        let first = thread.withLock { t in
            defer { t.started = true }
            return !t.started
        }
        precondition(first, "URingTransport for \(localNode) started twice")
        loop.receiver = receiver
        let handle = try loop.spawn()
        thread.withLock { $0.handle = handle }
        do {
            try await loop.waitForStart()
        } catch {
            join()
            throw error
        }
    }

    /// Queues `message` for `node`, suspending while that peer's queue is full. A node without a
    /// known address can be sent to while a connection it opened to this one is up.
    ///
    /// Returns once the message is queued: delivery is not confirmed, but messages to one node
    /// arrive in the order they were sent. If the peer cannot be reached after the configured
    /// reconnect attempts, queued messages are dropped and the receiver hears `peerDisconnected`.
    /// A sender waiting for room is not interrupted by task cancellation: it resumes when room
    /// appears, when the peer is given up on, or at shutdown.
    ///
    /// - Throws: `ActorSystemError(.nodeUnreachable)` for a node without a known address or
    ///   connection (at once) or one given up on while this send waited; `.shutDown` after `shutdown()`;
    ///   `.transportFailure` for a message larger than `maximumFrameSize`.
    public func send(_ message: TransportMessage, to node: NodeID) async throws {
        // Room for a typical call (envelope, target name, a small argument) at once: growing
        // from the default 64 bytes cost two reallocations and copies per message.
        var writer = WireWriter(reservingCapacity: 256, outOfBandThreshold: settings.outOfBandThreshold)
        message.encode(to: &writer)
        let body = writer.bytes
        let bulk = writer.segments.reduce(0) { $0 + $1.bytes.count }
        guard body.count <= settings.maximumFrameSize, bulk <= settings.maximumFrameSize else {
            throw ActorSystemError(
                .transportFailure,
                "a message of \(body.count + bulk) bytes exceeds the transport's maximumFrameSize of \(settings.maximumFrameSize)")
        }
        let frame: OutboundFrame
        if !writer.segments.isEmpty {
            // Bulk data (tensor bytes) is sent from where it lies, after the small head.
            frame = .segmented(head: Frame(kind: .message, body: body, segments: writer.segments).head, segments: writer.segments)
        } else if Frame.headerSize + body.count >= loop.largeFrameBytes {
            frame = .large(LargeFrameBuffer(kind: .message, body: body))
        } else {
            frame = .small(kind: .message, body: body)
        }
        try await queues.enqueue(frame, to: node)
    }

    /// Runs tasks on the ring thread; the actor system starts incoming calls on it when its
    /// settings ask for `IncomingCallExecution.transportThread`.
    public var callExecutor: (any TaskExecutor)? { loop.executor }

    /// Starts connections to every peer with a known address, instead of waiting for the first
    /// message to each. Returns at once; `connectedPeers` shows progress.
    public func connectAll() {
        let nodes = queues.state.withLock { Array($0.addresses.keys) }
        for node in nodes.sorted() { queues.post(.connect(node)) }
    }

    /// Adds, changes or (with `nil`) removes the address of `node`. Takes effect at the next
    /// connection attempt.
    ///
    /// - Throws: `URingTransportError(.invalidAddress)` when the address does not resolve.
    public func setAddress(_ address: URingAddress?, for node: NodeID) throws(URingTransportError) {
        let resolved = try address.map { (a) throws(URingTransportError) in try SocketAddress(a) }
        queues.setAddress(resolved, for: node)
    }

    /// Peers reported connected to the receiver and not since reported disconnected.
    public var connectedPeers: Set<NodeID> { queues.state.withLock { $0.established } }

    /// Messages waiting in the send queue for `node`.
    public func queuedMessageCount(for node: NodeID) -> Int { queues.queuedCount(for: node) }

    /// What the transport has done so far.
    public var counters: URingTransportCounters {
        var c = loop.published.withLock { $0 }
        queues.state.withLock { s in
            c.maximumQueuedFrames = s.maximumQueued
            c.directWrites = s.directFrames
            c.framesSent += s.directFrames
            c.bytesSent += s.directBytes
        }
        return c
    }

    /// Closes every connection (letting established ones finish writing for up to
    /// `shutdownGracePeriod`), stops the ring thread and waits for it. Later sends fail.
    public func shutdown() async {
        let first = queues.close()
        let started = thread.withLock { $0.started }
        guard started else { return }
        if first { queues.post(.shutdown) }
        await loop.waitForExit()
        join()
    }

    private func join() {
        let handle = thread.withLock { t in
            defer { t.handle = nil }
            return t.handle
        }
        if let handle { pthread_join(handle, nil) }
    }
}

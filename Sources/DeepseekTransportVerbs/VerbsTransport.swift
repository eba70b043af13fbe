public import DeepseekActors
import DeepseekCore
import Synchronization

/// Carries actor messages between nodes over RDMA reliable-connected queue pairs.
///
/// Each pair of nodes shares one queue pair, set up through a bootstrap transport (any
/// `Transport`: io_uring TCP in a cluster, the in-process one in tests) that carries the
/// connection exchange — queue pair numbers, PSNs, LID/GID and the keys of the peer-writable
/// window. Small messages are framed, packed several to a SEND and received into a ring of
/// pre-posted registered buffers; large ones are written with RDMA into the peer's registered
/// landing slots, each slice announced by a small SEND. Senders never overrun a receiver: credits
/// for receives and landing slots come back as RDMA writes into a mailbox, which costs the
/// receiver no receive buffer. Messages the bootstrap carries that are not part of the exchange
/// are passed to the receiver unchanged.
///
/// ```swift
/// let probe = VerbsTransport.probe()
/// guard probe.isAvailable else { print(probe); /* fall back to io_uring */ return }
/// let transport = try VerbsTransport(localNode: NodeID(0), bootstrap: tcp)
/// ```
///
/// The verbs calls go through a `VerbsAPI`: `LibVerbsAPI` on hardware, an in-memory fabric in
/// tests. Honest limits: payloads are copied once into registered memory on each side (messages
/// are Swift arrays, not registered tensor storage); an idle progress thread sleeps up to
/// `maximumIdleSleep` between polls instead of waiting on a completion channel; messages in
/// flight when a link breaks are lost (the receiver hears `peerDisconnected`).
public final class VerbsTransport: Transport {
    public let localNode: NodeID
    public let settings: VerbsTransportSettings
    let bootstrap: any Transport
    let loop: VerbsProgressLoop
    private let outboxStream: AsyncStream<(NodeID, VerbsConnectionMessage)>
    private let lifecycle = Mutex<(started: Bool, stopped: Bool, outbox: Task<Void, Never>?)>((false, false, nil))

    /// Whether RDMA can be used on this host, and why not when it cannot.
    public static func probe() -> VerbsProbe { VerbsProbe.run() }

    /// A transport on the host's RDMA device, through libibverbs.
    ///
    /// - Throws: `VerbsError.unavailable` when libibverbs, a device or an active port is missing
    ///   (check `probe()` first to fall back quietly), `.invalidSettings` for unusable settings.
    public convenience init(localNode: NodeID, bootstrap: any Transport, settings: VerbsTransportSettings = VerbsTransportSettings())
        throws(VerbsError)
    {
        try self.init(localNode: localNode, bootstrap: bootstrap, settings: settings, api: LibVerbsAPI.load())
    }

    /// A transport whose verbs calls go through `api`.
    ///
    /// Opens the device, checks the port is ACTIVE, reads the GID and allocates a protection
    /// domain; queue pairs are made per peer when it is first needed (or reported by the bootstrap,
    /// with `connectEagerly`).
    public init(localNode: NodeID, bootstrap: any Transport, settings: VerbsTransportSettings = VerbsTransportSettings(), api: any VerbsAPI)
        throws(VerbsError)
    {
        precondition(
            bootstrap.localNode == localNode, "the bootstrap transport speaks for \(bootstrap.localNode), not \(localNode)")
        if let problem = settings.problem() { throw VerbsError(.invalidSettings, "VerbsTransportSettings: \(problem)") }
        let device = try api.openDevice(named: settings.deviceName)
        let context: VerbsDeviceContext
        do throws(VerbsError) {
            let port = try api.queryPort(device, port: settings.port)
            guard port.isActive else {
                throw VerbsError(
                    .unavailable, "port \(settings.port) of \(device.name) is not ACTIVE (state \(port.state)); check the link and subnet manager")
            }
            let gid = try api.queryGID(device, port: settings.port, index: settings.gidIndex)
            if port.linkLayer == .ethernet && gid.isZero {
                throw VerbsError(.unavailable, "GID index \(settings.gidIndex) of \(device.name) port \(settings.port) is empty; RoCE needs one")
            }
            let domain = try api.allocateProtectionDomain(device)
            context = VerbsDeviceContext(
                device: device, domain: domain, port: settings.port, portAttributes: port, gid: gid, gidIndex: settings.gidIndex)
        } catch {
            try? api.closeDevice(device)
            throw error
        }
        let (stream, continuation) = AsyncStream<(NodeID, VerbsConnectionMessage)>.makeStream()
        self.localNode = localNode
        self.settings = settings
        self.bootstrap = bootstrap
        self.outboxStream = stream
        self.loop = VerbsProgressLoop(localNode: localNode, api: api, settings: settings, context: context, outbox: continuation)
    }

    deinit {
        let (started, stopped) = lifecycle.withLock { ($0.started, $0.stopped) }
        if !started {
            // A transport never started still holds its device.
            try? loop.api.deallocateProtectionDomain(loop.context.domain)
            try? loop.api.closeDevice(loop.context.device)
        } else if !stopped {
            // Dropped without `shutdown()`: stop the progress thread so it releases the NIC
            // resources (the bootstrap transport is left to its owner).
            loop.shared.withLock { $0.shuttingDown = true }
            loop.post(.shutdown)
        }
    }

    /// The RDMA device in use.
    public var deviceName: String { loop.context.device.name }
    public var requiresSerialization: Bool { true }
    /// What the transport has done so far.
    public var counters: VerbsTransportCounters { loop.shared.withLock { $0.counters } }

    public func start(receiver: any TransportReceiver) async throws {
        let first = lifecycle.withLock { l in
            defer { l.started = true }
            return !l.started
        }
        precondition(first, "VerbsTransport for \(localNode) started twice")
        loop.shared.withLock { $0.receiver = receiver }
        try loop.spawn()
        let bootstrap = self.bootstrap
        let loop = self.loop
        let local = localNode
        let stream = outboxStream
        let task = Task {
            for await (peer, message) in stream {
                do {
                    try await bootstrap.send(message.bootstrapMessage(from: local, to: peer), to: peer)
                } catch {
                    if case .reject = message { continue }
                    loop.post(.bootstrapSendFailed(peer, "the bootstrap transport could not reach it: \(error)"))
                }
            }
        }
        lifecycle.withLock { $0.outbox = task }
        try await bootstrap.start(receiver: VerbsBootstrapReceiver(loop: loop))
    }

    public func send(_ message: TransportMessage, to node: NodeID) async throws {
        if node == localNode {
            guard let receiver = loop.shared.withLock({ $0.shuttingDown ? nil : $0.receiver }) else {
                throw ActorSystemError(.shutDown, "the RDMA transport of \(localNode) is not running")
            }
            receiver.receive(message, from: localNode)
            return
        }
        let body = message.wireBytes
        guard body.count <= settings.maximumMessageSize else {
            throw ActorSystemError(
                .transportFailure, "a message of \(body.count) bytes exceeds the RDMA transport's limit of \(settings.maximumMessageSize)")
        }
        let frame = OutboundFrame(body: body)
        while true {
            let queued = try await withCheckedThrowingContinuation { (c: CheckedContinuation<Bool, any Error>) in
                let now = loop.shared.withLock { s -> Result<Bool, any Error>? in
                    if s.shuttingDown || s.exited || s.receiver == nil {
                        return .failure(ActorSystemError(.shutDown, "the RDMA transport of \(localNode) is not running"))
                    }
                    guard var peer = s.peers[node] else {
                        var peer = VerbsSharedState.Peer(phase: .connecting)
                        peer.outbound.append(frame)
                        peer.queuedBytes = frame.totalCount
                        peer.connectWaiters.append(c)
                        s.peers[node] = peer
                        s.commands.append(.connect(node))
                        return nil
                    }
                    switch peer.phase {
                    case .connecting:
                        peer.outbound.append(frame)
                        peer.queuedBytes += frame.totalCount
                        peer.connectWaiters.append(c)
                        s.peers[node] = peer
                        return nil
                    case .established:
                        if peer.queuedBytes > 0 && peer.queuedBytes + frame.totalCount > settings.maximumQueuedBytes {
                            peer.spaceWaiters.append(c)
                            s.peers[node] = peer
                            return nil
                        }
                        peer.outbound.append(frame)
                        peer.queuedBytes += frame.totalCount
                        s.peers[node] = peer
                        return .success(true)
                    }
                }
                loop.wake()
                if let now { c.resume(with: now) }
            }
            if queued { return }
        }
    }

    public func shutdown() async {
        let (started, first, task) = lifecycle.withLock { l in
            defer { l.stopped = true }
            return (l.started, !l.stopped, l.outbox)
        }
        guard first else { return }
        if started {
            loop.shared.withLock { $0.shuttingDown = true }
            loop.post(.shutdown)
            await loop.waitForExit()
            await task?.value
        }
        await bootstrap.shutdown()
    }
}

/// Receives from the bootstrap transport: the connection exchange goes to the progress thread,
/// anything else straight to the transport's receiver.
final class VerbsBootstrapReceiver: TransportReceiver {
    let loop: VerbsProgressLoop
    init(loop: VerbsProgressLoop) { self.loop = loop }

    func receive(_ message: TransportMessage, from node: NodeID) {
        do {
            if let connection = try VerbsConnectionMessage.unwrap(message) {
                loop.post(.connection(node, connection))
                return
            }
        } catch {
            loop.post(.bootstrapSendFailed(node, "it sent an undecodable connection message: \(error)"))
            return
        }
        loop.shared.withLock { $0.receiver }?.receive(message, from: node)
    }

    func peerConnected(_ node: NodeID) { loop.post(.bootstrapConnected(node)) }
    func peerDisconnected(_ node: NodeID, reason: String) { loop.post(.bootstrapLost(node, reason)) }
}

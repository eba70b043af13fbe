import DeepseekActors
import DeepseekCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Work handed to the progress thread by other threads.
enum VerbsCommand {
    case connect(NodeID)
    case connection(NodeID, VerbsConnectionMessage)
    case bootstrapConnected(NodeID)
    case bootstrapLost(NodeID, String)
    case bootstrapSendFailed(NodeID, String)
    case shutdown
}

/// What callers of `send` and `shutdown` share with the progress thread, under one lock.
struct VerbsSharedState {
    enum Phase { case connecting, established }
    struct Peer {
        var phase: Phase
        var outbound: [OutboundFrame] = []
        var queuedBytes = 0
        /// Senders waiting for the connection exchange to finish (their message is queued).
        var connectWaiters: [CheckedContinuation<Bool, any Error>] = []
        /// Senders waiting for queue space (their message is not queued yet).
        var spaceWaiters: [CheckedContinuation<Bool, any Error>] = []
    }

    var peers: [NodeID: Peer] = [:]
    var commands: [VerbsCommand] = []
    var receiver: (any TransportReceiver)?
    var shuttingDown = false
    var exited = false
    var exitWaiters: [CheckedContinuation<Void, Never>] = []
    var counters = VerbsTransportCounters()
}

/// The progress thread: it alone makes verbs calls after start-up. Each pass takes the commands,
/// polls every link's completion queue, moves queued messages onto the links, posts what
/// credits allow, publishes credits, and checks connection deadlines; when a pass finds nothing
/// to do it spins briefly, then sleeps with a growing timeout that a local send cuts short.
///
/// Everything below `// Progress thread only` is touched by that thread alone, which is why the
/// class can be `@unchecked Sendable`.
final class VerbsProgressLoop: @unchecked Sendable {
    let localNode: NodeID
    let api: any VerbsAPI
    let settings: VerbsTransportSettings
    let context: VerbsDeviceContext
    let shared = Mutex(VerbsSharedState())
    let outbox: AsyncStream<(NodeID, VerbsConnectionMessage)>.Continuation
    private let wakePending = Atomic<Bool>(false)
    private let semaphore: UnsafeMutablePointer<sem_t>
    let clock = ContinuousClock()

    // Progress thread only.
    var links: [NodeID: VerbsLink] = [:]
    var random: SeededRandom
    var closedStats = VerbsTransportCounters()
    private var scratch: [VerbsCompletion] = []
    private var drainDeadline: ContinuousClock.Instant?
    private var goodbyeDeadline: ContinuousClock.Instant?

    init(
        localNode: NodeID, api: any VerbsAPI, settings: VerbsTransportSettings, context: VerbsDeviceContext,
        outbox: AsyncStream<(NodeID, VerbsConnectionMessage)>.Continuation
    ) {
        self.localNode = localNode
        self.api = api
        self.settings = settings
        self.context = context
        self.outbox = outbox
        var seed = settings.packetSequenceSeed ?? 0
        if settings.packetSequenceSeed == nil {
            var system = SystemRandomNumberGenerator()
            seed = system.next()
        }
        self.random = SeededRandom(seed: seed)
        semaphore = .allocate(capacity: 1)
        sem_init(semaphore, 0, 0)
        scratch.reserveCapacity(64)
    }

    deinit {
        sem_destroy(semaphore)
        semaphore.deallocate()
    }

    /// Queues a command and wakes the thread.
    func post(_ command: VerbsCommand) {
        shared.withLock { $0.commands.append(command) }
        wake()
    }

    func wake() {
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) { sem_post(semaphore) }
    }

    // MARK: Thread

    func spawn() throws(VerbsError) {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(
            &thread, nil,
            { raw in
                let loop = Unmanaged<VerbsProgressLoop>.fromOpaque(raw!).takeRetainedValue()
                loop.run()
                return nil
            }, context)
        guard rc == 0 else {
            Unmanaged<VerbsProgressLoop>.fromOpaque(context).release()
            throw VerbsError(.callFailed, "could not start the verbs progress thread: \(errnoText(rc))", errno: rc)
        }
        pthread_detach(thread)
    }

    /// Suspends until the thread has torn everything down.
    func waitForExit() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = shared.withLock { s -> Bool in
                if s.exited { return true }
                s.exitWaiters.append(c)
                return false
            }
            if done { c.resume() }
        }
    }

    private func run() {
        var idlePasses = 0
        var sleep = Duration.microseconds(1)
        while true {
            wakePending.store(false, ordering: .releasing)
            var busy = false
            let (commands, receiver) = shared.withLock { s in
                defer { s.commands.removeAll(keepingCapacity: true) }
                return (s.commands, s.receiver)
            }
            for command in commands {
                busy = true
                handle(command, receiver: receiver)
            }
            busy = pass(receiver: receiver) || busy
            if let stop = shutdownStep(receiver: receiver), stop { break }
            if busy {
                idlePasses = 0
                sleep = .microseconds(1)
                continue
            }
            idlePasses += 1
            if idlePasses < settings.spinPolls { continue }
            idle(for: sleep)
            sleep = min(sleep * 2, settings.maximumIdleSleep)
        }
        finish()
    }

    /// One pass over the links; returns whether anything happened.
    private func pass(receiver: (any TransportReceiver)?) -> Bool {
        var busy = false
        let now = clock.now
        let established = takeOutbound()
        for (peer, link) in links {
            if link.isEstablished {
                busy = link.poll(scratch: &scratch) { receiver?.receive($0, from: peer) } || busy
                if let frames = established[peer] { link.queue.append(contentsOf: frames) }
                busy = link.pumpSends() || busy
                busy = link.flushCredits() || busy
                if let failure = link.failure {
                    outbox.yield((peer, .reject(reason: "the RDMA link failed: \(failure)")))
                    close(peer, reason: "the RDMA link to \(peer) failed: \(failure)", failed: true, receiver: receiver)
                    busy = true
                } else if link.goodbyeReceived {
                    close(peer, reason: "\(peer) shut down", failed: false, receiver: receiver)
                    busy = true
                }
            } else if now >= link.deadline {
                run(link.machine.timedOut(), for: link, receiver: receiver)
                busy = true
            }
        }
        // Idle passes change nothing worth publishing; skipping the lock keeps senders unhindered.
        if busy { settle() }
        return busy
    }

    /// Takes the messages queued for established peers.
    private func takeOutbound() -> [NodeID: [OutboundFrame]] {
        shared.withLock { s in
            var taken: [NodeID: [OutboundFrame]] = [:]
            for (node, peer) in s.peers where peer.phase == .established && !peer.outbound.isEmpty {
                taken[node] = peer.outbound
                s.peers[node]!.outbound.removeAll(keepingCapacity: true)
            }
            return taken
        }
    }

    /// Publishes counters and releases senders waiting for queue space.
    private func settle() {
        var resumed: [CheckedContinuation<Bool, any Error>] = []
        var posted: [(NodeID, Int)] = []
        for (peer, link) in links where link.bytesPosted > 0 {
            posted.append((peer, link.bytesPosted))
            link.bytesPosted = 0
        }
        var totals = closedStats
        for link in links.values { totals.add(link.stats) }
        shared.withLock { s in
            s.counters = totals
            for (node, bytes) in posted {
                guard var peer = s.peers[node] else { continue }
                peer.queuedBytes = max(0, peer.queuedBytes - bytes)
                if peer.queuedBytes < settings.maximumQueuedBytes {
                    resumed += peer.spaceWaiters
                    peer.spaceWaiters.removeAll()
                }
                s.peers[node] = peer
            }
        }
        for c in resumed { c.resume(returning: false) }
    }

    private func idle(for duration: Duration) {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nanoseconds = Int(duration.components.seconds) * 1_000_000_000 + Int(duration.components.attoseconds / 1_000_000_000)
        var deadline = now
        deadline.tv_nsec += nanoseconds
        deadline.tv_sec += deadline.tv_nsec / 1_000_000_000
        deadline.tv_nsec %= 1_000_000_000
        _ = sem_timedwait(semaphore, &deadline)
    }

    // MARK: Shutdown

    /// Advances an orderly shutdown; returns true when the thread may stop, nil when not shutting down.
    private func shutdownStep(receiver: (any TransportReceiver)?) -> Bool? {
        guard let drainDeadline else { return nil }
        let now = clock.now
        if goodbyeDeadline == nil {
            let queued = shared.withLock { s in s.peers.values.contains { !$0.outbound.isEmpty } }
            let drained = !queued && links.values.allSatisfy { !$0.isEstablished || $0.isDrained }
            guard drained || now >= drainDeadline else { return false }
            for link in links.values where link.isEstablished { _ = link.postGoodbye() }
            goodbyeDeadline = now + .milliseconds(200)
            return false
        }
        let acknowledged = links.values.allSatisfy { !$0.isEstablished || $0.outstandingSends == 0 || $0.failure != nil }
        return acknowledged || now >= goodbyeDeadline!
    }

    private func beginShutdown() {
        guard drainDeadline == nil else { return }
        drainDeadline = clock.now + settings.shutdownDrainTimeout
        // Links still being set up will not finish: close them now.
        for (peer, link) in links where !link.isEstablished {
            close(peer, reason: "this transport is shutting down", failed: false, receiver: nil)
        }
    }

    private func finish() {
        for (peer, link) in links {
            link.tearDown()
            closedStats.add(link.stats)
            closedStats.linksClosed += 1
            links[peer] = nil
        }
        try? api.deallocateProtectionDomain(context.domain)
        try? api.closeDevice(context.device)
        outbox.finish()
        let error = ActorSystemError(.shutDown, "the RDMA transport of \(localNode) shut down")
        let (waiters, exitWaiters) = shared.withLock { s in
            s.exited = true
            s.counters = closedStats
            var waiters: [CheckedContinuation<Bool, any Error>] = []
            for peer in s.peers.values { waiters += peer.connectWaiters + peer.spaceWaiters }
            s.peers.removeAll()
            defer { s.exitWaiters.removeAll() }
            return (waiters, s.exitWaiters)
        }
        for w in waiters { w.resume(throwing: error) }
        for w in exitWaiters { w.resume() }
    }

    // MARK: Commands

    private func handle(_ command: VerbsCommand, receiver: (any TransportReceiver)?) {
        switch command {
        case .connect(let peer):
            guard drainDeadline == nil else { return }
            let link = links[peer] ?? makeLink(peer)
            run(link.machine.connect(), for: link, receiver: receiver)
        case .bootstrapConnected(let peer):
            guard settings.connectEagerly, localNode < peer, links[peer] == nil, drainDeadline == nil else { return }
            let fresh = shared.withLock { s -> Bool in
                guard s.peers[peer] == nil else { return false }
                s.peers[peer] = VerbsSharedState.Peer(phase: .connecting)
                return true
            }
            // A peer already known here has its connect command queued or its link made.
            guard fresh else { return }
            let link = makeLink(peer)
            run(link.machine.connect(), for: link, receiver: receiver)
        case .connection(let peer, let message):
            guard drainDeadline == nil else { return }
            if links[peer] == nil {
                // Only a request opens a link; anything else belongs to an exchange that is over.
                guard case .request = message else { return }
                shared.withLock { s in
                    if s.peers[peer] == nil { s.peers[peer] = VerbsSharedState.Peer(phase: .connecting) }
                }
            }
            let link = links[peer] ?? makeLink(peer)
            run(link.machine.receive(message, from: peer), for: link, receiver: receiver, trigger: message)
        case .bootstrapLost(let peer, let reason), .bootstrapSendFailed(let peer, let reason):
            if let link = links[peer] {
                run(link.machine.peerGone(reason), for: link, receiver: receiver)
            } else {
                failWaiters(peer, reason: "\(peer) is gone: \(reason)")
            }
        case .shutdown:
            beginShutdown()
        }
    }

    func makeLink(_ peer: NodeID) -> VerbsLink {
        let link = VerbsLink(
            peer: peer, machine: VerbsConnectionStateMachine(localNode: localNode, peer: peer), api: api, settings: settings, now: clock.now)
        links[peer] = link
        return link
    }
}

extension VerbsTransportCounters {
    mutating func add(_ other: VerbsTransportCounters) {
        messagesSent += other.messagesSent
        bytesSent += other.bytesSent
        messagesReceived += other.messagesReceived
        sendRequests += other.sendRequests
        landingWrites += other.landingWrites
        creditWrites += other.creditWrites
        linksEstablished += other.linksEstablished
        linksClosed += other.linksClosed
        linkFailures += other.linkFailures
    }
}

internal import CDeepseekURing
import DeepseekActors
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What an operation in flight was for, found again from its completion's tag.
enum PendingOperation {
    case wake
    case accept
    case connect(UInt64)
    case read(UInt64)
    case send(UInt64, SendJob)
    /// A zero-copy send whose data is out but whose buffer the kernel still holds.
    case zeroCopyRelease(SendJob)
    case shutdown(UInt64)
    case close(UInt64)
    case closeListener
    case cancel
}

enum TimerAction {
    case handshakeDeadline(UInt64)
    case reconnect(NodeID)
    case rearmAccept
    case rearmWake
    case drainCheck
}

/// The ring thread: one io_uring, one thread, everything socket-related happens here.
///
/// Other threads talk to it only through `SendQueues` (commands, frames and task jobs under a
/// lock, an eventfd read kept on the ring to wake it). Each pass runs the commands and jobs, fires
/// due timers, submits everything prepared with one `io_uring_enter`, then handles the
/// completions: many messages in flight cost few system calls and few cross-thread wake-ups.
/// While the thread is awake, posting costs no eventfd write. The one exception to "everything
/// here": a sender that finds a connection idle writes a small frame to its socket itself
/// (`SendQueues.enqueue`), under a lease that keeps the ring from sending or closing meanwhile.
///
/// All stored state below `// Ring thread only` is touched by the ring thread alone, which is
/// why the class can be `@unchecked Sendable`.
final class RingLoop: @unchecked Sendable {
    struct Lifecycle {
        var started: Result<Void, URingTransportError>?
        var startWaiter: CheckedContinuation<Void, any Error>?
        var exited = false
        var exitWaiters: [CheckedContinuation<Void, Never>] = []
    }

    let settings: URingTransportSettings
    let sys: any URingSyscalls
    let queues: SendQueues
    let listenFD: Int32
    let listenIsUnix: Bool
    let unixPathToRemove: String?
    let published = Mutex(URingTransportCounters())
    let lifecycle = Mutex(Lifecycle())
    let clock = ContinuousClock()
    /// Frames of at least this many bytes travel in their own buffer instead of the batch buffer.
    let largeFrameBytes: Int

    // Ring thread only (and `receiver`, set before the thread starts).
    var receiver: (any TransportReceiver)?
    var counters = URingTransportCounters()
    var connections: [UInt64: Connection] = [:]
    var peers: [NodeID: PeerLink] = [:]
    var operations: [UInt64: PendingOperation] = [:]
    var nextTag: UInt64 = 1
    var timers: [(id: UInt64, deadline: ContinuousClock.Instant, action: TimerAction)] = []
    let pool: ReceiveBufferPool
    /// Runs tasks on this thread (calls that arrive, with `IncomingCallExecution.transportThread`).
    let executor: RingExecutor
    let wakeBuffer = UnsafeMutableRawPointer.allocate(byteCount: 8, alignment: 8)
    var acceptTag: UInt64?
    var listenerOpen: Bool
    var listenerClosing = false
    var draining: (deadline: ContinuousClock.Instant, hard: ContinuousClock.Instant)?
    var zeroCopyEnabled: Bool
    private var completions: [URingCompletion] = []
    /// Commands and jobs taken from `queues`, swapped with its arrays each pass (no allocation).
    private var commandBuffer: [LoopCommand] = []
    private var jobBuffer: [UnownedJob] = []
    private var tornDown = false

    init(settings: URingTransportSettings, syscalls: any URingSyscalls, queues: SendQueues, listenFD: Int32, listenIsUnix: Bool) {
        self.settings = settings
        self.sys = syscalls
        self.queues = queues
        self.listenFD = listenFD
        self.listenIsUnix = listenIsUnix
        self.listenerOpen = listenFD >= 0
        if case .unix(let path)? = settings.listenAddress { unixPathToRemove = path } else { unixPathToRemove = nil }
        self.pool = ReceiveBufferPool(bufferSize: settings.receiveBufferSize, count: settings.receiveBufferCount)
        self.zeroCopyEnabled = settings.zeroCopyThreshold != nil && syscalls.supportsZeroCopySend
        self.largeFrameBytes = min(settings.zeroCopyThreshold ?? Int.max, settings.sendBatchSize / 2)
        self.executor = RingExecutor(queues: queues)
    }

    deinit {
        // A transport dropped without ever starting still owns its descriptors.
        if !tornDown {
            if listenerOpen { sys.closeNow(listenFD) }
            removeUnixSocket()
        }
        wakeBuffer.deallocate()
    }

    // MARK: Thread

    /// Starts the ring thread; returns its handle for joining.
    func spawn() throws(URingTransportError) -> pthread_t {
        let context = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let loop = Unmanaged<RingLoop>.fromOpaque(raw!).takeRetainedValue()
            loop.run()
            return nil
        }, context)
        guard rc == 0 else {
            Unmanaged<RingLoop>.fromOpaque(context).release()
            throw URingTransportError(.setupFailed, "could not start the ring thread: \(errnoText(-rc))")
        }
        return thread
    }

    /// Suspends until the ring thread has set up its ring (or failed to).
    func waitForStart() async throws {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
            let result: Result<Void, URingTransportError>? = lifecycle.withLock { l in
                if l.started == nil { l.startWaiter = c }
                return l.started
            }
            if let result { c.resume(with: result.mapError { $0 }) }
        }
    }

    /// Suspends until the ring thread has finished.
    func waitForExit() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let done = lifecycle.withLock { l in
                if !l.exited { l.exitWaiters.append(c) }
                return l.exited
            }
            if done { c.resume() }
        }
    }

    private func reportStart(_ result: Result<Void, URingTransportError>) {
        let waiter = lifecycle.withLock { l in
            l.started = result
            defer { l.startWaiter = nil }
            return l.startWaiter
        }
        waiter?.resume(with: result.mapError { $0 })
    }

    private func run() {
        cdskur_name_thread("deepseek-uring")
        queues.ringThread.store(UInt(pthread_self()), ordering: .relaxed)
        let rc = sys.setUp(entries: settings.ringEntries)
        guard rc == 0 else {
            reportStart(.failure(URingTransportError(.setupFailed, "could not create the io_uring: \(errnoText(rc))")))
            tearDown()
            return
        }
        let registered = pool.register(with: sys)
        if registered < 0 {
            log(.info, "receive buffers not registered (\(errnoText(registered))); reads use plain RECV")
        }
        armWake()
        if listenerOpen { armAccept() }
        reportStart(.success(()))
        var failuresInARow = 0
        while true {
            runCommandsAndJobs()
            fireTimers()
            if draining != nil && drainStep() { break }
            let rc = sys.submitAndWait(timeoutNanoseconds: nextTimeout())
            queues.markAwake()
            if rc > 0 {
                counters.submitCalls += 1
                counters.submittedEntries += Int(rc)
            }
            if rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY {
                failuresInARow += 1
                log(.error, "io_uring_enter failed: \(errnoText(rc))")
                if failuresInARow >= 100 {
                    log(.error, "the ring keeps failing; the transport stops")
                    break
                }
            } else {
                failuresInARow = 0
            }
            handleCompletions()
        }
        // Hand the last prepared operations (closes, mostly) to the kernel before the ring goes.
        _ = sys.submitAndWait(timeoutNanoseconds: 0)
        handleCompletions()
        tearDown()
        // Tasks that were to run here run on the global executor from now on.
        for job in queues.closeExecutor() { executor.forward(job) }
    }

    private func handleCompletions() {
        completions.removeAll(keepingCapacity: true)
        sys.reap(into: &completions)
        counters.completions += completions.count
        for c in completions { handle(c) }
        publish()
    }

    private func tearDown() {
        // The ring goes first: after it the kernel no longer touches any buffer of ours.
        sys.tearDown()
        for conn in connections.values {
            if !conn.closeSubmitted { sys.closeNow(conn.fd) }
            if let lease = conn.readLease { pool.release(lease) }
        }
        connections = [:]
        operations = [:]
        if listenerOpen { sys.closeNow(listenFD) }
        listenerOpen = false
        removeUnixSocket()
        tornDown = true
        publish()
        let waiters = lifecycle.withLock { l in
            l.exited = true
            if l.started == nil { l.started = .failure(URingTransportError(.setupFailed, "the ring thread stopped")) }
            defer { l.exitWaiters = [] }
            return l.exitWaiters
        }
        for w in waiters { w.resume() }
    }

    private func removeUnixSocket() {
        if let path = unixPathToRemove { _ = cdskur_unlink_socket(path) }
    }

    func publish() { published.withLock { $0 = counters } }

    func log(_ level: URingLogLevel, _ line: String) { settings.log(level, "\(settings.localNode): \(line)") }

    // MARK: Operations and timers

    /// Queues an operation and remembers what it was for. Returns its tag, or nil if the
    /// submission queue could not take it.
    @discardableResult
    func submit(_ operation: URingOperation, _ purpose: PendingOperation, for conn: Connection? = nil) -> UInt64? {
        let tag = nextTag
        nextTag += 1
        let rc = sys.prepare(operation, userData: tag)
        guard rc == 0 else {
            log(.error, "could not queue an io_uring operation: \(errnoText(rc))")
            return nil
        }
        operations[tag] = purpose
        conn?.pending.insert(tag)
        return tag
    }

    func schedule(after delay: Duration, _ action: TimerAction) -> UInt64 {
        let id = nextTag
        nextTag += 1
        timers.append((id, clock.now + delay, action))
        return id
    }

    func cancelTimer(_ id: UInt64?) {
        guard let id else { return }
        timers.removeAll { $0.id == id }
    }

    private func nextTimeout() -> Int64? {
        guard let soonest = timers.map(\.deadline).min() else { return nil }
        let (seconds, attoseconds) = max(.zero, soonest - clock.now).components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000 + 1
    }

    private func fireTimers() {
        let now = clock.now
        guard timers.contains(where: { $0.deadline <= now }) else { return }
        let due = timers.filter { $0.deadline <= now }
        timers.removeAll { $0.deadline <= now }
        for t in due { fire(t.action) }
    }

    /// Runs what other threads asked for and the tasks scheduled on this thread, until neither
    /// has anything left; then the thread may sleep (a later poster wakes it).
    private func runCommandsAndJobs() {
        while true {
            commandBuffer.removeAll(keepingCapacity: true)
            jobBuffer.removeAll(keepingCapacity: true)
            guard queues.takeWork(commands: &commandBuffer, jobs: &jobBuffer) else { return }
            let commands = commandBuffer
            let jobs = jobBuffer
            for c in commands {
                switch c {
                case .flush(let peer): flush(peer)
                case .connect(let peer):
                    let link = peers[peer] ?? PeerLink()
                    if draining == nil && link.outbound == nil && link.reconnectTimer == nil { startConnect(peer) }
                case .directReleased(let id):
                    if let conn = connections[id], let tag = conn.directWriterTag {
                        conn.directWriterTag = nil
                        conn.pending.remove(tag)
                        if conn.closing { finishClosing(conn) }
                    }
                case .shutdown: beginShutdown()
                }
            }
            for job in jobs { job.runSynchronously(on: executor.asUnownedTaskExecutor()) }
        }
    }

    private func handle(_ c: URingCompletion) {
        guard let purpose = operations.removeValue(forKey: c.userData) else { return }
        if c.isNotification {
            // The kernel is done with a zero-copy buffer; dropping the job frees it.
            counters.zeroCopyNotifications += 1
            return
        }
        switch purpose {
        case .wake:
            if c.result < 0 && c.result != -EINTR && c.result != -EAGAIN && c.result != -ECANCELED {
                // Do not spin on a broken eventfd: try again shortly (commands still run on every pass).
                log(.error, "the wake-up read failed: \(errnoText(c.result))")
                _ = schedule(after: .milliseconds(10), .rearmWake)
            } else {
                armWake()
            }
        case .accept: accepted(c.result)
        case .closeListener: listenerOpen = false
        case .cancel, .zeroCopyRelease: break
        case .connect(let id), .read(let id), .send(let id, _), .shutdown(let id), .close(let id):
            if case .send(_, let job) = purpose, c.hasMore { operations[c.userData] = .zeroCopyRelease(job) }
            guard let conn = connections[id] else { return }
            conn.pending.remove(c.userData)
            switch purpose {
            case .connect: connected(conn, c.result)
            case .read: readCompleted(conn, c.result)
            case .send(_, let job): sendCompleted(conn, job, c.result)
            case .close: released(conn)
            default: break
            }
            if conn.closing { finishClosing(conn) }
        }
    }

    private func fire(_ action: TimerAction) {
        switch action {
        case .handshakeDeadline(let id):
            guard let conn = connections[id], !conn.closing else { return }
            conn.handshakeTimer = nil
            if let why = conn.closeAfterFlush {
                close(conn, reason: why, level: .warning)
            } else if !conn.isEstablished {
                counters.handshakeFailures += 1
                let what = conn.isConnected ? "handshake" : "connect"
                close(conn, reason: "\(what) did not finish within \(settings.handshakeTimeout)", level: .warning)
            }
        case .reconnect(let peer):
            peers[peer]?.reconnectTimer = nil
            if draining == nil && peers[peer]?.outbound == nil { startConnect(peer) }
        case .rearmAccept:
            if draining == nil && listenerOpen && acceptTag == nil { armAccept() }
        case .rearmWake:
            armWake()
        case .drainCheck:
            break  // drainStep runs on every pass; the timer only makes sure a pass happens.
        }
    }
}

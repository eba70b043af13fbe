internal import CDeepseekURing
import DeepseekActors
import DeepseekCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The state the senders and the ring thread share: per-peer bounded queues, the command
/// mailbox and the wake-up protocol. Everything else belongs to the ring thread alone.
final class SendQueues: Sendable {
    struct Outbox {
        var frames: [OutboundFrame] = []
        var head = 0
        var bytes = 0
        /// True while the ring thread will look at this queue again without being told: a
        /// flush command is pending, a send is in flight, or a connection is being made.
        var loopWillCheck = false
        var waiters: [CheckedContinuation<Void, any Error>] = []
        /// The socket of the established connection to this peer while the ring thread has
        /// nothing in flight on it: a sender finding the queue empty writes a small frame to it
        /// itself, sparing the ring thread a wake-up (see `enqueue`).
        var directFD: Int32?
        var directConnection: UInt64 = 0
        /// A sender is writing to `directFD` right now; the ring neither sends nor closes it meanwhile.
        var directBusy = false
        /// The ring thread looked while a sender was writing: the sender posts a flush when done.
        var ringWaiting = false
        /// A connection waiting for the sender to finish before it closes.
        var releaseOnDone: UInt64?
        var count: Int { frames.count - head }
    }

    struct State: ~Copyable {
        var outboxes: [NodeID: Outbox] = [:]
        var addresses: [NodeID: SocketAddress] = [:]
        var commands: [LoopCommand] = []
        /// Jobs for the ring thread's task executor.
        var jobs: [UnownedJob] = []
        var isClosed = false
        /// The ring thread has exited: jobs go to the global executor.
        var executorClosed = false
        var established: Set<NodeID> = []
        var maximumQueued = 0
        /// Frames and bytes senders wrote themselves.
        var directFrames = 0
        var directBytes = 0

        /// Removes and returns `node`'s outbox (a fresh one if it has none); put it back after
        /// changing it. Mutating a copy while the dictionary still holds the original would copy
        /// its frame array on every append and every `removeAll(keepingCapacity:)`.
        mutating func takeOutbox(_ node: NodeID) -> Outbox {
            outboxes.removeValue(forKey: node) ?? Outbox()
        }
    }

    let state = Mutex(State())
    let localNode: NodeID
    let capacity: Int
    let byteLimit: Int
    /// The eventfd the ring thread keeps a read on.
    let wakeFD: Int32

    /// Set by the ring thread when it found no work and may sleep: the next poster wakes it.
    let ringMaySleep = Atomic<Bool>(true)
    /// The ring thread (`pthread_self()` as an integer), set when it starts. A message sent from
    /// the ring thread itself (a reply of a handler running there) is never written directly:
    /// the ring submits it, batched, before it next waits.
    let ringThread = Atomic<UInt>(0)
    /// Writes of senders that bypass the ring (`URingSyscalls.sendNow` is safe from any thread).
    nonisolated(unsafe) let syscalls: any URingSyscalls
    let directWrites: Bool

    init(
        localNode: NodeID, capacity: Int, byteLimit: Int, addresses: [NodeID: SocketAddress], wakeFD: Int32,
        syscalls: any URingSyscalls, directWrites: Bool
    ) {
        self.localNode = localNode
        self.capacity = capacity
        self.byteLimit = byteLimit
        self.wakeFD = wakeFD
        self.syscalls = syscalls
        self.directWrites = directWrites
        state.withLock { $0.addresses = addresses }
    }

    private func hasRoom(_ box: Outbox, for size: Int) -> Bool {
        box.count < capacity && (box.bytes == 0 || box.bytes + size <= byteLimit)
    }

    /// Queues `frame` for `node`, suspending while the queue is full.
    ///
    /// A small frame for an idle connection with nothing queued, while the ring thread sleeps, is
    /// written by the calling thread itself with one non-blocking `sendmsg`: a lone call then
    /// costs no wake-up of the ring thread. Whatever that write leaves over is queued first, for
    /// the ring to finish.
    func enqueue(_ frame: OutboundFrame, to node: NodeID) async throws {
        enum Decision { case queued, posted, wait, fail(ActorSystemError), direct(Int32) }
        let size = frame.byteCount
        let mayWriteDirectly: Bool
        if case .small = frame, directWrites {
            mayWriteDirectly = ringThread.load(ordering: .relaxed) != UInt(pthread_self())
        } else {
            mayWriteDirectly = false
        }
        while true {
            let decision: Decision = state.withLock { s in
                if s.isClosed { return .fail(ActorSystemError(.shutDown, "the io_uring transport of \(localNode) is shut down")) }
                guard node != localNode, s.addresses[node] != nil || s.established.contains(node) else {
                    return .fail(ActorSystemError(.nodeUnreachable, "no address is known for \(node); add it to the transport's peers"))
                }
                // Taken out of the dictionary while it changes, so its arrays are uniquely
                // referenced and grow in place (a copy left in the dictionary would make every
                // append copy the queue).
                var box = s.takeOutbox(node)
                defer { s.outboxes[node] = box }
                // Only while the ring thread sleeps: an awake one takes the frame in its current
                // pass at no cost and batches it with others (many callers in flight).
                if mayWriteDirectly, ringMaySleep.load(ordering: .sequentiallyConsistent), box.count == 0, !box.directBusy,
                    let fd = box.directFD
                {
                    box.directBusy = true
                    return .direct(fd)
                }
                guard hasRoom(box, for: size) else { return .wait }
                box.frames.append(frame)
                box.bytes += size
                s.maximumQueued = max(s.maximumQueued, box.count)
                if !box.loopWillCheck {
                    box.loopWillCheck = true
                    s.commands.append(.flush(node))
                    return .posted
                }
                return .queued
            }
            switch decision {
            case .queued:
                return
            case .posted:
                wakeIfSleeping()
                return
            case .direct(let fd):
                writeDirectly(frame, fd: fd, to: node)
                return
            case .fail(let error):
                throw error
            case .wait:
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                    let ready: Result<Void, any Error>? = state.withLock { s in
                        if s.isClosed { return .failure(ActorSystemError(.shutDown, "the transport of \(localNode) shut down")) }
                        if hasRoom(s.outboxes[node, default: Outbox()], for: size) { return .success(()) }
                        s.outboxes[node, default: Outbox()].waiters.append(c)
                        return nil
                    }
                    if let ready { c.resume(with: ready) }
                }
            }
        }
    }

    /// Writes a small frame on the caller's thread; queues what did not go out.
    private func writeDirectly(_ frame: OutboundFrame, fd: Int32, to node: NodeID) {
        guard case .small(let kind, let body) = frame else { return }
        var header = (UInt32(body.count).littleEndian, kind.rawValue)
        let total = Frame.headerSize + body.count
        let written = withUnsafeBytes(of: &header) { h in
            body.withUnsafeBytes { b in
                syscalls.sendNow(fd: fd, header: UnsafeRawBufferPointer(rebasing: h[..<Frame.headerSize]), body: b)
            }
        }
        let posted = state.withLock { s -> Bool in
            var posted = false
            var box = s.takeOutbox(node)
            box.directBusy = false
            var needsFlush = box.ringWaiting || box.count > 0
            box.ringWaiting = false
            if written == total {
                s.directFrames += 1
                s.directBytes += total
            } else {
                // The socket buffer is full (or the connection broke): the ring sends the rest
                // (on a new connection, if need be: nothing of a refused write went out).
                var rest = [UInt8]()
                rest.reserveCapacity(total)
                Frame.appendHeader(kind: kind, bodyCount: body.count, to: &rest)
                rest.append(contentsOf: body)
                let sent = max(0, written)
                if sent > 0 { rest.removeFirst(sent) }
                box.frames.insert(sent > 0 ? .raw(rest) : frame, at: box.head)
                box.bytes += total - sent
                box.directFD = nil
                needsFlush = true
            }
            if needsFlush && !box.loopWillCheck {
                box.loopWillCheck = true
                s.commands.append(.flush(node))
                posted = true
            }
            if let id = box.releaseOnDone {
                box.releaseOnDone = nil
                s.commands.append(.directReleased(id))
                posted = true
            }
            s.outboxes[node] = box
            return posted
        }
        if posted { wakeIfSleeping() }
    }

    /// Stops senders from writing to connection `id` of `peer` (it is closing). Returns true when
    /// one is writing now: then the ring waits for `.directReleased(id)` before closing the fd.
    func withdrawDirect(_ peer: NodeID, connection id: UInt64) -> Bool {
        state.withLock { s in
            guard var box = s.outboxes[peer], box.directFD != nil || box.directBusy else { return false }
            var busy = false
            if box.directConnection == id {
                box.directFD = nil
                if box.directBusy {
                    box.releaseOnDone = id
                    busy = true
                }
            }
            s.outboxes[peer] = box
            return busy
        }
    }

    /// Hands a job to the ring thread's executor. Returns false once the ring thread is gone.
    func enqueueJob(_ job: UnownedJob) -> Bool {
        let accepted = state.withLock { s in
            guard !s.executorClosed else { return false }
            s.jobs.append(job)
            return true
        }
        if accepted { wakeIfSleeping() }
        return accepted
    }

    /// Wakes the ring thread if it may be asleep: one eventfd write, made outside the lock. Only
    /// a sleeping ring thread costs a write; a busy one finds the work on its next pass.
    ///
    /// Lost wake-ups cannot happen: a poster appends under the lock and then clears
    /// `ringMaySleep`; the ring thread sets it and then looks for work under the lock (see
    /// `takeWork`), so either the ring sees the work or the poster sees the flag set.
    private func wakeIfSleeping() {
        if ringMaySleep.exchange(false, ordering: .sequentiallyConsistent) { _ = cdskur_eventfd_signal(wakeFD) }
    }

    /// Posts a command from any thread. After `close()` only `.shutdown` is accepted.
    func post(_ command: LoopCommand) {
        let posted = state.withLock { s in
            if case .shutdown = command {} else if s.isClosed { return false }
            s.commands.append(command)
            return true
        }
        if posted { wakeIfSleeping() }
    }

    deinit {
        // Closed only here, when no thread can post any more: a poster writes the eventfd outside
        // the lock, so closing it earlier could let a late write hit a reused descriptor.
        _ = cdskur_close(wakeFD)
    }

    /// Swaps the pending commands and jobs into the caller's (empty) arrays: the arrays trade
    /// places instead of being copied, so neither side allocates once both have grown.
    private func take(_ s: inout State, _ commands: inout [LoopCommand], _ jobs: inout [UnownedJob]) -> Bool {
        if s.commands.isEmpty && s.jobs.isEmpty { return false }
        swap(&s.commands, &commands)
        swap(&s.jobs, &jobs)
        return true
    }

    /// The ring thread takes the pending commands and jobs into `commands` and `jobs` (which it
    /// passes in empty). With none pending it declares that it may sleep — and then looks once
    /// more, so nothing posted meanwhile waits for a wake-up. Returns whether it took any.
    func takeWork(commands: inout [LoopCommand], jobs: inout [UnownedJob]) -> Bool {
        if state.withLock({ take(&$0, &commands, &jobs) }) { return true }
        ringMaySleep.store(true, ordering: .sequentiallyConsistent)
        let late = state.withLock { take(&$0, &commands, &jobs) }
        if late { ringMaySleep.store(false, ordering: .sequentiallyConsistent) }
        return late
    }

    /// The ring thread is awake and will look for commands and jobs before it sleeps again:
    /// posters need not write the eventfd meanwhile.
    func markAwake() {
        ringMaySleep.store(false, ordering: .sequentiallyConsistent)
    }

    /// The ring thread is exiting: later jobs go to the global executor. Returns the jobs left.
    func closeExecutor() -> [UnownedJob] {
        state.withLock { s in
            s.executorClosed = true
            defer { s.jobs = [] }
            return s.jobs
        }
    }

    /// Takes the next frames for `peer`: a run of small frames up to `batchBytes` (ending with at
    /// most one segmented message's head), or one large frame. Senders waiting for room are
    /// returned to be resumed outside the lock. With nothing to take, the connection `idle` (its
    /// fd and id) is offered to senders for direct writes.
    func takeBatch(for peer: NodeID, batchBytes: Int, idle: (fd: Int32, connection: UInt64)? = nil)
        -> (frames: [OutboundFrame], resume: [CheckedContinuation<Void, any Error>])
    {
        state.withLock { s in
            var box = s.takeOutbox(peer)
            if box.directBusy {
                // A sender is writing; it posts a flush when done.
                box.ringWaiting = true
                box.loopWillCheck = false
                s.outboxes[peer] = box
                return ([], [])
            }
            var taken: [OutboundFrame] = []
            var bytes = 0
            scan: while box.head < box.frames.count {
                let f = box.frames[box.head]
                switch f {
                case .large:
                    if taken.isEmpty { taken.append(f); bytes += f.byteCount; box.head += 1 }
                    break scan
                case .segmented(let head, _):
                    if !taken.isEmpty && bytes + head.count > batchBytes { break scan }
                    taken.append(f)
                    bytes += f.byteCount
                    box.head += 1
                    break scan  // its segments follow the batch
                case .small, .raw:
                    if !taken.isEmpty && bytes + f.byteCount > batchBytes { break scan }
                    taken.append(f)
                    bytes += f.byteCount
                    box.head += 1
                }
            }
            box.bytes -= bytes
            if box.head == box.frames.count {
                box.frames.removeAll(keepingCapacity: true)
                box.head = 0
            } else if box.head > 64 && box.head * 2 > box.frames.count {
                box.frames.removeFirst(box.head)
                box.head = 0
            }
            if taken.isEmpty {
                box.loopWillCheck = false
                if let idle {
                    box.directFD = idle.fd
                    box.directConnection = idle.connection
                }
            } else {
                box.directFD = nil
            }
            let resume = taken.isEmpty ? [] : box.waiters
            if !taken.isEmpty { box.waiters.removeAll() }
            s.outboxes[peer] = box
            return (taken, resume)
        }
    }

    /// Whether frames are waiting for `peer`.
    func hasQueued(for peer: NodeID) -> Bool { state.withLock { ($0.outboxes[peer]?.count ?? 0) > 0 } }

    /// Frames waiting for `peer` (for tests and statistics).
    func queuedCount(for peer: NodeID) -> Int { state.withLock { $0.outboxes[peer]?.count ?? 0 } }

    /// Drops what is queued for `peer` and fails its waiting senders. Returns the frames dropped.
    func dropAll(for peer: NodeID, reason: String) -> Int {
        let (dropped, waiters) = state.withLock { s -> (Int, [CheckedContinuation<Void, any Error>]) in
            guard var box = s.outboxes[peer] else { return (0, []) }
            let result = (box.count, box.waiters)
            // A sender still writing keeps its bookkeeping; everything queued goes.
            box.frames = []
            box.head = 0
            box.bytes = 0
            box.waiters = []
            box.loopWillCheck = false
            box.directFD = nil
            s.outboxes[peer] = box
            return result
        }
        for w in waiters { w.resume(throwing: ActorSystemError(.nodeUnreachable, "\(peer) is unreachable: \(reason)")) }
        return dropped
    }

    /// Refuses further sends and fails every waiting sender. Returns false if already closed.
    func close() -> Bool {
        let waiters: [CheckedContinuation<Void, any Error>]? = state.withLock { s in
            guard !s.isClosed else { return nil }
            s.isClosed = true
            var all: [CheckedContinuation<Void, any Error>] = []
            for key in Array(s.outboxes.keys) {
                all += s.outboxes[key]!.waiters
                s.outboxes[key]!.waiters.removeAll()
                s.outboxes[key]!.directFD = nil
            }
            return all
        }
        guard let waiters else { return false }
        for w in waiters { w.resume(throwing: ActorSystemError(.shutDown, "the transport of \(localNode) shut down")) }
        return true
    }

    func address(of peer: NodeID) -> SocketAddress? { state.withLock { $0.addresses[peer] } }
    func setAddress(_ address: SocketAddress?, for peer: NodeID) { state.withLock { $0.addresses[peer] = address } }
    func setEstablished(_ peer: NodeID, _ up: Bool) {
        state.withLock { s in if up { s.established.insert(peer) } else { s.established.remove(peer) } }
    }
}

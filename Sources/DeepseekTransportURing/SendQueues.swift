internal import CDeepseekURing
import DeepseekActors
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A large frame in memory of its own, so the ring can send from it (zero-copy too) while the
/// caller moves on. Freed when the last operation or notification holding it is done.
final class LargeFrameBuffer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    init(kind: FrameKind, body: [UInt8]) {
        count = Frame.headerSize + body.count
        base = .allocate(byteCount: count, alignment: 64)
        var header: [UInt8] = []
        Frame.appendHeader(kind: kind, bodyCount: body.count, to: &header)
        header.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: Frame.headerSize) }
        body.withUnsafeBytes { raw in
            if let src = raw.baseAddress { (base + Frame.headerSize).copyMemory(from: src, byteCount: raw.count) }
        }
    }

    deinit { base.deallocate() }
}

/// A frame waiting to be written: small ones are copied into a connection's batch buffer by the
/// ring thread; large ones are sent from their own buffer.
enum OutboundFrame: Sendable {
    case small(kind: FrameKind, body: [UInt8])
    case large(LargeFrameBuffer)

    var byteCount: Int {
        switch self {
        case .small(_, let body): Frame.headerSize + body.count
        case .large(let buffer): buffer.count
        }
    }
}

/// What the ring thread is asked to do by the other threads.
enum LoopCommand: Sendable {
    /// Frames are waiting for `peer`.
    case flush(NodeID)
    /// Open a connection to `peer` now.
    case connect(NodeID)
    /// Close everything and stop.
    case shutdown
}

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
        var count: Int { frames.count - head }
    }

    struct State: ~Copyable {
        var outboxes: [NodeID: Outbox] = [:]
        var addresses: [NodeID: SocketAddress] = [:]
        var commands: [LoopCommand] = []
        /// Set by the ring thread when it found no commands and may sleep: the next poster wakes it.
        var needsWake = true
        var isClosed = false
        var wakeClosed = false
        var established: Set<NodeID> = []
        var maximumQueued = 0
    }

    let state = Mutex(State())
    let localNode: NodeID
    let capacity: Int
    let byteLimit: Int
    /// The eventfd the ring thread keeps a read on.
    let wakeFD: Int32

    init(localNode: NodeID, capacity: Int, byteLimit: Int, addresses: [NodeID: SocketAddress], wakeFD: Int32) {
        self.localNode = localNode
        self.capacity = capacity
        self.byteLimit = byteLimit
        self.wakeFD = wakeFD
        state.withLock { $0.addresses = addresses }
    }

    private func hasRoom(_ box: Outbox, for size: Int) -> Bool {
        box.count < capacity && (box.bytes == 0 || box.bytes + size <= byteLimit)
    }

    /// Queues `frame` for `node`, suspending while the queue is full.
    func enqueue(_ frame: OutboundFrame, to node: NodeID) async throws {
        enum Decision { case queued, wait, fail(ActorSystemError) }
        let size = frame.byteCount
        while true {
            let decision: Decision = state.withLock { s in
                if s.isClosed { return .fail(ActorSystemError(.shutDown, "the io_uring transport of \(localNode) is shut down")) }
                guard node != localNode, s.addresses[node] != nil else {
                    return .fail(ActorSystemError(.nodeUnreachable, "no address is known for \(node); add it to the transport's peers"))
                }
                guard hasRoom(s.outboxes[node, default: Outbox()], for: size) else { return .wait }
                s.outboxes[node, default: Outbox()].frames.append(frame)
                s.outboxes[node]!.bytes += size
                s.maximumQueued = max(s.maximumQueued, s.outboxes[node]!.count)
                if !s.outboxes[node]!.loopWillCheck {
                    s.outboxes[node]!.loopWillCheck = true
                    post(.flush(node), &s)
                }
                return .queued
            }
            switch decision {
            case .queued:
                return
            case .fail(let error):
                throw error
            case .wait:
                try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, any Error>) in
                    let ready: Result<Void, any Error>? = state.withLock { s in
                        if s.isClosed { return .failure(ActorSystemError(.shutDown, "the transport of \(localNode) shut down")) }
                        if hasRoom(s.outboxes[node, default: Outbox()], for: size) { return .success(()) }
                        s.outboxes[node]!.waiters.append(c)
                        return nil
                    }
                    if let ready { c.resume(with: ready) }
                }
            }
        }
    }

    /// Appends a command and wakes the ring thread if it may be asleep.
    ///
    /// The eventfd is written under the lock, so the ring thread can close it (under the same
    /// lock) at exit without a late writer hitting a reused descriptor. Only a sleeping ring
    /// thread costs a write; a busy one finds the command on its next pass.
    private func post(_ command: LoopCommand, _ s: inout State) {
        s.commands.append(command)
        if s.needsWake && !s.wakeClosed {
            s.needsWake = false
            _ = cdskur_eventfd_signal(wakeFD)
        }
    }

    /// Posts a command from any thread. After `close()` only `.shutdown` is accepted.
    func post(_ command: LoopCommand) {
        state.withLock { s in
            if case .shutdown = command {} else if s.isClosed { return }
            post(command, &s)
        }
    }

    /// Closes the eventfd; the ring thread calls this as it exits.
    func closeWake() {
        state.withLock { s in
            guard !s.wakeClosed else { return }
            s.wakeClosed = true
            _ = cdskur_close(wakeFD)
        }
    }

    /// The ring thread takes the pending commands; with none pending it marks itself as needing a wake.
    func takeCommands() -> [LoopCommand] {
        state.withLock { s in
            if s.commands.isEmpty {
                s.needsWake = true
                return []
            }
            defer { s.commands.removeAll(keepingCapacity: true) }
            return s.commands
        }
    }

    /// Takes the next frames for `peer`: a run of small frames up to `batchBytes`, or one large
    /// frame. Senders waiting for room are returned to be resumed outside the lock.
    func takeBatch(for peer: NodeID, batchBytes: Int) -> (frames: [OutboundFrame], resume: [CheckedContinuation<Void, any Error>]) {
        state.withLock { s in
            guard var box = s.outboxes.removeValue(forKey: peer) else { return ([], []) }
            var taken: [OutboundFrame] = []
            var bytes = 0
            while box.head < box.frames.count {
                let f = box.frames[box.head]
                if case .large = f {
                    if taken.isEmpty { taken.append(f); bytes += f.byteCount; box.head += 1 }
                    break
                }
                if !taken.isEmpty && bytes + f.byteCount > batchBytes { break }
                taken.append(f)
                bytes += f.byteCount
                box.head += 1
            }
            box.bytes -= bytes
            if box.head == box.frames.count {
                box.frames.removeAll(keepingCapacity: true)
                box.head = 0
            } else if box.head > 64 && box.head * 2 > box.frames.count {
                box.frames.removeFirst(box.head)
                box.head = 0
            }
            if taken.isEmpty { box.loopWillCheck = false }
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
            guard let box = s.outboxes.removeValue(forKey: peer) else { return (0, []) }
            return (box.count, box.waiters)
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

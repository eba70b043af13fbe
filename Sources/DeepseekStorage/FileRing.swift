internal import CDeepseekURing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One transfer between memory and a file: `memory.count` bytes at `fileOffset`.
///
/// For a read, `memory` is where the bytes go; for a write, where they come from. With O_DIRECT
/// the file offset must be aligned. Memory that is aligned too is read or written in place;
/// otherwise, and for a last partial block, the bytes go through the ring's staging buffers.
/// `capacity` (at least `memory.count`) says how many bytes from `memory.baseAddress` a read
/// may overwrite: when it covers the padded length, a read lands whole in `memory` (the SSD tier
/// allocates what it loads into that way).
struct FileTransfer {
    var fileOffset: Int
    var memory: UnsafeMutableRawBufferPointer
    var capacity: Int
    /// Names the tensor in errors.
    var key: String

    init(fileOffset: Int, memory: UnsafeMutableRawBufferPointer, capacity: Int? = nil, key: String) {
        self.fileOffset = fileOffset
        self.memory = memory
        self.capacity = max(capacity ?? memory.count, memory.count)
        self.key = key
    }
}

/// io_uring file I/O: requests straight to and from the caller's memory where the alignment
/// allows it, through registered, aligned staging buffers where it does not.
///
/// Each transfer is cut into pieces of at most `pieceBytes`. A piece whose memory is aligned
/// (or any piece, without O_DIRECT) is a request on that memory; the rest — memory at an
/// unaligned address, and the last partial block of a write, which O_DIRECT must pad with zeros —
/// goes through a staging slot (`READ_FIXED` / `WRITE_FIXED`: the slots are registered, so the
/// kernel pins their pages once). Up to `queueDepth` requests are in flight; everything that is
/// ready is submitted together with one `io_uring_enter`, and each completion refills the queue.
///
/// Not thread-safe: one thread creates, uses and destroys it (the ring is set up for a single
/// issuer).
final class FileRing {
    let ring: OpaquePointer
    let slotSize: Int
    let slots: [UnsafeMutableRawPointer]
    let alignment: Int
    let queueDepth: Int
    private var completions: [cdskur_completion]

    /// - Parameters:
    ///   - queueDepth: the most requests in flight.
    ///   - slotSize: bytes per staging slot, and the most bytes one request moves.
    ///   - slotCount: staging slots (requests that need one wait for a free one).
    /// - Throws: `StorageError.unavailable` when io_uring cannot be set up here.
    init(queueDepth: Int, slotSize: Int, slotCount: Int, alignment: Int = 4096) throws(StorageError) {
        precondition(slotSize > 0 && slotSize % alignment == 0, "FileRing: the slot size must be a multiple of \(alignment)")
        let depth = max(queueDepth, 1)
        var error: Int32 = 0
        guard let ring = cdskur_ring_create(UInt32(max(depth, slotCount)), &error) else {
            throw StorageError(
                .unavailable,
                "io_uring could not be set up (\(SystemErrno.text(error))); the SSD tier needs Linux 5.6 or later with io_uring enabled (sysctl kernel.io_uring_disabled=0)")
        }
        var slots: [UnsafeMutableRawPointer] = []
        for _ in 0..<slotCount {
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, alignment, slotSize) == 0, let raw else {
                for s in slots { free(s) }
                cdskur_ring_destroy(ring)
                throw StorageError(.budgetExceeded, "cannot allocate \(slotCount) staging buffers of \(slotSize) bytes for the SSD tier")
            }
            slots.append(raw)
        }
        // Registration is an optimisation (the kernel pins the pages once); without it the ring
        // uses plain READ/WRITE on the same buffers.
        let bases: [UnsafeMutableRawPointer?] = slots
        let lengths = [Int](repeating: slotSize, count: slotCount)
        let registered = bases.withUnsafeBufferPointer { b in
            lengths.withUnsafeBufferPointer { l in cdskur_register_buffers(ring, b.baseAddress, l.baseAddress, UInt32(slotCount)) }
        }
        self.ring = ring
        self.slots = slots
        self.slotSize = slotSize
        self.alignment = alignment
        self.queueDepth = depth
        self.usesFixedBuffers = registered == 0
        self.completions = [cdskur_completion](repeating: cdskur_completion(), count: max(depth, slotCount))
    }

    /// Whether the staging buffers are registered with the kernel (READ_FIXED / WRITE_FIXED).
    let usesFixedBuffers: Bool

    deinit {
        cdskur_ring_destroy(ring)
        for s in slots { free(s) }
    }

    /// Whether the ring failed as a whole (an `io_uring_enter` error): its owner makes a new one.
    private(set) var isBroken = false

    private struct Piece {
        var transfer: Int
        /// Offset of this piece within the transfer's memory.
        var start: Int
        /// Bytes of the transfer this piece is responsible for.
        var length: Int
        /// Bytes the request asks for: `length`, or more with O_DIRECT padding.
        var request: Int
        /// Whether the request goes through a staging slot rather than the transfer's memory.
        var staged: Bool
        /// The slot, once the piece has one.
        var slot = 0
        /// Bytes of this piece already done (a short read or write resumes after them).
        var done = 0
    }

    /// Cuts the transfers into requests, in file order.
    private func pieces(_ transfers: [FileTransfer], write: Bool, direct: Bool) -> [Piece] {
        var out: [Piece] = []
        out.reserveCapacity(transfers.count)
        func round(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
        for (i, t) in transfers.enumerated() {
            let count = t.memory.count
            guard count > 0, let base = t.memory.baseAddress else { continue }
            // The part moved in place: everything without O_DIRECT; with it, the whole blocks of
            // aligned memory (for a read into memory with room for the padding, all of it).
            var inPlace = 0
            var inPlaceRequest = 0
            if !direct {
                inPlace = count
                inPlaceRequest = count
            } else if Int(bitPattern: base) % alignment == 0 {
                if !write && t.capacity >= round(count) {
                    inPlace = count
                    inPlaceRequest = round(count)
                } else {
                    inPlace = count / alignment * alignment
                    inPlaceRequest = inPlace
                }
            }
            var start = 0
            while start < inPlace {
                let n = min(slotSize, inPlace - start)
                let last = start + n == inPlace
                out.append(Piece(transfer: i, start: start, length: n, request: last ? inPlaceRequest - start : n, staged: false))
                start += n
            }
            while start < count {
                let n = min(slotSize, count - start)
                out.append(Piece(transfer: i, start: start, length: n, request: direct ? round(n) : n, staged: true))
                start += n
            }
        }
        return out
    }

    /// Reads or writes all `transfers` of `fd`; returns when every byte is done or one fails.
    ///
    /// - Parameter path: names the file in errors.
    /// - Parameter owners: what keeps the transfers' memory alive; should the ring itself fail
    ///   with requests still in flight, it is kept for good, so the kernel never writes into
    ///   memory that was given to something else.
    /// - Throws: `StorageError` from the failing request's errno (`.outOfSpace` for ENOSPC),
    ///   or `.truncated` when a read finds the end of the file first. Requests still in flight
    ///   when one fails are waited for before this returns, so no memory is in use afterwards.
    func run(_ transfers: [FileTransfer], write: Bool, fd: Int32, direct: Bool, path: String, owners: Any? = nil) throws(StorageError) {
        var pieces = self.pieces(transfers, write: write, direct: direct)
        var next = 0
        var inFlight = 0
        var free = Array((0..<slots.count).reversed())
        var failure: StorageError?
        var unsubmitted = 0
        // Queues what can go: up to the queue depth, staged pieces while slots are free. A
        // staged write is handed to the kernel as soon as it is copied, so the device works on
        // it while the next one is copied; requests on the caller's memory go out together, with
        // the wait that follows (`submitting` asks for them to go now).
        func fill(submitting: Bool) -> Int32 {
            while failure == nil, next < pieces.count, inFlight < queueDepth {
                if pieces[next].staged {
                    guard let slot = free.popLast() else { break }
                    pieces[next].slot = slot
                }
                let rc = prepare(pieces[next], tag: next, transfers: transfers, write: write, fd: fd, direct: direct)
                if rc < 0 {
                    failure = StorageError.system(rc, "queueing a request", file: path, tensor: transfers[pieces[next].transfer].key)
                    if pieces[next].staged { free.append(pieces[next].slot) }
                    break
                }
                inFlight += 1
                unsubmitted += 1
                next += 1
                if pieces[next - 1].staged && write && next < pieces.count {
                    let rc = submit()
                    if rc < 0 { return rc }
                }
            }
            return submitting && unsubmitted > 0 ? submit() : 0
        }
        func submit() -> Int32 {
            let rc = cdskur_submit_and_wait(ring, 0, -1)
            if rc >= 0 { unsubmitted = 0 }
            return rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY ? rc : 0
        }
        func broken(_ rc: Int32) -> StorageError {
            // The ring itself failed: what is in flight may still be the kernel's, so the
            // memory it uses is kept for good (the ring's own buffers die with the ring).
            isBroken = true
            if let owners { AbandonedMemory.shared.keep(owners) }
            return StorageError.system(rc, "io_uring_enter", file: path)
        }
        while failure == nil && next < pieces.count || inFlight > 0 {
            var rc = fill(submitting: false)
            if rc < 0 { throw broken(rc) }
            guard inFlight > 0 else { break }
            rc = cdskur_submit_and_wait(ring, 1, -1)
            if rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY { throw broken(rc) }
            if rc >= 0 { unsubmitted = 0 }
            let n = completions.withUnsafeMutableBufferPointer { cdskur_reap(ring, $0.baseAddress, UInt32($0.count)) }
            for c in completions[..<Int(n)] {
                let index = Int(c.user_data)
                guard index < pieces.count else { continue }
                inFlight -= 1
                var piece = pieces[index]
                let t = transfers[piece.transfer]
                if c.res < 0 {
                    if failure == nil {
                        failure = StorageError.system(c.res, write ? "writing" : "reading", file: path, tensor: t.key)
                    }
                    if piece.staged { free.append(piece.slot) }
                    continue
                }
                let got = min(Int(c.res), piece.length - piece.done)
                let copies = !write && got > 0 && piece.staged
                if copies {
                    (t.memory.baseAddress! + piece.start + piece.done).copyMemory(from: slots[piece.slot] + piece.done, byteCount: got)
                }
                piece.done += got
                if piece.done < piece.length && failure == nil {
                    if c.res == 0 {
                        failure = StorageError(
                            write ? .io : .truncated,
                            write
                                ? "the kernel wrote nothing at offset \(t.fileOffset + piece.start + piece.done); check the disk"
                                : "the file ends at offset \(t.fileOffset + piece.start + piece.done), before the tensor does",
                            file: path, tensor: t.key)
                        if piece.staged { free.append(piece.slot) }
                        continue
                    }
                    // A short transfer: the rest goes out again from the same place.
                    pieces[index] = piece
                    let rc = prepare(piece, tag: index, transfers: transfers, write: write, fd: fd, direct: direct)
                    if rc == 0 {
                        inFlight += 1
                        unsubmitted += 1
                        continue
                    }
                    failure = StorageError.system(rc, "queueing a request", file: path, tensor: t.key)
                }
                if piece.staged { free.append(piece.slot) }
                // A slot freed after a copy out: refill it now rather than after the other copies.
                if copies {
                    let rc = fill(submitting: true)
                    if rc < 0 { throw broken(rc) }
                }
            }
        }
        if let failure { throw failure }
    }

    /// Queues one piece (or what is left of it), tagged with its index.
    private func prepare(_ piece: Piece, tag: Int, transfers: [FileTransfer], write: Bool, fd: Int32, direct: Bool) -> Int32 {
        let t = transfers[piece.transfer]
        let offset = UInt64(t.fileOffset + piece.start + piece.done)
        let length = UInt32(piece.request - piece.done)
        guard piece.staged else {
            let at = t.memory.baseAddress! + piece.start + piece.done
            return write
                ? cdskur_prep_write_at(ring, fd, at, length, offset, UInt64(tag))
                : cdskur_prep_read_at(ring, fd, at, length, offset, UInt64(tag))
        }
        let slot = piece.slot
        let buffer = slots[slot]
        if write && piece.done == 0 {
            buffer.copyMemory(from: t.memory.baseAddress! + piece.start, byteCount: piece.length)
            // O_DIRECT writes whole blocks: the padding is zeros.
            if piece.request > piece.length {
                (buffer + piece.length).initializeMemory(as: UInt8.self, repeating: 0, count: piece.request - piece.length)
            }
        }
        let at = buffer + piece.done
        if usesFixedBuffers {
            return write
                ? cdskur_prep_write_fixed_at(ring, fd, at, length, offset, Int32(slot), UInt64(tag))
                : cdskur_prep_read_fixed_at(ring, fd, at, length, offset, Int32(slot), UInt64(tag))
        }
        return write
            ? cdskur_prep_write_at(ring, fd, at, length, offset, UInt64(tag))
            : cdskur_prep_read_at(ring, fd, at, length, offset, UInt64(tag))
    }

    /// fsync through the ring, after everything before it (IOSQE_IO_DRAIN).
    func sync(fd: Int32, path: String) throws(StorageError) {
        var rc = cdskur_prep_fsync(ring, fd, 0, 1, UInt64(Int32.max))
        if rc == 0 { rc = cdskur_submit_and_wait(ring, 1, -1) }
        if rc < 0 { throw StorageError.system(rc, "syncing to disk", file: path) }
        var c = cdskur_completion()
        while cdskur_reap(ring, &c, 1) == 0 {
            let w = cdskur_submit_and_wait(ring, 1, -1)
            if w < 0 && w != -EINTR { throw StorageError.system(w, "syncing to disk", file: path) }
        }
        if c.res < 0 { throw StorageError.system(c.res, "syncing to disk", file: path) }
    }
}

/// Memory that io_uring requests may still use after their ring failed as a whole: kept for the
/// life of the process, so the kernel never writes into memory that was handed out again.
final class AbandonedMemory: @unchecked Sendable {
    static let shared = AbandonedMemory()
    private var kept: [Any] = []
    private var lock = pthread_mutex_t()
    init() { pthread_mutex_init(&lock, nil) }
    func keep(_ owner: Any) {
        pthread_mutex_lock(&lock)
        kept.append(owner)
        pthread_mutex_unlock(&lock)
    }
}

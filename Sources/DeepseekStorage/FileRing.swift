internal import CDeepseekURing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One transfer between memory and a file: `memory.count` bytes at `fileOffset`.
///
/// For a read, `memory` is where the bytes go; for a write, where they come from. With O_DIRECT
/// the file offset must be aligned; the ring pads lengths itself (writes with zeros, reads by
/// reading a little more into its own buffer).
struct FileTransfer {
    var fileOffset: Int
    var memory: UnsafeMutableRawBufferPointer
    /// Names the tensor in errors.
    var key: String
}

/// io_uring file I/O with registered, aligned staging buffers.
///
/// Each transfer is cut into pieces of at most one staging slot; as many pieces as there are
/// free slots (up to the queue depth) are in flight at once, submitted together with one
/// `io_uring_enter`. A write copies into its slot and uses `WRITE_FIXED`; a read uses
/// `READ_FIXED` into a slot and copies out, while the other slots' requests are still with the
/// device. The copies cost a memcpy but buy three things: O_DIRECT needs aligned memory and
/// lengths, which tensors do not guarantee; registered buffers spare the kernel pinning pages
/// on every request; and tensor memory is never exposed to a request that outlives an error.
///
/// Not thread-safe: one thread creates, uses and destroys it (the ring is set up for a single
/// issuer).
final class FileRing {
    let ring: OpaquePointer
    let slotSize: Int
    let slots: [UnsafeMutableRawPointer]
    let alignment: Int
    private var completions: [cdskur_completion]

    /// - Throws: `StorageError.unavailable` when io_uring cannot be set up here.
    init(queueDepth: Int, slotSize: Int, slotCount: Int, alignment: Int = 4096) throws(StorageError) {
        precondition(slotSize > 0 && slotSize % alignment == 0, "FileRing: the slot size must be a multiple of \(alignment)")
        var error: Int32 = 0
        guard let ring = cdskur_ring_create(UInt32(max(queueDepth, slotCount)), &error) else {
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
        self.usesFixedBuffers = registered == 0
        self.completions = [cdskur_completion](repeating: cdskur_completion(), count: max(queueDepth, slotCount))
    }

    /// Whether the staging buffers are registered with the kernel (READ_FIXED / WRITE_FIXED).
    let usesFixedBuffers: Bool

    deinit {
        cdskur_ring_destroy(ring)
        for s in slots { free(s) }
    }

    private struct Piece {
        var transfer: Int
        /// Offset of this piece within the transfer's memory.
        var start: Int
        var length: Int
        /// Bytes of this piece already done (a short read or write resumes after them).
        var done = 0
    }

    /// Reads or writes all `transfers` of `fd`; returns when every byte is done or one fails.
    ///
    /// - Parameter path: names the file in errors.
    /// - Throws: `StorageError` from the failing request's errno (`.outOfSpace` for ENOSPC),
    ///   or `.truncated` when a read finds the end of the file first. Requests still in flight
    ///   when one fails are waited for before this returns, so no buffer is in use afterwards.
    func run(_ transfers: [FileTransfer], write: Bool, fd: Int32, direct: Bool, path: String) throws(StorageError) {
        var pending: [Piece] = []
        for (i, t) in transfers.enumerated() {
            var start = 0
            while start < t.memory.count {
                let n = min(slotSize, t.memory.count - start)
                pending.append(Piece(transfer: i, start: start, length: n))
                start += n
            }
        }
        pending.reverse()  // popLast takes them in file order
        var inFlight: [Int: Piece] = [:]  // slot -> piece
        var free = Array((0..<slots.count).reversed())
        var failure: StorageError?
        while failure == nil && !pending.isEmpty || !inFlight.isEmpty {
            while failure == nil, !pending.isEmpty, let slot = free.popLast() {
                let piece = pending.removeLast()
                let rc = prepare(piece, slot: slot, transfers: transfers, write: write, fd: fd, direct: direct)
                if rc < 0 {
                    failure = StorageError.system(rc, "queueing a request", file: path, tensor: transfers[piece.transfer].key)
                    free.append(slot)
                    break
                }
                inFlight[slot] = piece
            }
            guard !inFlight.isEmpty else { break }
            let rc = cdskur_submit_and_wait(ring, 1, -1)
            if rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY {
                // The ring itself failed: nothing more will complete, and buffers may still be
                // the kernel's. Tearing the ring down (deinit) cancels what is left.
                throw StorageError.system(rc, "io_uring_enter", file: path)
            }
            let n = completions.withUnsafeMutableBufferPointer { cdskur_reap(ring, $0.baseAddress, UInt32($0.count)) }
            for c in completions[..<Int(n)] {
                let slot = Int(c.user_data)
                guard var piece = inFlight.removeValue(forKey: slot) else { continue }
                let t = transfers[piece.transfer]
                if c.res < 0 {
                    if failure == nil {
                        failure = StorageError.system(c.res, write ? "writing" : "reading", file: path, tensor: t.key)
                    }
                    free.append(slot)
                    continue
                }
                let wanted = piece.length - piece.done
                let got = min(Int(c.res), wanted)
                if !write && got > 0 {
                    (t.memory.baseAddress! + piece.start + piece.done).copyMemory(from: slots[slot] + piece.done, byteCount: got)
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
                        free.append(slot)
                        continue
                    }
                    // A short transfer: the rest goes out again from the same slot.
                    let rc = prepare(piece, slot: slot, transfers: transfers, write: write, fd: fd, direct: direct)
                    if rc == 0 {
                        inFlight[slot] = piece
                        continue
                    }
                    failure = StorageError.system(rc, "queueing a request", file: path, tensor: t.key)
                }
                free.append(slot)
            }
        }
        if let failure { throw failure }
    }

    /// Queues one piece (or what is left of it) on `slot`.
    private func prepare(_ piece: Piece, slot: Int, transfers: [FileTransfer], write: Bool, fd: Int32, direct: Bool) -> Int32 {
        let t = transfers[piece.transfer]
        let buffer = slots[slot]
        if write && piece.done == 0 {
            buffer.copyMemory(from: t.memory.baseAddress! + piece.start, byteCount: piece.length)
        }
        var length = piece.length - piece.done
        if direct {
            // O_DIRECT: whole blocks only. The padding of a write is zeros; that of a read is
            // read into the slot and dropped.
            let padded = (piece.length + alignment - 1) / alignment * alignment
            if write && padded > piece.length {
                (buffer + piece.length).initializeMemory(as: UInt8.self, repeating: 0, count: padded - piece.length)
            }
            length = padded - piece.done
        }
        let offset = UInt64(t.fileOffset + piece.start + piece.done)
        let at = buffer + piece.done
        let tag = UInt64(slot)
        if usesFixedBuffers {
            return write
                ? cdskur_prep_write_fixed_at(ring, fd, at, UInt32(length), offset, Int32(slot), tag)
                : cdskur_prep_read_fixed_at(ring, fd, at, UInt32(length), offset, Int32(slot), tag)
        }
        return write
            ? cdskur_prep_write_at(ring, fd, at, UInt32(length), offset, tag)
            : cdskur_prep_read_at(ring, fd, at, UInt32(length), offset, tag)
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

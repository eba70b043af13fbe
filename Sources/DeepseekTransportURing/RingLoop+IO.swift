import DeepseekActors
import DeepseekCore
#if canImport(Glibc)
import Glibc
#endif

// Reading and writing frames.
extension RingLoop {
    /// The most bytes buffered from a peer that has not yet authenticated.
    static let handshakeByteLimit = 16 << 10

    func armWake() {
        if submit(.read(fd: queues.wakeFD, buffer: wakeBuffer, length: 8), .wake) == nil {
            log(.error, "could not queue the wake-up read; commands are picked up on the next completion only")
        }
    }

    // MARK: Receiving

    func armRead(_ conn: Connection) {
        guard !conn.closing else { return }
        conn.readingSegment = false
        // The bytes of a bulk segment go straight into the buffer that will hold them (an
        // authenticated peer's only: before that, everything passes the size checks below).
        if conn.isEstablished {
            let space: UnsafeMutableRawBufferPointer?
            do {
                space = try conn.decoder.segmentSpace()
            } catch {
                counters.framingErrors += 1
                close(conn, reason: "cannot receive a segment (\(error.code)): \(error.message)", level: .warning)
                return
            }
            if let space {
                conn.readingSegment = true
                counters.segmentReads += 1
                let operation = URingOperation.recv(fd: conn.fd, buffer: space.baseAddress!, length: min(space.count, 1 << 30), waitAll: true)
                if submit(operation, .read(conn.id), for: conn) == nil { close(conn, reason: "could not queue a read", level: .error) }
                return
            }
        }
        let lease = conn.readLease ?? pool.acquire()
        conn.readLease = lease
        let operation: URingOperation
        switch lease {
        case .fixed(let index, let buffer):
            operation = .readFixed(fd: conn.fd, buffer: buffer.baseAddress!, length: buffer.count, index: index)
            counters.fixedBufferReads += 1
        case .plain(_, let buffer):
            operation = .recv(fd: conn.fd, buffer: buffer.baseAddress!, length: buffer.count)
            counters.plainReads += 1
        }
        if submit(operation, .read(conn.id), for: conn) == nil {
            close(conn, reason: "could not queue a read", level: .error)
        }
    }

    func readCompleted(_ conn: Connection, _ result: Int32) {
        guard !conn.closing else { return }
        if result == -EINTR || result == -EAGAIN {
            armRead(conn)
            return
        }
        if result < 0 {
            close(conn, reason: "read failed: \(errnoText(result))", level: .info)
            return
        }
        if result == 0 {
            let partial = conn.decoder.bufferedByteCount
            if partial > 0 {
                counters.framingErrors += 1
                close(conn, reason: "truncated frame: the stream ended \(partial) bytes into a frame", level: .warning)
            } else {
                close(conn, reason: "the peer closed the connection", level: .info)
            }
            return
        }
        counters.bytesReceived += Int(result)
        let frames: [Frame]
        do {
            if conn.readingSegment {
                frames = try conn.decoder.segmentReceived(Int(result))
            } else {
                frames = try conn.decoder.feed(UnsafeRawBufferPointer(rebasing: conn.readLease!.buffer[..<Int(result)]))
            }
        } catch {
            counters.framingErrors += 1
            close(conn, reason: "corrupt stream (\(error.code)): \(error.message)", level: .warning)
            return
        }
        for frame in frames {
            receive(frame, on: conn)
            if conn.closing { return }
        }
        // Until the peer is authenticated it gets no more memory than a handshake needs, whatever
        // frame size its header announces.
        if !conn.isEstablished && conn.decoder.bufferedByteCount > Self.handshakeByteLimit {
            counters.framingErrors += 1
            close(
                conn, reason: "\(conn.decoder.bufferedByteCount) bytes arrived before the handshake finished (limit \(Self.handshakeByteLimit))",
                level: .warning)
            return
        }
        armRead(conn)
    }

    private func receive(_ frame: Frame, on conn: Connection) {
        if frame.kind == .handshake {
            apply(conn.handshake.receive(frameBody: frame.body), to: conn)
            return
        }
        guard conn.isEstablished, let peer = conn.peer else {
            counters.handshakeFailures += 1
            close(
                conn, reason: "a \(frame.kind) frame of \(frame.body.count) bytes arrived before the handshake finished",
                level: .warning)
            return
        }
        counters.framesReceived += 1
        guard frame.kind == .message else { return }  // heartbeats only prove liveness
        let message: TransportMessage
        do {
            message = frame.segments.isEmpty
                ? try TransportMessage(wireBytes: frame.body)
                : try TransportMessage(wire: WireBytes(inline: frame.body, segments: frame.segments))
        } catch {
            counters.framingErrors += 1
            close(conn, reason: "undecodable message frame of \(frame.body.count) bytes: \(error)", level: .warning)
            return
        }
        if case .system(.leaving) = message { peers[peer]?.saidLeaving = true }
        receiver?.receive(message, from: peer)
    }

    // MARK: Sending

    /// Starts the next send on `conn` if none is in flight: handshake frames first, then a batch
    /// of small frames copied into the connection's batch buffer (followed by the bulk segments of
    /// a segmented message, sent from where they lie), or one large frame.
    func pumpSend(_ conn: Connection) {
        guard !conn.sendInFlight, conn.isConnected, !conn.closing else { return }
        let batch = conn.batch.baseAddress!
        if !conn.control.isEmpty {
            var used = 0
            var taken = 0
            for frame in conn.control {
                guard used + frame.count <= conn.batch.count else { break }
                frame.withUnsafeBytes { (batch + used).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                used += frame.count
                taken += 1
            }
            conn.control.removeFirst(taken)
            startSend(conn, [SendJob(base: batch, length: used, frames: 0, zeroCopy: false, owner: nil)])
            return
        }
        if let why = conn.closeAfterFlush {
            close(conn, reason: why, level: .warning)
            return
        }
        guard conn.isEstablished, let peer = conn.peer, sendConnection(for: peer) === conn else { return }
        let idle = settings.directWrites ? (fd: conn.fd, connection: conn.id) : nil
        let (frames, resume) = queues.takeBatch(for: peer, batchBytes: conn.batch.count, idle: idle)
        for sender in resume { sender.resume() }
        guard let first = frames.first else { return }
        if case .large(let buffer) = first {
            startSend(conn, [SendJob(base: buffer.base, length: buffer.count, frames: 1, zeroCopy: zeroCopy(conn, buffer.count), owner: buffer)])
            return
        }
        var used = 0
        var jobs: [SendJob] = []
        func copy(_ bytes: UnsafeRawBufferPointer) {
            if let src = bytes.baseAddress { (batch + used).copyMemory(from: src, byteCount: bytes.count) }
            used += bytes.count
        }
        for frame in frames {
            switch frame {
            case .small(let kind, let body):
                let header = batch + used
                header.storeBytes(of: UInt32(body.count).littleEndian, as: UInt32.self)
                header.storeBytes(of: kind.rawValue, toByteOffset: 4, as: UInt8.self)
                used += Frame.headerSize
                body.withUnsafeBytes { copy($0) }
            case .raw(let bytes):
                bytes.withUnsafeBytes { copy($0) }
            case .segmented(let head, let segments):
                if used + head.count <= conn.batch.count {
                    head.withUnsafeBytes { copy($0) }
                } else {
                    // A head larger than the batch buffer (a message with a huge inline part).
                    let own = LargeFrameBuffer(framed: head)
                    jobs.append(SendJob(base: own.base, length: own.count, frames: 0, zeroCopy: false, owner: own))
                }
                for segment in segments {
                    jobs.append(
                        SendJob(
                            base: segment.bytes.baseAddress!, length: segment.bytes.count, frames: 0,
                            zeroCopy: zeroCopy(conn, segment.bytes.count), owner: segment.owner))
                }
            case .large:
                break  // only ever taken alone, above
            }
        }
        if used > 0 { jobs.insert(SendJob(base: batch, length: used, frames: 0, zeroCopy: false, owner: nil), at: 0) }
        jobs[jobs.count - 1].frames = frames.count
        startSend(conn, jobs)
    }

    /// Whether `count` bytes go out with `IORING_OP_SEND_ZC` on `conn`: not to a loopback peer,
    /// where the kernel copies the data on delivery anyway and zero-copy only adds the page
    /// pinning and the notification (measured slower on loopback), unless the settings insist.
    private func zeroCopy(_ conn: Connection, _ count: Int) -> Bool {
        zeroCopyEnabled && conn.isTCP && (!conn.isLoopback || settings.zeroCopyOnLoopback)
            && count >= (settings.zeroCopyThreshold ?? Int.max)
    }

    /// Starts the first of `jobs`; the others follow it in order.
    private func startSend(_ conn: Connection, _ jobs: [SendJob]) {
        guard let first = jobs.first else { return }
        conn.sendInFlight = true
        conn.framesInFlight = jobs.reduce(0) { $0 + $1.frames }
        conn.sendChain = Array(jobs.dropFirst())
        submitSend(conn, first)
    }

    private func submitSend(_ conn: Connection, _ job: SendJob) {
        let base = job.base + job.offset
        let length = min(job.length - job.offset, 1 << 30)
        let operation: URingOperation
        if job.zeroCopy {
            operation = .sendZeroCopy(fd: conn.fd, buffer: base, length: length)
            counters.zeroCopySends += 1
        } else {
            operation = .send(fd: conn.fd, buffer: base, length: length)
            counters.plainSends += 1
        }
        if submit(operation, .send(conn.id, job), for: conn) == nil {
            close(conn, reason: "could not queue a send", level: .error)
        }
    }

    func sendCompleted(_ conn: Connection, _ job: SendJob, _ result: Int32) {
        guard !conn.closing else { return }
        if result == -EINTR || result == -EAGAIN {
            submitSend(conn, job)
            return
        }
        if job.zeroCopy && (result == -EOPNOTSUPP || result == -EINVAL) {
            // This socket cannot send zero-copy after all: use plain sends from now on.
            log(.info, "zero-copy send refused (\(errnoText(result))); falling back to plain sends")
            zeroCopyEnabled = false
            job.zeroCopy = false
            for next in conn.sendChain { next.zeroCopy = false }
            submitSend(conn, job)
            return
        }
        guard result >= 0 else {
            close(conn, reason: "send failed: \(errnoText(result))", level: .info)
            return
        }
        job.offset += Int(result)
        counters.bytesSent += Int(result)
        if job.offset < job.length {
            submitSend(conn, job)
            return
        }
        counters.framesSent += job.frames
        if !conn.sendChain.isEmpty {
            submitSend(conn, conn.sendChain.removeFirst())
            return
        }
        conn.framesInFlight = 0
        conn.sendInFlight = false
        pumpSend(conn)
    }
}

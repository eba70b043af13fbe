internal import CDeepseekURing

/// One operation to queue on the ring. Pointers must stay valid until the operation's final
/// completion (for zero-copy sends: until its notification).
package enum URingOperation {
    case accept(fd: Int32)
    case connect(fd: Int32, address: UnsafeRawPointer, length: UInt32)
    case readFixed(fd: Int32, buffer: UnsafeMutableRawPointer, length: Int, index: Int)
    /// With `waitAll`, completes only once `length` bytes arrived (or the stream ended or failed).
    case recv(fd: Int32, buffer: UnsafeMutableRawPointer, length: Int, waitAll: Bool = false)
    case read(fd: Int32, buffer: UnsafeMutableRawPointer, length: Int)
    case send(fd: Int32, buffer: UnsafeRawPointer, length: Int)
    case sendZeroCopy(fd: Int32, buffer: UnsafeRawPointer, length: Int)
    case shutdown(fd: Int32)
    case close(fd: Int32)
    case cancel(target: UInt64)
}

/// A completion: the operation's tag, its result (a count, an fd, or a negative errno) and flags.
package struct URingCompletion: Sendable, Equatable {
    package var userData: UInt64
    package var result: Int32
    package var flags: UInt32

    package init(userData: UInt64, result: Int32, flags: UInt32) {
        self.userData = userData
        self.result = result
        self.flags = flags
    }

    /// Another completion for the same operation will follow (a zero-copy send's notification).
    package var hasMore: Bool { flags & UInt32(CDSKUR_CQE_F_MORE) != 0 }
    /// This is a zero-copy send's notification that its buffer may be reused.
    package var isNotification: Bool { flags & UInt32(CDSKUR_CQE_F_NOTIF) != 0 }
}

/// The system calls of the transport: the ring and the few socket calls that do not go through it.
///
/// Everything the ring thread does to the kernel passes through here, so a test can substitute a
/// recording fake or a wrapper that counts. Used from the ring thread only, except `listen`,
/// which the transport's initialiser calls before the thread exists. Results are negative errno
/// values on failure, as in liburing.
package protocol URingSyscalls: AnyObject {
    /// Whether `IORING_OP_SEND_ZC` may be used.
    var supportsZeroCopySend: Bool { get }
    /// Creates the ring; called on the ring thread before anything else. Returns 0 or -errno.
    func setUp(entries: Int) -> Int32
    /// Registers receive buffers. Returns 0 or -errno.
    func registerBuffers(_ buffers: [UnsafeMutableRawBufferPointer]) -> Int32
    /// Queues an operation. Returns 0, or -EBUSY when the submission queue stayed full.
    func prepare(_ operation: URingOperation, userData: UInt64) -> Int32
    /// Submits everything queued and waits for one completion or the timeout. Returns the number
    /// of operations submitted or -errno (-ETIME on timeout).
    func submitAndWait(timeoutNanoseconds: Int64?) -> Int32
    /// Appends the completions that are ready.
    func reap(into completions: inout [URingCompletion])
    /// Destroys the ring; the kernel cancels what is still in flight.
    func tearDown()
    /// A listening socket on `address`. Returns the fd and the bound port, or -errno as fd.
    func listen(on address: SocketAddress, backlog: Int32) -> (fd: Int32, port: UInt16)
    /// A stream socket for `family`. Returns the fd or -errno.
    func makeSocket(family: Int32) -> Int32
    /// Sets TCP_NODELAY. Returns 0 or -errno.
    func setNoDelay(_ fd: Int32) -> Int32
    /// Whether a connected TCP socket's peer is on the loopback interface (no zero-copy gain there).
    func peerIsLoopback(_ fd: Int32) -> Bool
    /// Closes an fd outside the ring (at tear-down, or before the ring exists).
    func closeNow(_ fd: Int32)
    /// Writes `header` then `body` to `fd` at once without blocking, outside the ring. Called by
    /// sending threads (not the ring thread) for a small message to an idle connection. Returns
    /// the bytes written or -errno (-EAGAIN: the socket buffer is full).
    func sendNow(fd: Int32, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> Int
}

extension URingSyscalls {
    package func peerIsLoopback(_ fd: Int32) -> Bool { cdskur_peer_is_loopback(fd) == 1 }

    package func sendNow(fd: Int32, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> Int {
        cdskur_send_now(fd, header.baseAddress, header.count, body.baseAddress, body.count)
    }
}

/// The real system calls, through liburing.
package final class LiburingSyscalls: URingSyscalls {
    private var ring: OpaquePointer?
    private var scratch = [cdskur_completion](repeating: cdskur_completion(), count: 256)
    package let supportsZeroCopySend: Bool

    package init(probe: URingProbe = URingTransport.probe()) {
        supportsZeroCopySend = probe.supportsZeroCopySend
    }

    package func setUp(entries: Int) -> Int32 {
        var error: Int32 = 0
        ring = cdskur_ring_create(UInt32(entries), &error)
        return ring == nil ? error : 0
    }

    package func registerBuffers(_ buffers: [UnsafeMutableRawBufferPointer]) -> Int32 {
        let bases: [UnsafeMutableRawPointer?] = buffers.map { $0.baseAddress }
        let lengths = buffers.map { $0.count }
        return bases.withUnsafeBufferPointer { b in
            lengths.withUnsafeBufferPointer { l in
                cdskur_register_buffers(ring, b.baseAddress, l.baseAddress, UInt32(buffers.count))
            }
        }
    }

    package func prepare(_ operation: URingOperation, userData u: UInt64) -> Int32 {
        switch operation {
        case .accept(let fd): cdskur_prep_accept(ring, fd, u)
        case .connect(let fd, let address, let length): cdskur_prep_connect(ring, fd, address, length, u)
        case .readFixed(let fd, let buffer, let length, let index):
            cdskur_prep_read_fixed(ring, fd, buffer, UInt32(length), Int32(index), u)
        case .recv(let fd, let buffer, let length, let waitAll):
            waitAll
                ? cdskur_prep_recv_all(ring, fd, buffer, UInt32(length), u) : cdskur_prep_recv(ring, fd, buffer, UInt32(length), u)
        case .read(let fd, let buffer, let length): cdskur_prep_read(ring, fd, buffer, UInt32(length), u)
        case .send(let fd, let buffer, let length): cdskur_prep_send(ring, fd, buffer, UInt32(length), u)
        case .sendZeroCopy(let fd, let buffer, let length): cdskur_prep_send_zc(ring, fd, buffer, UInt32(length), u)
        case .shutdown(let fd): cdskur_prep_shutdown(ring, fd, u)
        case .close(let fd): cdskur_prep_close(ring, fd, u)
        case .cancel(let target): cdskur_prep_cancel(ring, target, u)
        }
    }

    package func submitAndWait(timeoutNanoseconds: Int64?) -> Int32 {
        cdskur_submit_and_wait(ring, 1, timeoutNanoseconds ?? -1)
    }

    package func reap(into completions: inout [URingCompletion]) {
        while true {
            let n = scratch.withUnsafeMutableBufferPointer { cdskur_reap(ring, $0.baseAddress, UInt32($0.count)) }
            for c in scratch[..<Int(n)] {
                completions.append(URingCompletion(userData: c.user_data, result: c.res, flags: c.flags))
            }
            if Int(n) < scratch.count { return }
        }
    }

    package func tearDown() {
        cdskur_ring_destroy(ring)
        ring = nil
    }

    package func listen(on address: SocketAddress, backlog: Int32) -> (fd: Int32, port: UInt16) {
        var port: UInt16 = 0
        let fd = address.storage.withUnsafeBytes { cdskur_listen($0.baseAddress, address.length, backlog, &port) }
        return (fd, port)
    }

    package func makeSocket(family: Int32) -> Int32 { cdskur_stream_socket(family) }
    package func setNoDelay(_ fd: Int32) -> Int32 { cdskur_set_nodelay(fd) }
    package func closeNow(_ fd: Int32) { _ = cdskur_close(fd) }
}

/// A resolved socket address (the bytes of a `sockaddr_storage`).
package struct SocketAddress: Sendable, Hashable {
    package var storage: [UInt8]
    package var length: UInt32
    package var family: Int32
    /// Whether this is a Unix-domain address (no TCP options apply).
    package var isUnix: Bool { cdskur_family_is_unix(family) != 0 }

    /// Resolves `address`; a host name is looked up once, here.
    package init(_ address: URingAddress) throws(URingTransportError) {
        var bytes = [UInt8](repeating: 0, count: 128)
        var length: UInt32 = 0
        let rc: Int32
        switch address {
        case .tcp(let host, let port):
            rc = bytes.withUnsafeMutableBytes { cdskur_resolve_tcp(host, port, $0.baseAddress, 128, &length) }
        case .unix(let path):
            rc = bytes.withUnsafeMutableBytes { cdskur_unix_address(path, $0.baseAddress, 128, &length) }
        }
        guard rc == 0 else {
            let why = if case .unix = address { "the path is empty or longer than 107 bytes" } else { "the host does not resolve" }
            throw URingTransportError(.invalidAddress, "cannot use \(address): \(why)")
        }
        storage = bytes
        self.length = length
        family = bytes.withUnsafeBytes { cdskur_address_family($0.baseAddress) }
    }
}

/// The text of a negative errno, for logs.
func errnoText(_ code: Int32) -> String { "\(String(cString: cdskur_strerror(code))) (errno \(abs(code)))" }

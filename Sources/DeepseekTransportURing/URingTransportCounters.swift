/// What a `URingTransport` has done so far, for tests, benchmarks and `deepseek info`.
///
/// Batching shows as `submittedEntries / submitCalls` (operations per `io_uring_enter`), and the
/// send path as `zeroCopySends` against `plainSends`.
public struct URingTransportCounters: Sendable, Equatable {
    /// Frames written completely, and their bytes (headers included).
    public var framesSent = 0
    public var bytesSent = 0
    /// Frames and bytes read from peers.
    public var framesReceived = 0
    public var bytesReceived = 0
    /// Small frames senders wrote to an idle connection themselves (counted in `framesSent` and
    /// `bytesSent` too), sparing the ring thread a wake-up.
    public var directWrites = 0
    /// Reads straight into a bulk segment's buffer (`IORING_OP_RECV` with `MSG_WAITALL`).
    public var segmentReads = 0
    /// Send operations submitted as plain `IORING_OP_SEND`.
    public var plainSends = 0
    /// Send operations submitted as `IORING_OP_SEND_ZC`, and the buffer-release notifications seen.
    public var zeroCopySends = 0
    public var zeroCopyNotifications = 0
    /// Reads into registered buffers (`IORING_OP_READ_FIXED`) and into plain buffers (`IORING_OP_RECV`).
    public var fixedBufferReads = 0
    public var plainReads = 0
    /// Calls to `io_uring_enter` that submitted something, and the operations they carried.
    public var submitCalls = 0
    public var submittedEntries = 0
    /// Completions reaped.
    public var completions = 0
    /// Connections accepted, dials started, handshakes finished and failed, connections closed.
    public var connectionsAccepted = 0
    public var connectAttempts = 0
    public var connectionsEstablished = 0
    public var handshakeFailures = 0
    public var connectionsClosed = 0
    /// Connections closed because the byte stream was corrupt (oversized, unknown kind, undecodable).
    public var framingErrors = 0
    /// Reconnects scheduled after a drop, and peers given up on after the last attempt.
    public var reconnectsScheduled = 0
    public var peersGivenUp = 0
    /// Frames lost to a broken connection or dropped when a peer was given up on.
    public var framesDropped = 0
    /// The most frames ever waiting in one peer's send queue.
    public var maximumQueuedFrames = 0

    public init() {}
}

public import DeepseekActors

/// Where a node listens, or where a peer can be reached.
public enum URingAddress: Sendable, Hashable, CustomStringConvertible {
    /// A TCP endpoint. `host` is a numeric IPv4/IPv6 address or a name; port 0 when listening
    /// asks the kernel for a free port (read it back from `URingTransport.boundAddress`).
    case tcp(host: String, port: UInt16)
    /// A Unix-domain stream socket at a file-system path (at most 107 bytes).
    case unix(path: String)

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
        case .unix(let path): "unix://\(path)"
        }
    }
}

/// How much a log line matters.
public enum URingLogLevel: Int, Sendable, Comparable, CustomStringConvertible {
    case debug, info, warning, error

    public static func < (a: URingLogLevel, b: URingLogLevel) -> Bool { a.rawValue < b.rawValue }
    public var description: String { ["debug", "info", "warning", "error"][rawValue] }
}

/// Configuration of a `URingTransport`.
///
/// ```swift
/// var settings = URingTransportSettings(
///     localNode: NodeID(0), listenAddress: .tcp(host: "127.0.0.1", port: 7000),
///     peers: [NodeID(1): .tcp(host: "10.0.0.2", port: 7000)], clusterSecret: secret)
/// settings.log = { level, line in if level >= .warning { print(line) } }
/// let transport = try URingTransport(settings: settings)
/// ```
public struct URingTransportSettings: Sendable {
    /// The node this transport speaks for.
    public var localNode: NodeID
    /// Where to accept connections; `nil` for a node that only dials out.
    public var listenAddress: URingAddress?
    /// Where each peer listens. `send` to a node missing here fails with `nodeUnreachable`.
    public var peers: [NodeID: URingAddress]
    /// The secret every node of the cluster shares; the handshake proves knowledge of it.
    public var clusterSecret: [UInt8]
    /// The largest frame body accepted or sent; a peer announcing more is disconnected.
    public var maximumFrameSize: Int = 256 << 20
    /// Messages queued per peer before `send` suspends.
    public var sendQueueCapacity: Int = 256
    /// Bytes queued per peer before `send` suspends (a single larger message is still admitted
    /// into an empty queue).
    public var sendQueueByteLimit: Int = 64 << 20
    /// The first reconnect delay; each further attempt doubles it up to `reconnectBackoffMaximum`.
    public var reconnectBackoffBase: Duration = .milliseconds(50)
    public var reconnectBackoffMaximum: Duration = .seconds(5)
    /// Failed connection attempts in a row before the peer is reported disconnected and its
    /// queued messages are dropped.
    public var reconnectAttempts: Int = 8
    /// How long a new connection may take to authenticate before it is closed.
    public var handshakeTimeout: Duration = .seconds(5)
    /// Accepted connections open at once; further ones are closed at once (and logged), so
    /// unauthenticated clients cannot exhaust memory or descriptors.
    public var maximumInboundConnections: Int = 1024
    /// Frames at least this large go out with zero-copy send (`IORING_OP_SEND_ZC`) where the
    /// kernel has it; `nil` turns zero-copy off.
    public var zeroCopyThreshold: Int? = 64 << 10
    /// Whether zero-copy is used for a peer on the loopback interface too. Off by default: the
    /// kernel copies loopback data when it delivers it, so zero-copy there costs more than it saves.
    public var zeroCopyOnLoopback = false
    /// Bulk data (a tensor's bytes) of at least this many bytes travels out of band: sent from
    /// the value's own memory and received into a buffer the decoded value adopts. `nil` copies
    /// everything into the message.
    public var outOfBandThreshold: Int? = 16 << 10
    /// Whether a sender that finds a connection idle writes a small message to its socket itself
    /// instead of waking the ring thread for it (latency of lone calls; batching is unchanged
    /// under load, when the ring has sends in flight).
    public var directWrites = true
    /// Size and number of the registered receive buffers (`io_uring_register_buffers`). Each
    /// connection holds one while its read is outstanding; beyond the pool, reads use plain buffers.
    public var receiveBufferSize: Int = 64 << 10
    public var receiveBufferCount: Int = 32
    /// Bytes of small frames coalesced into one send per connection.
    public var sendBatchSize: Int = 256 << 10
    /// Submission queue entries of the ring.
    public var ringEntries: Int = 256
    /// How long `shutdown()` lets established connections finish writing what is queued.
    public var shutdownGracePeriod: Duration = .seconds(1)
    /// Receives the transport's log lines (never payload bytes: kinds, sizes, nodes, errno).
    /// Called from the ring thread; must not block.
    public var log: @Sendable (URingLogLevel, String) -> Void = { _, _ in }

    public init(
        localNode: NodeID, listenAddress: URingAddress?, peers: [NodeID: URingAddress] = [:], clusterSecret: [UInt8]
    ) {
        self.localNode = localNode
        self.listenAddress = listenAddress
        self.peers = peers
        self.clusterSecret = clusterSecret
    }

    /// Checks the settings, so misconfiguration is a clear error rather than odd behaviour later.
    func validate() throws(URingTransportError) {
        func check(_ ok: Bool, _ what: String) throws(URingTransportError) {
            if !ok { throw URingTransportError(.invalidSettings, what) }
        }
        try check(!clusterSecret.isEmpty, "clusterSecret is empty; give every node the same non-empty secret")
        try check(maximumFrameSize > 0 && maximumFrameSize <= Int(UInt32.max), "maximumFrameSize must be in 1...\(UInt32.max)")
        try check(sendQueueCapacity > 0, "sendQueueCapacity must be at least 1")
        try check(sendQueueByteLimit > 0, "sendQueueByteLimit must be at least 1")
        try check(reconnectAttempts >= 0, "reconnectAttempts must not be negative")
        try check(reconnectBackoffBase > .zero && reconnectBackoffMaximum >= reconnectBackoffBase,
            "reconnect backoff needs 0 < base <= maximum")
        try check(handshakeTimeout > .zero, "handshakeTimeout must be positive")
        try check(maximumInboundConnections > 0, "maximumInboundConnections must be at least 1")
        try check(receiveBufferSize >= 4096 && receiveBufferCount >= 0, "receive buffers must be at least 4096 bytes")
        try check(sendBatchSize >= 4096, "sendBatchSize must be at least 4096 bytes")
        try check(ringEntries >= 8 && ringEntries <= 32768, "ringEntries must be in 8...32768")
        try check(zeroCopyThreshold.map { $0 > 0 } ?? true, "zeroCopyThreshold must be positive or nil")
        try check(outOfBandThreshold.map { $0 > 0 } ?? true, "outOfBandThreshold must be positive or nil")
    }
}

/// How a `VerbsTransport` sizes its queues and buffers and which device and port it uses.
///
/// Memory per peer: `receiveDepth × receiveBufferSize` for receives, as much again for sends,
/// and `landingSlotCount × landingSlotSize` twice (landing slots the peer writes into, staging
/// slots this side writes from). The defaults use about 10 MiB per peer.
public struct VerbsTransportSettings: Sendable, Hashable {
    /// The RDMA device, e.g. `"mlx5_0"`; nil takes the first one listed.
    public var deviceName: String?
    /// The port of that device (ports are numbered from 1).
    public var port: UInt8 = 1
    /// GID table index for RoCE (and global routing on InfiniBand). Which index carries RoCE v2
    /// with the interface's IPv4 address depends on the host (`ibv_devinfo -v` lists them).
    public var gidIndex: Int = 0
    /// Address InfiniBand peers through a global route header too (needed across subnets).
    public var forceGlobalRoute = false

    /// Receive buffers kept posted per peer: how many SENDs the peer may have in flight.
    public var receiveDepth = 64
    /// Bytes per receive (and send) buffer. Small messages are packed together up to this size;
    /// larger ones travel through the landing slots.
    public var receiveBufferSize = 16 << 10
    /// Bytes per landing slot: the unit in which large messages are written with RDMA.
    public var landingSlotSize = 1 << 20
    /// Landing slots per peer (and staging slots to write them from).
    public var landingSlotCount = 4
    /// Send work requests in flight per queue pair.
    public var sendQueueDepth = 128

    /// Encoded local ACK timeout (4.096 µs × 2^timeout; 14 ≈ 67 ms) and retransmissions before a
    /// send fails: together they bound how long a vanished peer goes unnoticed.
    public var ackTimeout: UInt8 = 14
    public var retryCount: UInt8 = 7
    /// Retries after a receiver-not-ready NAK. The credit scheme means a correct peer never sends
    /// one; a finite count turns a flow-control bug into a visible error instead of a hang.
    public var rnrRetry: UInt8 = 3

    /// Connect to every peer the bootstrap transport reports, rather than on the first send.
    public var connectEagerly = true
    /// How long a connection exchange may take.
    public var connectTimeout: Duration = .seconds(10)
    /// Outbound bytes queued per peer before `send` suspends.
    public var maximumQueuedBytes = 64 << 20
    /// The largest message accepted, in bytes.
    public var maximumMessageSize = 256 << 20
    /// How long `shutdown` waits for queued messages to go out.
    public var shutdownDrainTimeout: Duration = .seconds(2)
    /// Polls of an idle completion queue before the progress thread starts sleeping, and the
    /// longest it then sleeps between polls (a local send wakes it at once).
    public var spinPolls = 2000
    public var maximumIdleSleep: Duration = .microseconds(200)
    /// Seeds the initial packet sequence numbers; nil draws them from the system generator.
    public var packetSequenceSeed: UInt64?

    public init() {}

    /// Why these settings cannot work, or nil.
    func problem() -> String? {
        if port == 0 { return "port must be 1 or more (ports are numbered from 1)" }
        if receiveDepth < 2 || receiveDepth > 1 << 14 { return "receiveDepth \(receiveDepth) is outside 2…16384" }
        if receiveBufferSize < 256 || receiveBufferSize > 1 << 24 { return "receiveBufferSize \(receiveBufferSize) is outside 256…16 MiB" }
        if landingSlotSize < 4096 || landingSlotSize > 1 << 30 { return "landingSlotSize \(landingSlotSize) is outside 4 KiB…1 GiB" }
        if landingSlotCount < 1 || landingSlotCount > 1024 { return "landingSlotCount \(landingSlotCount) is outside 1…1024" }
        if sendQueueDepth < 4 { return "sendQueueDepth \(sendQueueDepth) is below 4" }
        if rnrRetry > 7 || retryCount > 7 { return "rnrRetry and retryCount are 3-bit fields (0…7)" }
        if ackTimeout > 31 { return "ackTimeout \(ackTimeout) is a 5-bit field (0…31)" }
        if maximumMessageSize < 1 { return "maximumMessageSize must be positive" }
        return nil
    }
}

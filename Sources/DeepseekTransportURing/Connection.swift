import DeepseekActors

/// One socket and everything the ring thread knows about it. Ring-thread only.
///
/// A node reads on every connection and writes to a peer on one of them at a time (see
/// `PeerLink.sendConnection`): its own when it has one, otherwise one the peer opened — so a node
/// can answer a peer whose address it does not know, and two nodes need only one connection.
final class Connection {
    enum Direction: Equatable {
        /// Opened by this node to `peer`.
        case outbound(NodeID)
        /// Accepted from the listener; the peer is known once the handshake says who it is.
        case inbound
    }

    let id: UInt64
    let fd: Int32
    let direction: Direction
    let isTCP: Bool
    /// The peer is on this machine: zero-copy sends would be copied by the kernel anyway.
    var isLoopback = false
    var handshake: HandshakeStateMachine
    var decoder: FrameDecoder
    /// The authenticated peer (set when the handshake is established).
    var peer: NodeID?
    var isEstablished = false
    /// Whether the connect operation finished (outbound); until then the fd cannot be shut down.
    var isConnected: Bool
    /// Encoded handshake frames waiting to be written; they go before any message.
    var control: [[UInt8]] = []
    /// Small frames are copied here and written with one send.
    let batch: UnsafeMutableRawBufferPointer
    var sendInFlight = false
    /// Message frames in the send now in flight (lost if the connection breaks).
    var framesInFlight = 0
    /// Sends that follow the one in flight as one unit (a segmented message's bulk segments).
    var sendChain: [SendJob] = []
    var readLease: ReceiveBufferPool.Lease?
    /// The read in flight goes straight into a bulk segment the decoder is assembling.
    var readingSegment = false
    /// A placeholder in `pending` while a sender writes to this socket itself (see
    /// `SendQueues.withdrawDirect`): the fd is not closed under it.
    var directWriterTag: UInt64?
    /// Operations in flight that use the fd; it is closed only once they are all done.
    var pending: Set<UInt64> = []
    var closing = false
    var closeSubmitted = false
    /// Close once the queued handshake frames (a reject) are written.
    var closeAfterFlush: String?
    var handshakeTimer: UInt64?
    /// The peer's address for the connect operation, kept alive until it completes.
    var connectAddress: UnsafeMutableRawBufferPointer?

    init(
        id: UInt64, fd: Int32, direction: Direction, isTCP: Bool, handshake: HandshakeStateMachine,
        maximumFrameSize: Int, batchBytes: Int
    ) {
        self.id = id
        self.fd = fd
        self.direction = direction
        self.isTCP = isTCP
        self.handshake = handshake
        self.decoder = FrameDecoder(maximumBodySize: maximumFrameSize)
        self.isConnected = direction == .inbound
        self.batch = .allocate(byteCount: batchBytes, alignment: 64)
    }

    deinit {
        batch.deallocate()
        connectAddress?.deallocate()
    }

    /// The node this connection is to, as far as it is known.
    var knownPeer: NodeID? {
        if let peer { return peer }
        if case .outbound(let p) = direction { return p }
        return nil
    }

    var describe: String {
        switch direction {
        case .outbound(let p): "connection #\(id) to \(p)"
        case .inbound: peer.map { "connection #\(id) from \($0)" } ?? "inbound connection #\(id)"
        }
    }
}

/// What one in-flight send carries.
final class SendJob {
    let base: UnsafeRawPointer
    let length: Int
    var offset = 0
    /// Message frames in it (0 for handshake frames).
    var frames: Int
    var zeroCopy: Bool
    /// Keeps the memory alive while the kernel may read it (a large frame's buffer, a bulk
    /// segment's owner).
    let owner: AnyObject?

    init(base: UnsafeRawPointer, length: Int, frames: Int, zeroCopy: Bool, owner: AnyObject?) {
        self.base = base
        self.length = length
        self.frames = frames
        self.zeroCopy = zeroCopy
        self.owner = owner
    }
}

/// What the ring thread knows about a peer node.
struct PeerLink {
    /// The connection this node sends on, while one exists (connecting, handshaking or up).
    var outbound: UInt64?
    /// Established connections the peer opened to this node.
    var inbound: Set<UInt64> = []
    /// The connection messages to the peer go out on, chosen when the first one needs it and kept
    /// until it closes, so messages are never split over two streams (which could reorder them):
    /// this node's own established connection, else an established one the peer opened.
    var sendConnection: UInt64?
    /// Whether `peerConnected` was reported and not yet taken back.
    var reportedConnected = false
    /// Failed connection attempts since the last established outbound connection.
    var failedAttempts = 0
    var reconnectTimer: UInt64?
    /// The peer announced it is leaving: when its connections close, do not try to reconnect.
    var saidLeaving = false
}

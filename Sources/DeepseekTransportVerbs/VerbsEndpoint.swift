public import DeepseekActors
public import DeepseekCore

/// A peer's registered memory that this side may write with RDMA.
public struct VerbsRemoteRegion: Sendable, Hashable {
    public var address: UInt64
    public var remoteKey: UInt32
    public var length: UInt64
    public init(address: UInt64, remoteKey: UInt32, length: UInt64) {
        self.address = address
        self.remoteKey = remoteKey
        self.length = length
    }
}

/// Everything a peer needs to connect its queue pair to this one and to use this side's buffers.
///
/// Sent over the bootstrap transport. The `window` is a region the peer may write: a small
/// mailbox where the peer publishes how many receives it has re-posted and how many landing
/// slots it has released (flow-control credits that cost no receive), followed by the landing
/// slots that large messages are written into with RDMA.
public struct VerbsEndpoint: Sendable, Hashable, WireCodable {
    public var node: NodeID
    public var linkLayer: VerbsLinkLayer
    public var lid: UInt16
    public var gid: VerbsGID
    public var queuePairNumber: UInt32
    /// The PSN of the first packet this side sends (24 bits).
    public var packetSequenceNumber: UInt32
    public var mtu: VerbsMTU
    /// Receive buffers this side keeps posted: the sender's initial credit.
    public var receiveDepth: UInt32
    /// Bytes in each posted receive buffer: the largest SEND this side accepts.
    public var receiveBufferSize: UInt32
    /// Mailbox and landing slots, writable by the peer.
    public var window: VerbsRemoteRegion
    public var landingSlotSize: UInt32
    public var landingSlotCount: UInt32

    /// Bytes at the start of `window` reserved for the credit mailbox.
    public static let mailboxSize: UInt64 = 64

    public init(
        node: NodeID, linkLayer: VerbsLinkLayer, lid: UInt16, gid: VerbsGID, queuePairNumber: UInt32, packetSequenceNumber: UInt32,
        mtu: VerbsMTU, receiveDepth: UInt32, receiveBufferSize: UInt32, window: VerbsRemoteRegion, landingSlotSize: UInt32,
        landingSlotCount: UInt32
    ) {
        self.node = node
        self.linkLayer = linkLayer
        self.lid = lid
        self.gid = gid
        self.queuePairNumber = queuePairNumber
        self.packetSequenceNumber = packetSequenceNumber
        self.mtu = mtu
        self.receiveDepth = receiveDepth
        self.receiveBufferSize = receiveBufferSize
        self.window = window
        self.landingSlotSize = landingSlotSize
        self.landingSlotCount = landingSlotCount
    }

    public func encode(to w: inout WireWriter) {
        node.encode(to: &w)
        w.write(linkLayer.rawValue)
        w.write(lid)
        for b in gid.bytes { w.write(b) }
        w.write(queuePairNumber)
        w.write(packetSequenceNumber)
        w.write(mtu.rawValue)
        w.write(receiveDepth)
        w.write(receiveBufferSize)
        w.write(window.address)
        w.write(window.remoteKey)
        w.write(window.length)
        w.write(landingSlotSize)
        w.write(landingSlotCount)
    }

    public static func decode(from r: inout WireReader) throws -> VerbsEndpoint {
        let node = try NodeID.decode(from: &r)
        let layerOffset = r.offset
        guard let linkLayer = VerbsLinkLayer(rawValue: try r.read(UInt8.self)) else {
            throw WireError(.malformed, "unknown link layer", offset: layerOffset)
        }
        let lid = try r.read(UInt16.self)
        let gid = VerbsGID(bytes: try r.readRaw(count: 16))
        let qpn = try r.read(UInt32.self)
        let psn = try r.read(UInt32.self)
        let mtuOffset = r.offset
        guard let mtu = VerbsMTU(rawValue: try r.read(UInt8.self)) else { throw WireError(.malformed, "unknown path MTU", offset: mtuOffset) }
        return VerbsEndpoint(
            node: node, linkLayer: linkLayer, lid: lid, gid: gid, queuePairNumber: qpn, packetSequenceNumber: psn, mtu: mtu,
            receiveDepth: try r.read(), receiveBufferSize: try r.read(),
            window: VerbsRemoteRegion(address: try r.read(), remoteKey: try r.read(), length: try r.read()), landingSlotSize: try r.read(),
            landingSlotCount: try r.read())
    }

    /// Why this endpoint cannot be connected to, or nil when it can.
    ///
    /// Checks what a NIC would otherwise reject late or silently: numbers wider than the wire
    /// fields, the reserved queue pairs 0 and 1, an address the link layer cannot route, and a
    /// window too small for the slots it announces.
    public func problem(limits: VerbsEndpointLimits) -> String? {
        if queuePairNumber > verbsPacketSequenceMask || queuePairNumber < 2 {
            return "queue pair number \(queuePairNumber) is not a valid RC queue pair (2…0xFFFFFF)"
        }
        if packetSequenceNumber > verbsPacketSequenceMask { return "PSN \(packetSequenceNumber) does not fit in 24 bits" }
        switch linkLayer {
        case .infiniband where lid == 0: return "an InfiniBand endpoint without a LID (is the subnet manager running?)"
        case .ethernet where gid.isZero: return "a RoCE endpoint without a GID"
        case .unspecified: return "the link layer is unspecified"
        default: break
        }
        if receiveDepth == 0 || receiveDepth > limits.maximumReceiveDepth {
            return "receive depth \(receiveDepth) is outside 1…\(limits.maximumReceiveDepth)"
        }
        if receiveBufferSize < limits.minimumReceiveBufferSize || receiveBufferSize > limits.maximumReceiveBufferSize {
            return "receive buffer size \(receiveBufferSize) is outside \(limits.minimumReceiveBufferSize)…\(limits.maximumReceiveBufferSize)"
        }
        if landingSlotCount == 0 || landingSlotSize < limits.minimumLandingSlotSize {
            return "\(landingSlotCount) landing slots of \(landingSlotSize) bytes cannot carry large messages"
        }
        let needed = Self.mailboxSize + UInt64(landingSlotCount) * UInt64(landingSlotSize)
        if window.length < needed {
            return "the window of \(window.length) bytes is smaller than the mailbox and slots it announces (\(needed))"
        }
        return nil
    }
}

/// Bounds on what a peer may announce, so a corrupt or hostile endpoint cannot make this side
/// size its queues absurdly.
public struct VerbsEndpointLimits: Sendable, Hashable {
    public var maximumReceiveDepth: UInt32 = 1 << 14
    public var minimumReceiveBufferSize: UInt32 = 64
    public var maximumReceiveBufferSize: UInt32 = 1 << 24
    public var minimumLandingSlotSize: UInt32 = 4096
    public init() {}
}

/// The messages of the connection exchange, carried over the bootstrap transport.
public enum VerbsConnectionMessage: Sendable, Hashable, WireCodable {
    /// Initiator → acceptor: my queue pair (in INIT, receives posted) and buffers.
    case request(version: UInt16, endpoint: VerbsEndpoint)
    /// Acceptor → initiator: my queue pair is in RTS, bound to the one you announced (echoed).
    case accept(version: UInt16, endpoint: VerbsEndpoint, yourQueuePair: UInt32, yourPacketSequence: UInt32)
    /// Initiator → acceptor: my queue pair is in RTS too, bound to yours (echoed); send away.
    case ready(yourQueuePair: UInt32, yourPacketSequence: UInt32)
    /// Either side: the connection is refused, and why.
    case reject(reason: String)

    /// The call target that marks a bootstrap message as part of this exchange.
    public static let bootstrapTarget = "deepseek.verbs.connection"

    public func encode(to w: inout WireWriter) {
        switch self {
        case .request(let version, let endpoint):
            w.write(UInt8(1)); w.write(version); endpoint.encode(to: &w)
        case .accept(let version, let endpoint, let qpn, let psn):
            w.write(UInt8(2)); w.write(version); endpoint.encode(to: &w); w.write(qpn); w.write(psn)
        case .ready(let qpn, let psn):
            w.write(UInt8(3)); w.write(qpn); w.write(psn)
        case .reject(let reason):
            w.write(UInt8(4)); w.write(String(reason.prefix(512)))
        }
    }

    public static func decode(from r: inout WireReader) throws -> VerbsConnectionMessage {
        r.maximumLength = 1024
        let start = r.offset
        switch try r.read(UInt8.self) {
        case 1: return .request(version: try r.read(), endpoint: try VerbsEndpoint.decode(from: &r))
        case 2:
            return .accept(version: try r.read(), endpoint: try VerbsEndpoint.decode(from: &r), yourQueuePair: try r.read(), yourPacketSequence: try r.read())
        case 3: return .ready(yourQueuePair: try r.read(), yourPacketSequence: try r.read())
        case 4: return .reject(reason: try r.readString())
        case let t: throw WireError(.malformed, "unknown verbs connection message \(t)", offset: start)
        }
    }

    /// The message wrapped for the bootstrap transport: a call to a reserved target, so it cannot
    /// be mistaken for an actor call.
    public func bootstrapMessage(from local: NodeID, to peer: NodeID) -> TransportMessage {
        .call(
            CallEnvelope(
                callID: 0, origin: local, recipient: ActorAddress(node: peer, path: "$verbs", incarnation: 0), target: Self.bootstrapTarget,
                arguments: [.encoded(wireBytes)]))
    }

    /// The connection message inside a bootstrap message, nil when it is not one; throws when it
    /// is one but cannot be decoded.
    public static func unwrap(_ message: TransportMessage) throws -> VerbsConnectionMessage? {
        guard case .call(let call) = message, call.target == bootstrapTarget else { return nil }
        guard call.arguments.count == 1 else { throw WireError(.malformed, "a verbs connection message has one argument", offset: 0) }
        return try VerbsConnectionMessage(wireBytes: call.arguments[0].bytes)
    }
}

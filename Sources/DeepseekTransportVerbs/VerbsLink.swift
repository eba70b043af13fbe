import DeepseekActors

/// The opened device, protection domain and port that every link of a transport shares.
struct VerbsDeviceContext {
    let device: VerbsDevice
    let domain: VerbsProtectionDomain
    let port: UInt8
    let portAttributes: VerbsPortAttributes
    let gid: VerbsGID
    let gidIndex: Int
}

/// A message waiting to go out: a frame (`[u32 length][u8 kind]` header, then the body).
struct OutboundFrame {
    let body: [UInt8]
    var totalCount: Int { Frame.headerSize + body.count }

    /// Copies frame bytes `[offset, offset + count)` (header included) to `destination`.
    func copy(from offset: Int, count: Int, to destination: UnsafeMutableRawPointer) {
        var written = 0
        if offset < Frame.headerSize {
            var header: [UInt8] = []
            header.reserveCapacity(Frame.headerSize)
            Frame.appendHeader(kind: .message, bodyCount: body.count, to: &header)
            let n = min(Frame.headerSize - offset, count)
            header.withUnsafeBytes { destination.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            written = n
        }
        let bodyStart = offset + written - Frame.headerSize
        let remaining = count - written
        if remaining > 0 {
            body.withUnsafeBytes { (destination + written).copyMemory(from: $0.baseAddress! + bodyStart, byteCount: remaining) }
        }
    }
}

/// One peer's reliable-connected queue pair, its registered buffers and its flow control.
///
/// Touched by the progress thread only. Flow control costs no receives: each side RDMA-writes
/// two monotonic counters into the other's mailbox — receives re-posted and landing slots
/// released — so a sender computes `credits = peer depth + re-posted − sent` and never sends
/// into a receive queue without a buffer, and never writes a landing slot still being read.
final class VerbsLink {
    struct Resources {
        let completions: VerbsCompletionQueue
        let queuePair: VerbsQueuePair
        let local: RegisteredArena
        let window: RegisteredArena
        let endpoint: VerbsEndpoint
    }

    let peer: NodeID
    let api: any VerbsAPI
    let settings: VerbsTransportSettings
    let layout: LinkLayout
    var machine: VerbsConnectionStateMachine
    let deadline: ContinuousClock.Instant
    private(set) var resources: Resources?
    private(set) var queuePairState = VerbsQueuePairState.reset
    private(set) var remote: VerbsEndpoint?

    // Data path.
    var decoder: FrameDecoder
    var queue: [OutboundFrame] = []
    var queueHead = 0
    /// Bytes of the head frame already handed to the NIC (large frames go out in slices).
    var headOffset = 0
    var freeSendSlots: [Int] = []
    var freeStagingSlots: [Int] = []
    var sendsPosted: UInt64 = 0
    var landingUsed: UInt64 = 0
    var outstandingSends = 0
    var receivesReposted: UInt64 = 0
    var landingReleased: UInt64 = 0
    var advertised: (reposted: UInt64, released: UInt64) = (0, 0)
    var creditWriteInFlight = false
    /// Bytes posted since the transport last settled its back-pressure accounting.
    var bytesPosted = 0
    /// Why the link broke, once it has.
    var failure: String?
    var goodbyeReceived = false
    var goodbyeSent = false
    /// This link's share of the transport's counters.
    var stats = VerbsTransportCounters()

    init(peer: NodeID, machine: VerbsConnectionStateMachine, api: any VerbsAPI, settings: VerbsTransportSettings, now: ContinuousClock.Instant) {
        self.peer = peer
        self.machine = machine
        self.api = api
        self.settings = settings
        self.layout = LinkLayout(settings: settings)
        self.deadline = now + settings.connectTimeout
        self.decoder = FrameDecoder(maximumBodySize: settings.maximumMessageSize)
    }

    /// Set when the exchange finished and the receiver heard `peerConnected`; stays set while
    /// the link is torn down, so the disconnect is reported even after the machine has closed.
    var established = false
    var isEstablished: Bool { established && remote != nil }
    var hasQueuedFrames: Bool { queueHead < queue.count }

    // MARK: Set-up

    /// Creates the completion queue, queue pair and buffers; moves the queue pair to INIT and
    /// posts every receive. Returns this side's endpoint.
    func prepare(context: VerbsDeviceContext, localNode: NodeID, packetSequence: UInt32) throws(VerbsError) -> VerbsEndpoint {
        precondition(resources == nil, "a link prepares its queue pair once")
        let cq = try api.createCompletionQueue(context.device, depth: settings.sendQueueDepth + layout.receiveDepth + 8)
        let qp: VerbsQueuePair
        do {
            qp = try api.createQueuePair(
                context.domain, sendCompletions: cq, receiveCompletions: cq,
                capabilities: VerbsQueuePairCapabilities(maximumSendRequests: settings.sendQueueDepth, maximumReceiveRequests: layout.receiveDepth))
        } catch {
            try? api.destroyCompletionQueue(cq)
            throw error
        }
        var local: RegisteredArena?
        var window: RegisteredArena?
        do {
            local = try RegisteredArena(api: api, domain: context.domain, length: layout.localLength, access: [.localWrite])
            window = try RegisteredArena(
                api: api, domain: context.domain, length: layout.windowLength, access: [.localWrite, .remoteWrite])
        } catch {
            local?.release(api: api)
            try? api.destroyQueuePair(qp)
            try? api.destroyCompletionQueue(cq)
            throw error
        }
        let endpoint = VerbsEndpoint(
            node: localNode, linkLayer: context.portAttributes.linkLayer, lid: context.portAttributes.lid, gid: context.gid,
            queuePairNumber: qp.number, packetSequenceNumber: packetSequence & verbsPacketSequenceMask,
            mtu: context.portAttributes.activeMTU, receiveDepth: UInt32(layout.receiveDepth), receiveBufferSize: UInt32(layout.bufferSize),
            window: VerbsRemoteRegion(address: window!.region.address, remoteKey: window!.region.remoteKey, length: UInt64(layout.windowLength)),
            landingSlotSize: UInt32(layout.slotSize), landingSlotCount: UInt32(layout.stagingSlots))
        resources = Resources(completions: cq, queuePair: qp, local: local!, window: window!, endpoint: endpoint)
        freeSendSlots = Array((0..<layout.sendSlots).reversed())
        freeStagingSlots = Array((0..<layout.stagingSlots).reversed())
        try move(.initialize(port: context.port, access: [.localWrite, .remoteWrite]))
        for slot in 0..<layout.receiveDepth { try postReceive(slot) }
        return endpoint
    }

    /// INIT → RTR (bound to `remote`) → RTS.
    func connect(to remote: VerbsEndpoint, context: VerbsDeviceContext) throws(VerbsError) {
        guard let resources else { preconditionFailure("connect before prepare") }
        let global = context.portAttributes.linkLayer == .ethernet || settings.forceGlobalRoute
        try move(
            .readyToReceive(
                VerbsReceiveAttributes(
                    remoteQueuePair: remote.queuePairNumber, receivePacketSequence: remote.packetSequenceNumber, remoteLID: remote.lid,
                    remoteGID: remote.gid, useGlobalRoute: global, sourceGIDIndex: UInt8(clamping: context.gidIndex),
                    pathMTU: min(resources.endpoint.mtu, remote.mtu), port: context.port)))
        try move(
            .readyToSend(
                VerbsSendAttributes(
                    sendPacketSequence: resources.endpoint.packetSequenceNumber, timeout: settings.ackTimeout, retryCount: settings.retryCount,
                    rnrRetry: settings.rnrRetry)))
        self.remote = remote
    }

    private func move(_ transition: VerbsQueuePairTransition) throws(VerbsError) {
        guard let resources else { preconditionFailure("queue pair transition before prepare") }
        guard queuePairState.canMove(to: transition.target) else {
            throw VerbsError(.invalidState, "queue pair \(resources.queuePair.number) cannot move from \(queuePairState) to \(transition.target)")
        }
        try api.modifyQueuePair(resources.queuePair, transition)
        queuePairState = transition.target
    }

    func postReceive(_ slot: Int) throws(VerbsError) {
        guard let r = resources else { return }
        try api.postReceive(
            r.queuePair,
            VerbsReceiveRequest(
                workRequestID: WorkKind.receive.id(slot), address: r.local.address(layout.receiveBuffer(slot)), length: layout.bufferSize,
                localKey: r.local.region.localKey))
    }

    /// Moves the queue pair to ERR and releases everything. After this the NIC touches none of
    /// the link's memory.
    func tearDown() {
        guard let r = resources else { return }
        if queuePairState != .error { try? api.modifyQueuePair(r.queuePair, .error) }
        queuePairState = .error
        try? api.destroyQueuePair(r.queuePair)
        try? api.destroyCompletionQueue(r.completions)
        r.local.release(api: api)
        r.window.release(api: api)
        resources = nil
    }

    // MARK: Credits

    /// SENDs the peer can take now: its posted receives not yet consumed by this side.
    var sendCredits: Int {
        guard let remote, let r = resources else { return 0 }
        let reposted = cdskLoadAcquire(r.window.base)
        return Int(truncatingIfNeeded: UInt64(remote.receiveDepth) &+ reposted &- sendsPosted)
    }

    /// Landing slots the peer has free for RDMA writes.
    var landingCredits: Int {
        guard let remote, let r = resources else { return 0 }
        let released = cdskLoadAcquire(r.window.base + 8)
        return Int(truncatingIfNeeded: UInt64(remote.landingSlotCount) &+ released &- landingUsed)
    }
}

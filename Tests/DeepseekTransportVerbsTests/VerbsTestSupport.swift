import DeepseekActors
import DeepseekTestSupport
import DeepseekTransportVerbs
import Synchronization
import Testing

/// Two hosts on a fake fabric, each with a device, protection domain, completion queue, queue
/// pair and one registered buffer — the raw verbs objects, without the transport.
struct FakeQueuePairs {
    struct Side {
        let api: FakeVerbsAPI
        let device: VerbsDevice
        let domain: VerbsProtectionDomain
        let cq: VerbsCompletionQueue
        let qp: VerbsQueuePair
        let buffer: UnsafeMutableRawPointer
        let region: VerbsMemoryRegion
        var address: UInt64 { region.address }
    }

    let fabric: FakeVerbsFabric
    let a: Side
    let b: Side
    static let bufferSize = 4096

    init(sendDepth: Int = 8, receiveDepth: Int = 8, cqDepth: Int = 64, access: VerbsAccess = [.localWrite, .remoteWrite]) throws {
        let fabric = FakeVerbsFabric()
        self.fabric = fabric
        func side(_ index: Int) throws -> Side {
            let api = fabric.api(FakeVerbsFabric.Host(index: index))
            let device = try api.openDevice(named: nil)
            let domain = try api.allocateProtectionDomain(device)
            let cq = try api.createCompletionQueue(device, depth: cqDepth)
            let qp = try api.createQueuePair(
                domain, sendCompletions: cq, receiveCompletions: cq,
                capabilities: VerbsQueuePairCapabilities(maximumSendRequests: sendDepth, maximumReceiveRequests: receiveDepth))
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.bufferSize, alignment: 4096)
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: Self.bufferSize)
            let region = try api.registerMemory(domain, address: buffer, length: Self.bufferSize, access: access)
            return Side(api: api, device: device, domain: domain, cq: cq, qp: qp, buffer: buffer, region: region)
        }
        a = try side(0)
        b = try side(1)
    }

    func releaseBuffers() {
        a.buffer.deallocate()
        b.buffer.deallocate()
    }

    /// Moves `side` RESET → INIT → RTR → RTS towards `peer`.
    func connect(
        _ side: Side, to peer: Side, receivePSN: UInt32, sendPSN: UInt32, rnrRetry: UInt8 = 0, host: FakeVerbsFabric.Host? = nil
    ) throws {
        let h = host ?? FakeVerbsFabric.Host(index: peer.device.name == "fake_mlx0" ? 0 : 1)
        try side.api.modifyQueuePair(side.qp, .initialize(port: 1, access: [.localWrite, .remoteWrite]))
        try side.api.modifyQueuePair(
            side.qp,
            .readyToReceive(
                VerbsReceiveAttributes(
                    remoteQueuePair: peer.qp.number, receivePacketSequence: receivePSN, remoteLID: h.lid, remoteGID: h.gid,
                    useGlobalRoute: false, sourceGIDIndex: 0, pathMTU: .bytes4096, port: 1)))
        try side.api.modifyQueuePair(side.qp, .readyToSend(VerbsSendAttributes(sendPacketSequence: sendPSN, rnrRetry: rnrRetry)))
    }

    /// Connects both sides with matching PSNs (A starts at 100, B at 200).
    func connectBoth(rnrRetry: UInt8 = 0) throws {
        try connect(a, to: b, receivePSN: 200, sendPSN: 100, rnrRetry: rnrRetry)
        try connect(b, to: a, receivePSN: 100, sendPSN: 200, rnrRetry: rnrRetry)
    }

    func poll(_ side: Side) throws -> [VerbsCompletion] {
        var out: [VerbsCompletion] = []
        _ = try side.api.pollCompletions(side.cq, maximum: 64, into: &out)
        return out
    }

    func send(from side: Side, offset: Int = 0, length: Int, id: UInt64 = 1, localKey: UInt32? = nil, address: UInt64? = nil) throws {
        try side.api.postSend(
            side.qp,
            VerbsSendRequest(
                workRequestID: id, operation: .send, address: address ?? side.address + UInt64(offset), length: length,
                localKey: localKey ?? side.region.localKey))
    }

    func receive(on side: Side, offset: Int = 2048, length: Int = 1024, id: UInt64 = 9) throws {
        try side.api.postReceive(
            side.qp,
            VerbsReceiveRequest(workRequestID: id, address: side.address + UInt64(offset), length: length, localKey: side.region.localKey))
    }
}

/// Builds two `VerbsTransport`s on a fake fabric, bootstrapped over an in-process network.
enum VerbsFixture {
    static func settings(_ change: (inout VerbsTransportSettings) -> Void = { _ in }) -> VerbsTransportSettings {
        var s = VerbsTransportSettings()
        // Small buffers keep the tests light and make the large-message path and credits busy.
        s.receiveDepth = 8
        s.receiveBufferSize = 4096
        s.landingSlotSize = 64 << 10
        s.landingSlotCount = 2
        s.sendQueueDepth = 32
        s.spinPolls = 50
        s.packetSequenceSeed = 7
        s.rnrRetry = 0
        // Generous: on a 2-core CI machine other suites' long synchronous tests can hold the
        // cooperative threads that carry the bootstrap exchange for seconds.
        s.connectTimeout = .seconds(60)
        change(&s)
        return s
    }

    static func pair(
        fabric: FakeVerbsFabric = FakeVerbsFabric(), hosts: (FakeVerbsFabric.Host, FakeVerbsFabric.Host)? = nil,
        settings: VerbsTransportSettings = settings()
    ) throws -> (VerbsTransport, VerbsTransport) {
        let network = InProcessNetwork()
        let h = hosts ?? (FakeVerbsFabric.Host(index: 0), FakeVerbsFabric.Host(index: 1))
        let t0 = try VerbsTransport(localNode: NodeID(0), bootstrap: network.transport(for: NodeID(0)), settings: settings, api: fabric.api(h.0))
        let t1 = try VerbsTransport(localNode: NodeID(1), bootstrap: network.transport(for: NodeID(1)), settings: settings, api: fabric.api(h.1))
        return (t0, t1)
    }
}

/// Waits (bounded) until `condition` holds.
func eventually(_ what: String, seconds: Int = 60, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool) async throws {
    let clock = ContinuousClock()
    let deadline = clock.now + .seconds(seconds)
    while !condition() {
        guard clock.now < deadline else {
            Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}

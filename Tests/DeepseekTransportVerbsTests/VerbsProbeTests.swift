import DeepseekActors
import DeepseekTestSupport
@testable import DeepseekTransportVerbs
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Whether libibverbs.so.1 can be loaded in this process.
let libibverbsLoadable = (try? LibVerbsAPI.load()) != nil

/// Whether the kernel lists RDMA devices, read from sysfs independently of libibverbs.
let kernelListsRDMADevices: Bool = {
    guard let dir = opendir("/sys/class/infiniband") else { return false }
    defer { closedir(dir) }
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { return true }
    }
    return false
}()

@Suite struct VerbsProbeTests {
    @Test(.enabled(if: libibverbsLoadable && !kernelListsRDMADevices, "needs libibverbs on a host whose kernel lists no RDMA device"))
    func theProbeSaysThereIsNoRDMADeviceHere() {
        let probe = VerbsTransport.probe()
        #expect(!probe.isAvailable)
        #expect(probe.summary == "unavailable: no RDMA device")
        #expect(probe.summary == VerbsProbe.noDevicePhrase)
        #expect(probe.libraryLoaded)
        #expect(probe.devices.isEmpty)
        #expect(probe.description.hasPrefix("unavailable: no RDMA device ("))
        // libibverbs answers ENOSYS when the kernel has no uverbs devices, or lists none.
        if let code = probe.listErrno {
            #expect(code == ENOSYS, "\(probe)")
            #expect(probe.reason?.contains("errno \(ENOSYS)") == true)
        } else {
            #expect(probe.reason?.contains("0 devices") == true)
        }
    }

    @Test(.enabled(if: libibverbsLoadable && !kernelListsRDMADevices, "needs libibverbs on a host whose kernel lists no RDMA device"))
    func theRealVerbsLayerLoadsAndFindsNoDevice() throws {
        let api = try LibVerbsAPI.load()
        do {
            let names = try api.deviceNames()
            #expect(names.isEmpty)
        } catch {
            #expect(error.code == .unavailable && error.errno == ENOSYS, "\(error)")
        }
        #expect { try api.openDevice(named: nil) } throws: { ($0 as? VerbsError)?.code == .unavailable }
        #expect {
            try VerbsTransport(localNode: NodeID(0), bootstrap: InProcessNetwork().transport(for: NodeID(0)))
        } throws: { ($0 as? VerbsError)?.code == .unavailable }
    }

    @Test func theVerdictCoversEveryCase() {
        #expect(VerbsProbe.interpret(deviceCount: 0, devices: []).summary == "unavailable: no RDMA device")
        let down = VerbsProbe.Device(
            name: "mlx5_0", portCount: 1, maximumQueuePairs: 1000, firmware: "1.0", activePortCount: 0, linkLayer: .unspecified)
        let noPort = VerbsProbe.interpret(deviceCount: 1, devices: [down])
        #expect(!noPort.isAvailable && noPort.summary == "unavailable: no active RDMA port")
        #expect(noPort.reason?.contains("mlx5_0 (no port ACTIVE)") == true)
        var up = down
        up.activePortCount = 1
        up.linkLayer = .ethernet
        let ok = VerbsProbe.interpret(deviceCount: 2, devices: [down, up])
        #expect(ok.isAvailable && ok.summary == "available" && ok.reason == nil)
    }
}

/// The verbs calls a transport makes, on one device: two queue pairs connected to each other
/// (loopback through the port), a SEND into a posted receive and an RDMA write into a
/// registered region. Runs on the fake fabric here and on a NIC in `VerbsHardwareTests`.
func loopBack(api: any VerbsAPI, deviceName: String?, gidIndex: Int) throws {
    let device = try api.openDevice(named: deviceName)
    defer { try? api.closeDevice(device) }
    let port = try api.queryPort(device, port: 1)
    try #require(port.isActive, "port 1 of \(device.name) is not ACTIVE")
    let gid = try api.queryGID(device, port: 1, index: gidIndex)
    let domain = try api.allocateProtectionDomain(device)
    defer { try? api.deallocateProtectionDomain(domain) }
    let cq = try api.createCompletionQueue(device, depth: 16)
    defer { try? api.destroyCompletionQueue(cq) }
    let caps = VerbsQueuePairCapabilities(maximumSendRequests: 4, maximumReceiveRequests: 4)
    let q1 = try api.createQueuePair(domain, sendCompletions: cq, receiveCompletions: cq, capabilities: caps)
    defer { try? api.destroyQueuePair(q1) }
    let q2 = try api.createQueuePair(domain, sendCompletions: cq, receiveCompletions: cq, capabilities: caps)
    defer { try? api.destroyQueuePair(q2) }
    let memory = UnsafeMutableRawPointer.allocate(byteCount: 8192, alignment: 4096)
    defer { memory.deallocate() }
    memory.initializeMemory(as: UInt8.self, repeating: 0, count: 8192)
    let region = try api.registerMemory(domain, address: memory, length: 8192, access: [.localWrite, .remoteWrite])
    defer { try? api.deregisterMemory(region) }

    for (qp, peer, psn, peerPSN) in [(q1, q2, UInt32(11), UInt32(22)), (q2, q1, 22, 11)] {
        try api.modifyQueuePair(qp, .initialize(port: 1, access: [.localWrite, .remoteWrite]))
        try api.modifyQueuePair(
            qp,
            .readyToReceive(
                VerbsReceiveAttributes(
                    remoteQueuePair: peer.number, receivePacketSequence: peerPSN, remoteLID: port.lid, remoteGID: gid,
                    useGlobalRoute: port.linkLayer == .ethernet, sourceGIDIndex: UInt8(gidIndex), pathMTU: port.activeMTU, port: 1)))
        try api.modifyQueuePair(qp, .readyToSend(VerbsSendAttributes(sendPacketSequence: psn, rnrRetry: 0)))
    }
    for i in 0..<64 { memory.storeBytes(of: UInt8(i + 1), toByteOffset: i, as: UInt8.self) }
    try api.postReceive(q2, VerbsReceiveRequest(workRequestID: 2, address: region.address + 4096, length: 1024, localKey: region.localKey))
    try api.postSend(q1, VerbsSendRequest(workRequestID: 1, operation: .send, address: region.address, length: 64, localKey: region.localKey))
    try api.postSend(
        q1,
        VerbsSendRequest(
            workRequestID: 3, operation: .rdmaWrite(remoteAddress: region.address + 6144, remoteKey: region.remoteKey), address: region.address,
            length: 64, localKey: region.localKey))
    var completions: [VerbsCompletion] = []
    let deadline = ContinuousClock.now + .seconds(5)
    while completions.count < 3 && ContinuousClock.now < deadline { _ = try api.pollCompletions(cq, maximum: 8, into: &completions) }
    #expect(completions.count == 3 && completions.allSatisfy(\.status.isSuccess), "\(completions)")
    #expect(completions.first { $0.workRequestID == 2 }?.byteCount == 64)
    #expect((0..<64).allSatisfy { memory.load(fromByteOffset: 4096 + $0, as: UInt8.self) == UInt8($0 + 1) }, "SEND payload")
    #expect((0..<64).allSatisfy { memory.load(fromByteOffset: 6144 + $0, as: UInt8.self) == UInt8($0 + 1) }, "RDMA write payload")
}

@Suite struct VerbsLoopbackTests {
    @Test func twoQueuePairsOnOneDeviceExchangeASendAndAWrite() throws {
        try loopBack(api: FakeVerbsFabric().api(FakeVerbsFabric.Host(index: 0)), deviceName: nil, gidIndex: 0)
    }
}

/// Runs only where a NIC is present. On a host with one: `swift test --filter VerbsHardwareTests`
/// (with `DEEPSEEK_VERBS_DEVICE=mlx5_0` to pick a device and `DEEPSEEK_VERBS_GID_INDEX=3` for the
/// RoCE v2 GID, as `ibv_devinfo -v` lists them).
@Suite(.enabled(if: VerbsTransport.probe().isAvailable, "no RDMA device with an active port: these tests need a NIC"))
struct VerbsHardwareTests {
    static var deviceName: String? { getenv("DEEPSEEK_VERBS_DEVICE").map { String(cString: $0) } }
    static var gidIndex: Int { getenv("DEEPSEEK_VERBS_GID_INDEX").flatMap { Int(String(cString: $0)) } ?? 0 }

    @Test func queuePairsLoopBackThroughTheNIC() throws {
        try loopBack(api: try LibVerbsAPI.load(), deviceName: Self.deviceName, gidIndex: Self.gidIndex)
    }

    @Test func passesTheTransportContractOnTheNIC() async throws {
        var settings = VerbsTransportSettings()
        settings.deviceName = Self.deviceName
        settings.gidIndex = Self.gidIndex
        let chosen = settings
        let harness = TransportHarness(name: "verbs on \(Self.deviceName ?? "the first device")") {
            let settings = chosen
            let network = InProcessNetwork()
            return (
                try VerbsTransport(localNode: NodeID(0), bootstrap: network.transport(for: NodeID(0)), settings: settings),
                try VerbsTransport(localNode: NodeID(1), bootstrap: network.transport(for: NodeID(1)), settings: settings)
            )
        }
        try await TransportContract.checkAll(harness)
    }
}

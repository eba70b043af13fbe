/// The verbs operations the RDMA transport performs, as one replaceable layer.
///
/// `LibVerbsAPI` carries each call to libibverbs (loaded with `dlopen`); tests substitute an
/// in-memory fabric that enforces the same rules a NIC does (queue-pair states, registered
/// memory and keys, receive-not-ready), so the transport's logic runs without hardware. Every
/// method is called from the transport's progress thread only, except the device queries.
///
/// Errors carry the errno a real device returned (or the fake's equivalent) in
/// `VerbsError.errno`. Failures of posted work surface later, as `VerbsCompletion`s with a
/// non-success status, exactly as on hardware.
public protocol VerbsAPI: Sendable {
    /// Names of the RDMA devices the host exposes.
    func deviceNames() throws(VerbsError) -> [String]
    /// Opens the device called `name`, or the first one when `name` is nil.
    func openDevice(named name: String?) throws(VerbsError) -> VerbsDevice
    func closeDevice(_ device: VerbsDevice) throws(VerbsError)
    func queryPort(_ device: VerbsDevice, port: UInt8) throws(VerbsError) -> VerbsPortAttributes
    func queryGID(_ device: VerbsDevice, port: UInt8, index: Int) throws(VerbsError) -> VerbsGID

    func allocateProtectionDomain(_ device: VerbsDevice) throws(VerbsError) -> VerbsProtectionDomain
    func deallocateProtectionDomain(_ domain: VerbsProtectionDomain) throws(VerbsError)
    /// Pins and registers `length` bytes at `address`; the NIC may then read or write them.
    func registerMemory(
        _ domain: VerbsProtectionDomain, address: UnsafeMutableRawPointer, length: Int, access: VerbsAccess
    ) throws(VerbsError) -> VerbsMemoryRegion
    func deregisterMemory(_ region: VerbsMemoryRegion) throws(VerbsError)

    func createCompletionQueue(_ device: VerbsDevice, depth: Int) throws(VerbsError) -> VerbsCompletionQueue
    func destroyCompletionQueue(_ queue: VerbsCompletionQueue) throws(VerbsError)
    /// Creates a reliable-connected queue pair in `.reset`.
    func createQueuePair(
        _ domain: VerbsProtectionDomain, sendCompletions: VerbsCompletionQueue, receiveCompletions: VerbsCompletionQueue,
        capabilities: VerbsQueuePairCapabilities
    ) throws(VerbsError) -> VerbsQueuePair
    func destroyQueuePair(_ queuePair: VerbsQueuePair) throws(VerbsError)
    /// Moves a queue pair to another state (`ibv_modify_qp`); illegal transitions fail with EINVAL.
    func modifyQueuePair(_ queuePair: VerbsQueuePair, _ transition: VerbsQueuePairTransition) throws(VerbsError)

    /// Posts one send work request. Only a queue pair in `.readyToSend` accepts sends.
    func postSend(_ queuePair: VerbsQueuePair, _ request: VerbsSendRequest) throws(VerbsError)
    /// Posts one receive buffer. A queue pair in `.reset` refuses receives.
    func postReceive(_ queuePair: VerbsQueuePair, _ request: VerbsReceiveRequest) throws(VerbsError)
    /// Appends up to `maximum` completions to `completions`; returns how many were appended.
    func pollCompletions(
        _ queue: VerbsCompletionQueue, maximum: Int, into completions: inout [VerbsCompletion]
    ) throws(VerbsError) -> Int
}

/// An open device context (`struct ibv_context *`, or a fake's handle).
public struct VerbsDevice: Sendable, Hashable {
    /// The handle: a pointer's bit pattern for libibverbs, an identifier for a fake.
    public var handle: UInt
    public var name: String
    public init(handle: UInt, name: String) {
        self.handle = handle
        self.name = name
    }
}

/// A protection domain (`struct ibv_pd *`): memory and queue pairs must share one to work together.
public struct VerbsProtectionDomain: Sendable, Hashable {
    public var handle: UInt
    public init(handle: UInt) { self.handle = handle }
}

/// A completion queue (`struct ibv_cq *`).
public struct VerbsCompletionQueue: Sendable, Hashable {
    public var handle: UInt
    /// The number of completions it can hold; more outstanding work overruns it.
    public var depth: Int
    public init(handle: UInt, depth: Int) {
        self.handle = handle
        self.depth = depth
    }
}

/// A reliable-connected queue pair (`struct ibv_qp *`) and its 24-bit number.
public struct VerbsQueuePair: Sendable, Hashable {
    public var handle: UInt
    public var number: UInt32
    public init(handle: UInt, number: UInt32) {
        self.handle = handle
        self.number = number
    }
}

/// Registered memory (`struct ibv_mr *`): `localKey` lets this side's work requests use it,
/// `remoteKey` lets a peer read or write it with RDMA.
public struct VerbsMemoryRegion: Sendable, Hashable {
    public var handle: UInt
    public var address: UInt64
    public var length: Int
    public var localKey: UInt32
    public var remoteKey: UInt32
    public init(handle: UInt, address: UInt64, length: Int, localKey: UInt32, remoteKey: UInt32) {
        self.handle = handle
        self.address = address
        self.length = length
        self.localKey = localKey
        self.remoteKey = remoteKey
    }
}

/// What registered memory allows (`IBV_ACCESS_*`).
public struct VerbsAccess: OptionSet, Sendable, Hashable {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let localWrite = VerbsAccess(rawValue: 1)
    public static let remoteWrite = VerbsAccess(rawValue: 1 << 1)
    public static let remoteRead = VerbsAccess(rawValue: 1 << 2)
}

/// Queue depths requested when a queue pair is created.
public struct VerbsQueuePairCapabilities: Sendable, Hashable {
    public var maximumSendRequests: Int
    public var maximumReceiveRequests: Int
    public var maximumInlineBytes: Int
    public init(maximumSendRequests: Int, maximumReceiveRequests: Int, maximumInlineBytes: Int = 0) {
        self.maximumSendRequests = maximumSendRequests
        self.maximumReceiveRequests = maximumReceiveRequests
        self.maximumInlineBytes = maximumInlineBytes
    }
}

/// A port's link layer: native InfiniBand (addressed by LID) or Ethernet (RoCE, addressed by GID).
public enum VerbsLinkLayer: UInt8, Sendable, Hashable {
    case unspecified = 0
    case infiniband = 1
    case ethernet = 2
}

/// Path MTU (`enum ibv_mtu`).
public enum VerbsMTU: UInt8, Sendable, Hashable, Comparable {
    case bytes256 = 1, bytes512, bytes1024, bytes2048, bytes4096
    public var byteCount: Int { 128 << Int(rawValue) }
    public static func < (a: VerbsMTU, b: VerbsMTU) -> Bool { a.rawValue < b.rawValue }
}

/// The properties of a port that connection set-up needs.
public struct VerbsPortAttributes: Sendable, Hashable {
    /// `ibv_port_state`; only `4` (ACTIVE) carries traffic.
    public var state: Int32
    public var activeMTU: VerbsMTU
    public var lid: UInt16
    public var linkLayer: VerbsLinkLayer
    public var gidTableLength: Int
    public var isActive: Bool { state == 4 }
    public init(state: Int32, activeMTU: VerbsMTU, lid: UInt16, linkLayer: VerbsLinkLayer, gidTableLength: Int) {
        self.state = state
        self.activeMTU = activeMTU
        self.lid = lid
        self.linkLayer = linkLayer
        self.gidTableLength = gidTableLength
    }
}

/// A 128-bit global identifier (an IPv6-format address; RoCE derives it from the interface's IP).
public struct VerbsGID: Sendable, Hashable, CustomStringConvertible {
    public var bytes: [UInt8]
    public init(bytes: [UInt8]) {
        precondition(bytes.count == 16, "a GID is 16 bytes, got \(bytes.count)")
        self.bytes = bytes
    }
    public static let zero = VerbsGID(bytes: [UInt8](repeating: 0, count: 16))
    public var isZero: Bool { bytes.allSatisfy { $0 == 0 } }
    public var description: String {
        stride(from: 0, to: 16, by: 2).map { i in
            String(UInt16(bytes[i]) << 8 | UInt16(bytes[i + 1]), radix: 16)
        }.joined(separator: ":")
    }
}

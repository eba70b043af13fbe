import CDeepseekVerbs

#if canImport(Glibc)
import Glibc
#endif

/// Whether the RDMA transport can run on this host, and if not, why — so the node bootstrap can
/// fall back to the io_uring transport and say so.
///
/// ```swift
/// let probe = VerbsTransport.probe()
/// if !probe.isAvailable { print(probe) }   // "unavailable: no RDMA device (…)"
/// ```
///
/// Nothing is opened beyond what listing needs: the probe loads libibverbs, lists devices, and
/// opens each briefly to count its ACTIVE ports.
public struct VerbsProbe: Sendable, CustomStringConvertible {
    /// One RDMA device as the probe saw it.
    public struct Device: Sendable, Hashable {
        public var name: String
        /// Port count, maximum queue pairs and firmware, when the device could be opened and queried.
        public var portCount: Int?
        public var maximumQueuePairs: Int?
        public var firmware: String?
        /// Ports in the ACTIVE state.
        public var activePortCount: Int
        /// Link layer of the first active port.
        public var linkLayer: VerbsLinkLayer
    }

    /// True when libibverbs loaded and at least one device has an active port.
    public var isAvailable: Bool
    /// The short verdict: `"available"`, `"unavailable: no RDMA device"`,
    /// `"unavailable: libibverbs not loadable"`, `"unavailable: no active RDMA port"`, …
    public var summary: String
    /// The details behind the verdict: the library error, the errno of the device listing, the
    /// devices whose ports are down.
    public var reason: String?
    /// Whether libibverbs.so.1 could be loaded.
    public var libraryLoaded: Bool
    /// errno from `ibv_get_device_list` when it failed (ENOSYS: the kernel exposes no RDMA devices).
    public var listErrno: Int32?
    public var devices: [Device]

    /// The phrase the summary carries when the host has no RDMA device at all.
    public static let noDevicePhrase = "unavailable: no RDMA device"

    public var description: String { reason.map { "\(summary) (\($0))" } ?? summary }

    /// Runs the C probe and interprets it.
    static func run() -> VerbsProbe {
        var result = cdsk_verbs_probe_result()
        let status = cdsk_verbs_probe(&result)
        let detail = withUnsafeBytes(of: result.detail) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        switch cdsk_verbs_status(UInt32(status)) {
        case CDSK_VERBS_LIBRARY_MISSING:
            return VerbsProbe(
                isAvailable: false, summary: "unavailable: libibverbs not loadable",
                reason: "\(detail); install libibverbs1 and the provider for the NIC", libraryLoaded: false, listErrno: nil, devices: [])
        case CDSK_VERBS_SYMBOL_MISSING:
            return VerbsProbe(
                isAvailable: false, summary: "unavailable: libibverbs incomplete", reason: detail, libraryLoaded: true, listErrno: nil,
                devices: [])
        case CDSK_VERBS_LIST_FAILED:
            let code = result.list_errno
            // ENOSYS is how libibverbs answers when the kernel has no uverbs devices at all: that is
            // the no-device case, not a malfunction.
            let noDevice = code == ENOSYS || code == ENODEV
            return VerbsProbe(
                isAvailable: false, summary: noDevice ? noDevicePhrase : "unavailable: cannot list RDMA devices",
                reason: "ibv_get_device_list failed with errno \(code) (\(errnoText(code)))"
                    + (code == ENOSYS ? "; the kernel exposes no RDMA devices" : ""),
                libraryLoaded: true, listErrno: code, devices: [])
        default:
            break
        }
        var devices: [Device] = []
        withUnsafeBytes(of: result.devices) { raw in
            let list = raw.bindMemory(to: cdsk_verbs_device.self)
            for i in 0..<min(Int(result.device_count), list.count) {
                let d = list[i]
                let queried = d.queried != 0
                devices.append(
                    Device(
                        name: withUnsafeBytes(of: d.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) },
                        portCount: queried ? Int(d.port_count) : nil, maximumQueuePairs: queried ? Int(d.max_qp) : nil,
                        firmware: queried ? withUnsafeBytes(of: d.firmware) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) } : nil,
                        activePortCount: Int(d.active_port_count), linkLayer: VerbsLinkLayer(rawValue: UInt8(clamping: d.link_layer)) ?? .unspecified))
            }
        }
        return interpret(deviceCount: Int(result.device_count), devices: devices)
    }

    /// The verdict for a successful listing; separate so tests can check every branch.
    static func interpret(deviceCount: Int, devices: [Device]) -> VerbsProbe {
        guard deviceCount > 0 else {
            return VerbsProbe(
                isAvailable: false, summary: noDevicePhrase, reason: "libibverbs loaded but ibv_get_device_list returned 0 devices",
                libraryLoaded: true, listErrno: nil, devices: [])
        }
        guard devices.contains(where: { $0.activePortCount > 0 }) else {
            let names = devices.map { $0.portCount == nil ? "\($0.name) (could not be opened)" : "\($0.name) (no port ACTIVE)" }
            return VerbsProbe(
                isAvailable: false, summary: "unavailable: no active RDMA port",
                reason: "\(names.joined(separator: ", ")); check the cable, the link and (InfiniBand) the subnet manager",
                libraryLoaded: true, listErrno: nil, devices: devices)
        }
        return VerbsProbe(isAvailable: true, summary: "available", reason: nil, libraryLoaded: true, listErrno: nil, devices: devices)
    }
}

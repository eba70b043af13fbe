internal import CDeepseekURing

/// Whether io_uring works in this process, and which of the operations the transport uses the
/// kernel offers.
///
/// ```swift
/// let probe = URingTransport.probe()
/// guard probe.isAvailable else { print("io_uring unavailable: \(probe.reason ?? "")"); return }
/// ```
public struct URingProbe: Sendable, CustomStringConvertible {
    /// True when a ring can be created and every operation the transport needs is supported.
    public var isAvailable: Bool
    /// Why the transport cannot run here, when it cannot.
    public var reason: String?
    /// The kernel release, from uname(2).
    public var kernelRelease: String
    /// Supported operations, by their io_uring names (`ACCEPT`, `SEND_ZC`, …).
    public var supportedOperations: Set<String>

    /// Whether large frames can go out with `IORING_OP_SEND_ZC` (kernel 6.0 and later).
    public var supportsZeroCopySend: Bool { supportedOperations.contains("SEND_ZC") }
    /// Whether reads can land in registered buffers with `IORING_OP_READ_FIXED`.
    public var supportsFixedBufferReads: Bool { supportedOperations.contains("READ_FIXED") }

    /// The operations the transport cannot do without.
    package static let required = ["ACCEPT", "CONNECT", "RECV", "SEND", "READ", "SHUTDOWN", "CLOSE", "ASYNC_CANCEL"]

    public var description: String {
        isAvailable
            ? "io_uring available (kernel \(kernelRelease); \(supportedOperations.sorted().joined(separator: ", ")))"
            : "io_uring unavailable: \(reason ?? "unknown reason")"
    }

    static func run() -> URingProbe {
        var info = cdskur_probe_info()
        let rc = cdskur_probe(&info)
        let release = withUnsafeBytes(of: info.kernel_release) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard rc == 0 else {
            let why = String(cString: cdskur_strerror(info.init_errno))
            return URingProbe(
                isAvailable: false,
                reason: "io_uring_queue_init failed: \(why) (errno \(info.init_errno)); the kernel may lack io_uring or "
                    + "it may be disabled (sysctl kernel.io_uring_disabled, a seccomp filter)",
                kernelRelease: release, supportedOperations: [])
        }
        guard info.has_probe != 0 else {
            return URingProbe(
                isAvailable: false, reason: "the kernel (\(release)) cannot report io_uring opcodes; 5.6 or later is needed",
                kernelRelease: release, supportedOperations: [])
        }
        let table: [(String, Int32)] = [
            ("ACCEPT", info.op_accept), ("CONNECT", info.op_connect), ("RECV", info.op_recv), ("SEND", info.op_send),
            ("SEND_ZC", info.op_send_zc), ("READ", info.op_read), ("READ_FIXED", info.op_read_fixed),
            ("SHUTDOWN", info.op_shutdown), ("CLOSE", info.op_close), ("ASYNC_CANCEL", info.op_cancel),
        ]
        let supported = Set(table.filter { $0.1 != 0 }.map(\.0))
        let missing = required.filter { !supported.contains($0) }
        return URingProbe(
            isAvailable: missing.isEmpty,
            reason: missing.isEmpty ? nil : "the kernel (\(release)) lacks io_uring operations \(missing.joined(separator: ", "))",
            kernelRelease: release, supportedOperations: supported)
    }
}

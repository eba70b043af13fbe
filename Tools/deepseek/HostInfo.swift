import CDeepseekLinux
import CDeepseekVerbs

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The host's operating system and kernel.
struct HostInfo: Codable, Equatable {
    var operatingSystem: String
    var kernel: String
    var architecture: String

    static func probe() -> HostInfo {
        var name = utsname()
        let ok = uname(&name) == 0
        let release = ok ? cString(of: name.release) : "unknown"
        let machine = ok ? cString(of: name.machine) : "unknown"
        let pretty = readText("/etc/os-release").flatMap { text in
            text.split(separator: "\n").first { $0.hasPrefix("PRETTY_NAME=") }
                .map { String($0.dropFirst("PRETTY_NAME=".count)).trimmingQuotes() }
        }
        return HostInfo(operatingSystem: pretty ?? "unknown", kernel: release, architecture: machine)
    }

    var section: TextSection {
        TextSection("Host", [("os", operatingSystem), ("kernel", kernel), ("architecture", architecture)])
    }
}

/// The CPU as Linux describes it in /proc/cpuinfo.
struct CPUInfo: Codable, Equatable {
    var model: String
    var physicalCores: Int
    var logicalCores: Int
    /// The SIMD extensions kernels care about, in a fixed order.
    var simd: [String]

    static let interestingFlags = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_bf16", "amx_tile"]

    static func probe() -> CPUInfo {
        let logicalOnline = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        guard let text = readText("/proc/cpuinfo") else {
            return CPUInfo(model: "unknown (/proc/cpuinfo unreadable)", physicalCores: logicalOnline,
                           logicalCores: logicalOnline, simd: [])
        }
        return parse(cpuinfo: text, fallbackLogical: logicalOnline)
    }

    /// Parses /proc/cpuinfo: one block per logical processor; a physical core is a distinct
    /// (physical id, core id) pair.
    static func parse(cpuinfo text: String, fallbackLogical: Int) -> CPUInfo {
        var model: String?
        var logical = 0
        var cores = Set<String>()
        var physicalID = "0"
        var flags: Set<Substring> = []
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters()
            let value = line[line.index(after: colon)...].trimmingCharacters()
            switch key {
            case "processor": logical += 1
            case "model name": if model == nil { model = value }
            case "physical id": physicalID = value
            case "core id": cores.insert(physicalID + "/" + value)
            case "flags": if flags.isEmpty { flags = Set(value.split(separator: " ")) }
            default: break
            }
        }
        let logicalCount = logical > 0 ? logical : fallbackLogical
        return CPUInfo(
            model: model ?? "unknown",
            physicalCores: cores.isEmpty ? logicalCount : cores.count,
            logicalCores: logicalCount,
            simd: interestingFlags.filter { flags.contains(Substring($0)) })
    }

    var section: TextSection {
        TextSection("CPU", [
            ("model", model), ("physical cores", String(physicalCores)), ("logical cores", String(logicalCores)),
            ("simd", simd.isEmpty ? "none detected" : simd.joined(separator: " ")),
        ])
    }
}

/// Memory from /proc/meminfo.
struct MemoryInfo: Codable, Equatable {
    var totalBytes: UInt64
    var availableBytes: UInt64

    static func probe() -> MemoryInfo {
        var total: UInt64 = 0
        var available: UInt64 = 0
        for line in (readText("/proc/meminfo") ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let kib = UInt64(parts[1]) else { continue }
            if parts[0] == "MemTotal:" { total = kib * 1024 }
            if parts[0] == "MemAvailable:" { available = kib * 1024 }
        }
        if total == 0 {
            total = UInt64(max(0, sysconf(Int32(_SC_PHYS_PAGES)))) * UInt64(max(0, sysconf(Int32(_SC_PAGESIZE))))
        }
        return MemoryInfo(totalBytes: total, availableBytes: available)
    }

    var section: TextSection {
        TextSection("Memory", [("total", Format.gibibytes(totalBytes)), ("available", Format.gibibytes(availableBytes))])
    }
}

/// What io_uring offers, from the C probe.
struct IOURingInfo: Codable, Equatable {
    var available: Bool
    /// Why io_uring cannot be used, when it cannot.
    var reason: String?
    /// The highest opcode the kernel knows.
    var lastOpcode: Int?
    /// Support for the operations the transports use, by liburing name.
    var operations: [String: Bool]

    static let operationOrder = ["SEND", "RECV", "SEND_ZC", "READ_FIXED", "WRITE_FIXED"]

    static func probe() -> IOURingInfo {
        var result = cdsk_uring_probe_result()
        let rc = cdsk_uring_probe(&result)
        guard rc == 0 else {
            let code = result.init_errno
            let why: String
            switch code {
            case ENOSYS: why = "the kernel has no io_uring support (ENOSYS)"
            case EPERM: why = "io_uring is disabled for this process (EPERM: sysctl kernel.io_uring_disabled or a seccomp filter)"
            case ENOMEM: why = "io_uring_queue_init failed: out of locked memory (ENOMEM; raise RLIMIT_MEMLOCK)"
            default: why = "io_uring_queue_init failed: \(String(cString: strerror(code))) (errno \(code))"
            }
            return IOURingInfo(available: false, reason: why, lastOpcode: nil, operations: [:])
        }
        guard result.probe_available != 0 else {
            return IOURingInfo(
                available: true, reason: "the kernel does not answer IORING_REGISTER_PROBE (older than 5.6)",
                lastOpcode: nil, operations: [:])
        }
        return IOURingInfo(
            available: true, reason: nil, lastOpcode: Int(result.last_op),
            operations: [
                "SEND": result.supports_send != 0, "RECV": result.supports_recv != 0,
                "SEND_ZC": result.supports_send_zc != 0, "READ_FIXED": result.supports_read_fixed != 0,
                "WRITE_FIXED": result.supports_write_fixed != 0,
            ])
    }

    var section: TextSection {
        var rows: [(String, String)] = [("available", Format.yesNo(available))]
        if let reason { rows.append(("reason", reason)) }
        if let lastOpcode { rows.append(("last opcode", String(lastOpcode))) }
        for name in Self.operationOrder {
            if let supported = operations[name] { rows.append((name, supported ? "supported" : "not supported")) }
        }
        return TextSection("io_uring", rows)
    }
}

/// RDMA devices seen through libibverbs, from the C probe.
struct RDMAInfo: Codable, Equatable {
    struct Device: Codable, Equatable {
        var name: String
        var ports: Int?
        var maxQueuePairs: Int?
        var firmware: String?
    }

    var available: Bool
    /// Whether libibverbs.so.1 could be loaded.
    var libraryLoaded: Bool
    var devices: [Device]
    /// Why RDMA cannot be used, when it cannot.
    var reason: String?

    static func probe() -> RDMAInfo {
        var result = cdsk_verbs_probe_result()
        let status = cdsk_verbs_probe(&result)
        let detail = cString(of: result.detail)
        switch cdsk_verbs_status(UInt32(status)) {
        case CDSK_VERBS_LIBRARY_MISSING:
            return RDMAInfo(
                available: false, libraryLoaded: false, devices: [],
                reason: "libibverbs is not installed (\(detail)); install libibverbs1 and a provider")
        case CDSK_VERBS_SYMBOL_MISSING, CDSK_VERBS_LIST_FAILED:
            return RDMAInfo(available: false, libraryLoaded: true, devices: [], reason: detail)
        default:
            break
        }
        var devices: [Device] = []
        withUnsafeBytes(of: result.devices) { raw in
            let list = raw.bindMemory(to: cdsk_verbs_device.self)
            for index in 0..<min(Int(result.device_count), list.count) {
                let device = list[index]
                let queried = device.queried != 0
                devices.append(
                    Device(
                        name: cString(of: device.name), ports: queried ? Int(device.port_count) : nil,
                        maxQueuePairs: queried ? Int(device.max_qp) : nil,
                        firmware: queried ? cString(of: device.firmware) : nil))
            }
        }
        if result.device_count == 0 {
            return RDMAInfo(
                available: false, libraryLoaded: true, devices: [],
                reason: detail.isEmpty ? "no RDMA device" : detail)
        }
        return RDMAInfo(available: true, libraryLoaded: true, devices: devices, reason: nil)
    }

    var section: TextSection {
        var rows: [(String, String)] = [
            ("available", Format.yesNo(available)), ("libibverbs", libraryLoaded ? "loaded" : "missing"),
            ("devices", String(devices.count)),
        ]
        if let reason { rows.append(("reason", reason)) }
        for device in devices {
            var text = device.name
            if let ports = device.ports { text += ", \(ports) port(s)" }
            if let maxQueuePairs = device.maxQueuePairs { text += ", max QP \(maxQueuePairs)" }
            if let firmware = device.firmware, !firmware.isEmpty { text += ", firmware \(firmware)" }
            rows.append(("device", text))
        }
        return TextSection("RDMA", rows)
    }
}

// MARK: - Small helpers

/// The contents of a small text file (procfs), or `nil` when it cannot be read.
func readText(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        if count <= 0 { break }
        bytes += buffer[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// A NUL-terminated C character array imported as a tuple, as a Swift string.
func cString<T>(of tuple: T) -> String {
    withUnsafeBytes(of: tuple) { raw in
        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs.
    func trimmingCharacters() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let start = firstIndex(where: { !isBlank($0) }) else { return "" }
        let end = lastIndex(where: { !isBlank($0) })!
        return String(self[start...end])
    }

    /// The string without surrounding double quotes.
    func trimmingQuotes() -> String {
        var text = String(self)
        if text.hasPrefix("\""), text.hasSuffix("\""), text.count >= 2 { text = String(text.dropFirst().dropLast()) }
        return text
    }
}

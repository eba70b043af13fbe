import DeepseekKernelsBLAS
import DeepseekKernelsOpenCL

// The BLAS and OpenCL sections of `deepseek info`, kept apart because they follow the kernel
// modules' APIs (`OpenBLAS.report`, `OpenCLProbe`).

/// The BLAS section: which OpenBLAS was loaded, on which kernel, and whether it was verified.
struct BLASInfo: Codable, Equatable {
    var available: Bool
    var library: String
    var coreType: String
    var selection: String
    var threads: Int
    var verified: Bool
    var detail: String

    init(_ report: BLASReport) {
        available = report.isLoaded
        library = report.library
        coreType = report.coreType
        selection = report.selection
        threads = report.threads
        verified = report.verified
        detail = report.detail
    }

    var section: TextSection {
        TextSection("BLAS", [
            ("available", Format.yesNo(available)), ("library", library), ("core type", coreType),
            ("selection", selection), ("threads", String(threads)), ("verified", Format.yesNo(verified)),
            ("detail", detail),
        ])
    }
}

/// The OpenCL section: platforms and devices, or why there are none.
struct OpenCLInfo: Codable, Equatable {
    struct Device: Codable, Equatable {
        var platform: String
        var name: String
        var kind: String
        var version: String
        var computeUnits: Int
        var globalMemoryBytes: Int
        var supportsFloat64: Bool
    }

    var available: Bool
    var reason: String?
    var platforms: [String]
    var devices: [Device]

    init(_ probe: OpenCLProbe) {
        available = probe.isAvailable
        reason = probe.unavailableReason
        platforms = probe.platforms.map { "\($0.name) (\($0.vendor)), \($0.version)" }
        devices = probe.platforms.flatMap { platform in
            platform.devices.map { device in
                Device(
                    platform: platform.name, name: device.name, kind: device.kind, version: device.version,
                    computeUnits: device.computeUnits, globalMemoryBytes: device.globalMemoryBytes,
                    supportsFloat64: device.supportsFloat64)
            }
        }
    }

    var section: TextSection {
        var rows: [(String, String)] = [("available", Format.yesNo(available))]
        if let reason { rows.append(("reason", reason)) }
        for platform in platforms { rows.append(("platform", platform)) }
        for device in devices {
            let memory = Format.gibibytes(UInt64(max(0, device.globalMemoryBytes)))
            rows.append((
                "device",
                "\(device.name) [\(device.kind)], \(device.computeUnits) compute units, \(memory), "
                    + "fp64 \(Format.yesNo(device.supportsFloat64))\n\(device.version)"
            ))
        }
        return TextSection("OpenCL", rows)
    }
}

extension InfoCommand {
    /// Loads OpenBLAS (with the default settings, as the CPU backend would) and reports it.
    static func blasSection() -> BLASInfo {
        BLASInfo(OpenBLAS.report)
    }

    /// Probes the OpenCL platforms and devices.
    static func openCLSection() -> OpenCLInfo {
        OpenCLInfo(OpenCLBackend.probe())
    }
}

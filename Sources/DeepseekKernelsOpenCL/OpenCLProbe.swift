import CDeepseekOpenCL
import DeepseekTensor

/// What OpenCL this host offers: its platforms and devices, or why there are none.
///
/// `deepseek info` prints it. Probing loads the ICD loader and asks each driver for its devices;
/// it creates no context and compiles nothing, so it is cheap.
///
/// ```swift
/// let probe = OpenCLBackend.probe()
/// if let reason = probe.unavailableReason { print("OpenCL unavailable: \(reason)") }
/// ```
public struct OpenCLProbe: Sendable, CustomStringConvertible {
    /// One OpenCL platform (driver) and its devices.
    public struct Platform: Sendable {
        public var name: String
        public var vendor: String
        public var version: String
        public var devices: [Device]
    }

    /// One device and the properties that matter for choosing and tuning kernels.
    public struct Device: Sendable {
        public var name: String
        public var vendor: String
        /// The OpenCL version the device supports ("OpenCL 3.0 PoCL …").
        public var version: String
        public var driverVersion: String
        /// The OpenCL C language version kernels are compiled for.
        public var openCLCVersion: String
        /// `cpu`, `gpu`, `accelerator` or `other`.
        public var kind: String
        public var computeUnits: Int
        public var globalMemoryBytes: Int
        public var maxAllocationBytes: Int
        public var maxWorkGroupSize: Int
        /// The alignment in bytes a host pointer needs to be used in place (CL_MEM_USE_HOST_PTR).
        public var baseAddressAlignment: Int
        /// Whether the device computes in double precision (`cl_khr_fp64`).
        public var supportsFloat64: Bool
        /// Whether the device has half-precision arithmetic (`cl_khr_fp16`); the backend never
        /// needs it, since it converts half types to float32 for arithmetic.
        public var supportsFloat16: Bool
    }

    /// Every platform the ICD loader reports, with its devices.
    public var platforms: [Platform]
    /// Why OpenCL cannot be used here (no library, no platform, no device), or `nil`.
    public var unavailableReason: String?

    /// Whether at least one OpenCL device can run the backend.
    public var isAvailable: Bool { unavailableReason == nil }

    /// Every device, in platform order.
    public var devices: [Device] { platforms.flatMap(\.devices) }

    public var description: String {
        if let unavailableReason { return "OpenCL: unavailable (\(unavailableReason))" }
        var lines: [String] = []
        for (p, platform) in platforms.enumerated() {
            lines.append("OpenCL platform \(p): \(platform.name) (\(platform.vendor)), \(platform.version)")
            for (d, device) in platform.devices.enumerated() {
                let memory = Double(device.globalMemoryBytes) / Double(1 << 30)
                let memoryText = String(Int(memory * 10) / 10) + "." + String(Int(memory * 10) % 10)
                lines.append("  device \(d): \(device.name) [\(device.kind)], \(device.vendor)")
                lines.append(
                    "    \(device.version); \(device.openCLCVersion); driver \(device.driverVersion)")
                lines.append(
                    "    \(device.computeUnits) compute units, \(memoryText) GiB global memory, max work-group \(device.maxWorkGroupSize), fp64 \(device.supportsFloat64 ? "yes" : "no"), fp16 \(device.supportsFloat16 ? "yes" : "no")"
                )
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Probes the host. Never throws: every failure becomes `unavailableReason`.
    static func run() -> OpenCLProbe {
        guard let api = OpenCLAPI.shared else {
            return OpenCLProbe(platforms: [], unavailableReason: OpenCLAPI.loadError)
        }
        do {
            let ids = try api.platformIDs()
            guard !ids.isEmpty else {
                return OpenCLProbe(
                    platforms: [],
                    unavailableReason:
                        "no OpenCL platform: the ICD loader found no driver (install one, e.g. pocl-opencl-icd or a GPU driver)")
            }
            var platforms: [Platform] = []
            for id in ids {
                let devices = try api.deviceIDs(id).map { d throws(TensorError) in try describe(api, d) }
                platforms.append(
                    Platform(
                        name: try api.platformString(id, CL_PLATFORM_NAME),
                        vendor: try api.platformString(id, CL_PLATFORM_VENDOR),
                        version: try api.platformString(id, CL_PLATFORM_VERSION), devices: devices))
            }
            if platforms.allSatisfy({ $0.devices.isEmpty }) {
                let names = platforms.map(\.name).joined(separator: ", ")
                return OpenCLProbe(platforms: platforms, unavailableReason: "no OpenCL device: platforms \(names) list none")
            }
            return OpenCLProbe(platforms: platforms, unavailableReason: nil)
        } catch {
            return OpenCLProbe(platforms: [], unavailableReason: "probing failed: \(error.message)")
        }
    }

    static func describe(_ api: OpenCLAPI, _ d: cl_device_id) throws(TensorError) -> Device {
        let type = try api.deviceValue(d, CL_DEVICE_TYPE, as: cl_device_type.self)
        let kind =
            type & cdsk_CL_DEVICE_TYPE_GPU != 0
            ? "gpu"
            : type & cdsk_CL_DEVICE_TYPE_CPU != 0 ? "cpu" : type & cdsk_CL_DEVICE_TYPE_ACCELERATOR != 0 ? "accelerator" : "other"
        let extensions = try api.deviceString(d, CL_DEVICE_EXTENSIONS).split(separator: " ").map(String.init)
        return Device(
            name: try api.deviceString(d, CL_DEVICE_NAME),
            vendor: try api.deviceString(d, CL_DEVICE_VENDOR),
            version: try api.deviceString(d, CL_DEVICE_VERSION),
            driverVersion: try api.deviceString(d, CL_DRIVER_VERSION),
            openCLCVersion: try api.deviceString(d, CL_DEVICE_OPENCL_C_VERSION),
            kind: kind,
            computeUnits: Int(try api.deviceValue(d, CL_DEVICE_MAX_COMPUTE_UNITS, as: cl_uint.self)),
            globalMemoryBytes: Int(clamping: try api.deviceValue(d, CL_DEVICE_GLOBAL_MEM_SIZE, as: cl_ulong.self)),
            maxAllocationBytes: Int(clamping: try api.deviceValue(d, CL_DEVICE_MAX_MEM_ALLOC_SIZE, as: cl_ulong.self)),
            maxWorkGroupSize: Int(try api.deviceValue(d, CL_DEVICE_MAX_WORK_GROUP_SIZE, as: Int.self)),
            baseAddressAlignment: max(1, Int(try api.deviceValue(d, CL_DEVICE_MEM_BASE_ADDR_ALIGN, as: cl_uint.self)) / 8),
            supportsFloat64: extensions.contains("cl_khr_fp64"),
            supportsFloat16: extensions.contains("cl_khr_fp16"))
    }
}

import CDeepseekOpenCL
import DeepseekTensor

/// Which device an `OpenCLBackend` runs on.
public enum OpenCLDeviceSelection: Sendable, Hashable {
    /// The first GPU, else the first device of any kind.
    case `default`
    /// Device `device` of platform `platform`, as numbered by `OpenCLBackend.probe()`.
    case index(platform: Int, device: Int)
    /// The first device whose name contains the text (case-insensitive).
    case named(String)
}

/// The matrix-product kernel a backend uses.
public enum OpenCLMatmulKernel: String, Sendable, Hashable, CaseIterable {
    /// Packed panels and an 8×32 (float) or 8×16 (double) register tile per work-item.
    case registerBlocked
    /// One output element per work-item, straight from the operands: a baseline for benchmarks.
    case naive
}

/// A kernel backend that runs tensor operations as OpenCL kernels.
///
/// Tuned for PoCL on CPUs and correct on any OpenCL 1.2 device. Tensors stay in host memory;
/// buffers wrap that memory in place where the device's alignment allows (a CPU device then
/// computes on it directly) and copy otherwise. Each program is compiled once per backend, on
/// first use; `warmUp()` compiles them ahead.
///
/// Dtypes:
/// - `float32` runs on the device; `float64` too when the device has `cl_khr_fp64`.
/// - `float16` and `bfloat16` are converted to `float32` on the device, computed, and converted
///   back (rounding once, to nearest even), as the reference computes half types in wider precision.
/// - Data movement that ignores values — `copy`, `select`, `gather`, `concat` — runs on the
///   device for every dtype.
/// - Other operations on integer and `bool` tensors, and float64 on devices without fp64, are
///   delegated to `ReferenceBackend`: honest, exact, and slow. Integer arithmetic is not what
///   this backend is for.
///
/// ```swift
/// let backend = try OpenCLBackend()
/// let y = try KernelBackends.using(backend) { try x.matmul(w).relu() }
/// ```
public struct OpenCLBackend: KernelBackend {
    let runtime: OpenCLRuntime
    let reference = ReferenceBackend()

    /// The matrix-product kernel; `.naive` exists for benchmarks.
    public var matmulKernel: OpenCLMatmulKernel

    /// The device this backend runs on.
    public var device: OpenCLProbe.Device { runtime.info }

    public var name: String { "opencl:\(runtime.info.name)" }

    private static let probed = OpenCLProbe.run()

    /// The platforms and devices of this host, or why OpenCL is unavailable (computed once).
    public static func probe() -> OpenCLProbe { probed }

    /// Whether an OpenCL device exists here.
    public static var isAvailable: Bool { probed.isAvailable }

    /// Why OpenCL is unavailable (no library, no platform, no device), or `nil`.
    public static var unavailableReason: String? { probed.unavailableReason }

    /// Creates a context and an in-order queue on the selected device.
    ///
    /// - Throws: `TensorError.unsupported` when OpenCL or the device is missing (the message says
    ///   which), `TensorError.backendFailure` when the driver refuses the context.
    public init(device selection: OpenCLDeviceSelection = .default, matmulKernel: OpenCLMatmulKernel = .registerBlocked)
        throws
    {
        try self.init(device: selection, matmulKernel: matmulKernel, inPlaceAlignment: nil)
    }

    /// The alignment at which tensor storage is computed on in place; less aligned storage is
    /// copied to and from the device. Measured once per backend (see `OpenCLRuntime`).
    public var hostMemoryAlignment: Int { runtime.inPlaceAlignment }

    init(device selection: OpenCLDeviceSelection, matmulKernel: OpenCLMatmulKernel, inPlaceAlignment: Int?) throws {
        let probe = Self.probed
        guard let api = OpenCLAPI.shared, probe.isAvailable else {
            throw TensorError(.unsupported, "opencl: unavailable: \(probe.unavailableReason ?? "unknown reason")")
        }
        let platforms = try api.platformIDs()
        var candidates: [(platform: Int, device: Int, id: cl_device_id, info: OpenCLProbe.Device)] = []
        for (p, platform) in platforms.enumerated() {
            for (d, id) in try api.deviceIDs(platform).enumerated() {
                candidates.append((p, d, id, try OpenCLProbe.describe(api, id)))
            }
        }
        let chosen: (platform: Int, device: Int, id: cl_device_id, info: OpenCLProbe.Device)?
        switch selection {
        case .default: chosen = candidates.first { $0.info.kind == "gpu" } ?? candidates.first
        case .index(let p, let d): chosen = candidates.first { $0.platform == p && $0.device == d }
        case .named(let text): chosen = candidates.first { $0.info.name.lowercased().contains(text.lowercased()) }
        }
        guard let chosen else {
            let list = candidates.map { "[\($0.platform), \($0.device)] \($0.info.name)" }.joined(separator: "; ")
            throw TensorError(.unsupported, "opencl: no device matches \(selection); devices: \(list)")
        }
        self.runtime = try OpenCLRuntime(api: api, device: chosen.id, info: chosen.info, inPlaceAlignment: inPlaceAlignment)
        self.matmulKernel = matmulKernel
    }

    /// Compiles every program this backend uses for the given dtypes, so first calls are fast.
    ///
    /// PoCL compiles a program in seconds the first time and then serves it from its disk cache.
    public func warmUp(dtypes: [DType] = [.float32]) throws {
        try runtime.build(.movement)
        for dtype in dtypes {
            guard let p = native(dtype) ?? (dtype == .float16 || dtype == .bfloat16 ? .single : nil) else { continue }
            try runtime.build(.elementwise(p))
            try runtime.build(.reduction(p))
            try runtime.build(.linearAlgebra(p))
        }
    }

    // MARK: Dtype routing

    /// The precision `dtype` computes in natively on this device, or `nil`.
    func native(_ dtype: DType) -> Precision? {
        switch dtype {
        case .float32: .single
        case .float64: runtime.info.supportsFloat64 ? .double : nil
        default: nil
        }
    }

    /// Whether `dtype` is a half type computed through float32.
    func isHalf(_ dtype: DType) -> Bool { dtype == .float16 || dtype == .bfloat16 }

    /// Runs `body` on float32 versions of half-precision `inputs` and converts float outputs back.
    ///
    /// - Precondition: every input has the same half dtype.
    func viaFloat32(_ inputs: [Tensor], _ body: ([Tensor]) throws -> Tensor) throws -> Tensor {
        let dtype = inputs[0].dtype
        let wide = try inputs.map { try castFloats($0, to: .float32) }
        let result = try body(wide)
        return result.dtype == .float32 ? try castFloats(result, to: dtype) : result
    }
}

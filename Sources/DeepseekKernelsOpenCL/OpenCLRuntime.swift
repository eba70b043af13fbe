import CDeepseekOpenCL
import DeepseekTensor
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The arithmetic precision a program is compiled for.
enum Precision: Hashable, Sendable {
    case single, double

    var typeName: String { self == .single ? "float" : "double" }
    var byteSize: Int { self == .single ? 4 : 8 }
    var dtype: DType { self == .single ? .float32 : .float64 }
}

/// The programs of the backend; each is built once per context, on first use.
enum ProgramKind: Hashable, Sendable, CustomStringConvertible {
    /// Copy, select, gather for every element size, and float-format conversions.
    case movement
    case elementwise(Precision)
    case reduction(Precision)
    case linearAlgebra(Precision)

    var source: String {
        switch self {
        case .movement: KernelSource.movement
        case .elementwise: KernelSource.elementwise
        case .reduction: KernelSource.reduction
        case .linearAlgebra: KernelSource.linearAlgebra
        }
    }

    var precision: Precision {
        switch self {
        case .movement: .single
        case .elementwise(let p), .reduction(let p), .linearAlgebra(let p): p
        }
    }

    var description: String {
        switch self {
        case .movement: "movement"
        case .elementwise(let p): "elementwise<\(p.typeName)>"
        case .reduction(let p): "reduction<\(p.typeName)>"
        case .linearAlgebra(let p): "linearAlgebra<\(p.typeName)>"
        }
    }

    /// Build options: the element type, the accumulator, and the vector width of the gemm tile.
    func options(fp64: Bool) -> String {
        let p = precision
        var options = "-cl-std=CL1.2 -DT=\(p.typeName) -DACC=\(fp64 ? "double" : "float") -DVW=\(p == .single ? 16 : 8)"
        if fp64 { options += " -DUSE_FP64" }
        return options
    }
}

/// One argument of a kernel launch.
enum KernelArgument {
    case buffer(DeviceBuffer?)
    case int(Int32)
    case long(Int)
    case float(Float)
    case double(Double)
    /// Up to eight values passed as an OpenCL `long8` (shapes and strides of up to six axes).
    case long8([Int])

    static func int(_ v: Int) -> KernelArgument { .int(Int32(truncatingIfNeeded: v)) }
}

/// An OpenCL context, in-order command queue and program cache on one device.
///
/// OpenCL handles may be used from any thread (the specification makes every call thread-safe
/// except `clSetKernelArg` on a shared kernel object), so this class is `@unchecked Sendable`:
/// the one mutable part — the program and kernel caches plus the argument-setting of a launch —
/// is guarded by a mutex.
final class OpenCLRuntime: @unchecked Sendable {
    let api: OpenCLAPI
    let device: cl_device_id
    let context: cl_context
    let queue: cl_command_queue
    let info: OpenCLProbe.Device

    /// Built programs and created kernels, by key; handles are stored as integers because
    /// OpenCL's opaque pointers are not `Sendable`.
    private struct Cache {
        var programs: [String: UInt] = [:]
        var kernels: [String: UInt] = [:]
    }
    private let cache = Mutex(Cache())
    private let measuredAlignment: Mutex<Int?>

    /// - Parameter inPlaceAlignment: fixes the alignment for in-place host memory instead of
    ///   measuring it (tests use a huge value to exercise the copying path).
    init(api: OpenCLAPI, device: cl_device_id, info: OpenCLProbe.Device, inPlaceAlignment: Int? = nil) throws(TensorError) {
        self.api = api
        self.measuredAlignment = Mutex(inPlaceAlignment)
        self.device = device
        self.info = info
        var status: cl_int = 0
        var dev: cl_device_id? = device
        guard let context = api.fn.clCreateContext!(nil, 1, &dev, nil, nil, &status), status == cdsk_CL_SUCCESS else {
            throw OpenCLAPI.failure(status, "clCreateContext")
        }
        self.context = context
        // Profiling stays on: it costs nothing measurable on PoCL and lets benchmarks read kernel times.
        var queue: cl_command_queue?
        if let create = api.fn.clCreateCommandQueueWithProperties {
            var properties: [cl_queue_properties] = [
                cdsk_CL_QUEUE_PROPERTIES, cl_queue_properties(cdsk_CL_QUEUE_PROFILING_ENABLE), 0,
            ]
            queue = create(context, device, &properties, &status)
        }
        if queue == nil {
            queue = api.fn.clCreateCommandQueue!(context, device, cdsk_CL_QUEUE_PROFILING_ENABLE, &status)
        }
        guard let queue, status == cdsk_CL_SUCCESS else {
            _ = api.fn.clReleaseContext!(context)
            throw OpenCLAPI.failure(status, "clCreateCommandQueue")
        }
        self.queue = queue
    }

    deinit {
        let (programs, kernels) = cache.withLock { ($0.programs.values.map { $0 }, $0.kernels.values.map { $0 }) }
        for k in kernels { _ = api.fn.clReleaseKernel!(OpaquePointer(bitPattern: k)) }
        for p in programs { _ = api.fn.clReleaseProgram!(OpaquePointer(bitPattern: p)) }
        _ = api.fn.clReleaseCommandQueue!(queue)
        _ = api.fn.clReleaseContext!(context)
    }

    // MARK: Host memory

    /// The alignment a host pointer needs for the device to compute on it in place.
    ///
    /// The device reports the alignment of its own allocations (`CL_DEVICE_MEM_BASE_ADDR_ALIGN`,
    /// 128 bytes on PoCL); tensor storage guarantees 64. Some drivers use a less aligned
    /// `CL_MEM_USE_HOST_PTR` pointer in place anyway, others keep a hidden copy. This is measured
    /// once: a kernel writes through a buffer over 64-byte-aligned memory and the host reads that
    /// memory *before* mapping it — only an in-place buffer shows the writes then.
    var inPlaceAlignment: Int {
        measuredAlignment.withLock { cached in
            if let cached { return cached }
            let reported = info.baseAddressAlignment
            let value = reported > 64 && usesInPlace(alignment: 64) ? 64 : reported
            cached = value
            return value
        }
    }

    private func usesInPlace(alignment: Int) -> Bool {
        var raw: UnsafeMutableRawPointer?
        guard posix_memalign(&raw, 4096, 8192) == 0, let raw else { return false }
        defer { free(raw) }
        let target = raw + alignment  // aligned to `alignment`, not to twice that
        let count = 16
        let values = (0..<count).map { Float($0 + 1) }
        target.initializeMemory(as: Float.self, repeating: 0, count: count)
        var status: cl_int = 0
        let bytes = count * 4
        guard
            let output = api.fn.clCreateBuffer!(
                context, cdsk_CL_MEM_READ_WRITE | cdsk_CL_MEM_USE_HOST_PTR, bytes, target, &status)
        else { return false }
        defer { _ = api.fn.clReleaseMemObject!(output) }
        let input = values.withUnsafeBytes { source in
            api.fn.clCreateBuffer!(
                context, cdsk_CL_MEM_READ_ONLY | cdsk_CL_MEM_COPY_HOST_PTR, bytes, UnsafeMutableRawPointer(mutating: source.baseAddress),
                &status)
        }
        guard let input else { return false }
        defer { _ = api.fn.clReleaseMemObject!(input) }
        let wrap = { (mem: cl_mem) -> DeviceBuffer in DeviceBuffer(borrowing: mem, self) }
        let shape = [1, 1, 1, 1, 1, count]
        do {
            try launch(
                .movement, "copy4", global: [1, 1],
                [
                    .buffer(wrap(output)), .long(0), .long8([0, 0, 0, 0, 0, 1]), .buffer(wrap(input)), .long(0), .long8(shape),
                    .long8([0, 0, 0, 0, 0, 1]), .long(count),
                ])
            try finish()
        } catch {
            return false
        }
        let seen = (0..<count).map { target.load(fromByteOffset: $0 * 4, as: Float.self) }
        // Map and unmap before release, as the specification asks of host-pointer buffers.
        if let mapped = api.fn.clEnqueueMapBuffer!(queue, output, cl_bool(CL_TRUE), cdsk_CL_MAP_READ, 0, bytes, 0, nil, nil, &status) {
            _ = api.fn.clEnqueueUnmapMemObject!(queue, output, mapped, 0, nil, nil)
            _ = api.fn.clFinish!(queue)
        }
        return seen == values
    }

    // MARK: Programs

    /// The built program for `kind`, building it on first use (thread-safe; callers hold `cache`).
    private func program(_ kind: ProgramKind, in cache: inout Cache) throws(TensorError) -> cl_program {
        let options = kind.options(fp64: info.supportsFloat64)
        let key = options + "\n" + kind.source
        if let p = cache.programs[key] { return OpaquePointer(bitPattern: p)! }
        var status: cl_int = 0
        let source = kind.source
        let program: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            return api.fn.clCreateProgramWithSource!(context, 1, &pointer, nil, &status)
        }
        guard let program, status == cdsk_CL_SUCCESS else { throw OpenCLAPI.failure(status, "clCreateProgramWithSource(\(kind))") }
        var dev: cl_device_id? = device
        status = options.withCString { api.fn.clBuildProgram!(program, 1, &dev, $0, nil, nil) }
        guard status == cdsk_CL_SUCCESS else {
            let log = buildLog(program)
            _ = api.fn.clReleaseProgram!(program)
            throw OpenCLAPI.failure(status, "clBuildProgram(\(kind), \(options))", detail: "build log:\n" + log)
        }
        cache.programs[key] = UInt(bitPattern: program)
        return program
    }

    private func buildLog(_ program: cl_program) -> String {
        var size = 0
        let info = cl_program_build_info(CL_PROGRAM_BUILD_LOG)
        guard api.fn.clGetProgramBuildInfo!(program, device, info, 0, nil, &size) == cdsk_CL_SUCCESS, size > 0 else {
            return "(no build log)"
        }
        var bytes = [CChar](repeating: 0, count: size + 1)
        _ = api.fn.clGetProgramBuildInfo!(program, device, info, size, &bytes, nil)
        return bytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// How many programs this context has built (each kind at most once).
    var builtProgramCount: Int { cache.withLock { $0.programs.count } }

    /// Builds `kind` now (so later launches do not pay for compilation).
    func build(_ kind: ProgramKind) throws(TensorError) {
        try cache.withLock { (c: inout Cache) throws(TensorError) in _ = try program(kind, in: &c) }
    }

    // MARK: Launching

    /// Enqueues `name` from `program` over `global` work-items in work-groups of `local` (1 in
    /// every dimension by default; it must match the kernel's required work-group size).
    ///
    /// Returns the launch's event when `profile` is set (for kernel timings), else `nil`. A launch
    /// with no work-items enqueues nothing.
    @discardableResult
    func launch(
        _ kind: ProgramKind, _ name: String, global: [Int], local: [Int]? = nil, _ arguments: [KernelArgument],
        profile: Bool = false
    ) throws(TensorError) -> KernelEvent? {
        precondition((1...3).contains(global.count), "launch: 1 to 3 dimensions")
        let local = local ?? [Int](repeating: 1, count: global.count)
        precondition(local.count == global.count && zip(global, local).allSatisfy { $0 % $1 == 0 }, "launch: local size must divide global size")
        if global.contains(where: { $0 <= 0 }) { return nil }
        let event = try cache.withLock { (c: inout Cache) throws(TensorError) -> UInt in
            let kernel = try self.kernel(kind, name, in: &c)
            for (index, argument) in arguments.enumerated() {
                try set(kernel, UInt32(index), argument, name)
            }
            var sizes = global
            var local = local
            var event: cl_event?
            let status =
                profile
                ? api.fn.clEnqueueNDRangeKernel!(queue, kernel, cl_uint(global.count), nil, &sizes, &local, 0, nil, &event)
                : api.fn.clEnqueueNDRangeKernel!(queue, kernel, cl_uint(global.count), nil, &sizes, &local, 0, nil, nil)
            try OpenCLAPI.check(status, "clEnqueueNDRangeKernel(\(name), global \(global))")
            return event.map { UInt(bitPattern: $0) } ?? 0
        }
        return event == 0 ? nil : KernelEvent(api: api, event: OpaquePointer(bitPattern: event)!)
    }

    private func kernel(_ kind: ProgramKind, _ name: String, in cache: inout Cache) throws(TensorError) -> cl_kernel {
        let key = "\(kind)/\(name)"
        if let k = cache.kernels[key] { return OpaquePointer(bitPattern: k)! }
        let program = try program(kind, in: &cache)
        var status: cl_int = 0
        guard let kernel = api.fn.clCreateKernel!(program, name, &status), status == cdsk_CL_SUCCESS else {
            throw OpenCLAPI.failure(status, "clCreateKernel(\(name))")
        }
        cache.kernels[key] = UInt(bitPattern: kernel)
        return kernel
    }

    private func set(_ kernel: cl_kernel, _ index: UInt32, _ argument: KernelArgument, _ name: String) throws(TensorError) {
        let status: cl_int
        switch argument {
        case .buffer(let b):
            var mem: cl_mem? = b?.mem
            status = api.fn.clSetKernelArg!(kernel, index, MemoryLayout<cl_mem?>.size, &mem)
        case .int(var v): status = api.fn.clSetKernelArg!(kernel, index, 4, &v)
        case .long(let v):
            var x = Int64(v)
            status = api.fn.clSetKernelArg!(kernel, index, 8, &x)
        case .float(var v): status = api.fn.clSetKernelArg!(kernel, index, 4, &v)
        case .double(var v): status = api.fn.clSetKernelArg!(kernel, index, 8, &v)
        case .long8(let values):
            precondition(values.count <= 8, "long8 holds at most 8 values")
            var x = (values + Array(repeating: 0, count: 8 - values.count)).map { Int64($0) }
            status = api.fn.clSetKernelArg!(kernel, index, 64, &x)
        }
        try OpenCLAPI.check(status, "clSetKernelArg(\(name), argument \(index))")
    }

    /// Waits for every command enqueued so far.
    func finish() throws(TensorError) {
        try OpenCLAPI.check(api.fn.clFinish!(queue), "clFinish")
    }
}

/// A completed or pending kernel launch, for profiling.
final class KernelEvent {
    let api: OpenCLAPI
    let event: cl_event

    init(api: OpenCLAPI, event: cl_event) {
        self.api = api
        self.event = event
    }

    deinit { _ = api.fn.clReleaseEvent!(event) }

    /// Device time from start to end of the kernel, in seconds (waits for it to finish).
    func seconds() throws(TensorError) -> Double {
        var e: cl_event? = event
        try OpenCLAPI.check(api.fn.clWaitForEvents!(1, &e), "clWaitForEvents")
        var start: cl_ulong = 0
        var end: cl_ulong = 0
        try OpenCLAPI.check(
            api.fn.clGetEventProfilingInfo!(event, cl_profiling_info(CL_PROFILING_COMMAND_START), 8, &start, nil),
            "clGetEventProfilingInfo")
        try OpenCLAPI.check(
            api.fn.clGetEventProfilingInfo!(event, cl_profiling_info(CL_PROFILING_COMMAND_END), 8, &end, nil),
            "clGetEventProfilingInfo")
        return Double(end &- start) * 1e-9
    }
}

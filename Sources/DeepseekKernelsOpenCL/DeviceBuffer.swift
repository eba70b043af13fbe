import CDeepseekOpenCL
import DeepseekTensor

/// An OpenCL buffer over a tensor's host storage, or a scratch buffer of the device.
///
/// Tensors live in host memory. On a CPU device such as PoCL a buffer created with
/// `CL_MEM_USE_HOST_PTR` *is* that memory, so wrapping costs nothing; when the storage is not
/// aligned as the device needs for that (`OpenCLRuntime.inPlaceAlignment`), inputs are copied in
/// (`CL_MEM_COPY_HOST_PTR`) and outputs read back instead. The buffer keeps the storage alive
/// until it is released.
final class DeviceBuffer {
    let mem: cl_mem
    private let runtime: OpenCLRuntime
    /// The tensor storage the buffer reads from or writes to (kept alive), if any.
    private let storage: TensorStorage?
    /// Whether OpenCL uses the host memory of `storage` in place.
    private let inPlace: Bool
    /// Pool memory a scratch buffer uses in place (kept alive; never read back).
    private let keepAlive: TensorStorage?
    /// Whether this object owns (and releases) `mem`.
    private let owned: Bool

    private init(
        mem: cl_mem, runtime: OpenCLRuntime, storage: TensorStorage?, inPlace: Bool, keepAlive: TensorStorage? = nil
    ) {
        self.mem = mem
        self.runtime = runtime
        self.storage = storage
        self.inPlace = inPlace
        self.keepAlive = keepAlive
        self.owned = true
    }

    /// Wraps a buffer someone else releases, so it can be passed as a kernel argument.
    init(borrowing mem: cl_mem, _ runtime: OpenCLRuntime) {
        self.mem = mem
        self.runtime = runtime
        self.storage = nil
        self.inPlace = false
        self.keepAlive = nil
        self.owned = false
    }

    deinit { if owned { _ = runtime.api.fn.clReleaseMemObject!(mem) } }

    private static func create(
        _ runtime: OpenCLRuntime, flags: cl_mem_flags, bytes: Int, host: UnsafeMutableRawPointer?, what: String
    ) throws(TensorError) -> cl_mem {
        var status: cl_int = 0
        guard let mem = runtime.api.fn.clCreateBuffer!(runtime.context, flags, bytes, host, &status),
            status == cdsk_CL_SUCCESS
        else {
            throw OpenCLAPI.failure(status, "clCreateBuffer(\(what), \(bytes) bytes)")
        }
        return mem
    }

    private static func isAligned(_ pointer: UnsafeMutableRawPointer, _ runtime: OpenCLRuntime) -> Bool {
        Int(bitPattern: pointer) % runtime.inPlaceAlignment == 0
    }

    /// Wraps the whole storage of `tensor` for reading; kernels add `tensor.offset` themselves.
    ///
    /// - Precondition: the tensor has data and at least one byte of storage.
    static func input(_ tensor: Tensor, _ runtime: OpenCLRuntime) throws(TensorError) -> DeviceBuffer {
        try tensor.requireData("opencl")
        let storage = tensor.storage
        guard let base = storage.baseAddress, storage.byteCount > 0 else {
            preconditionFailure("DeviceBuffer.input: callers skip tensors with empty storage")
        }
        let inPlace = isAligned(base, runtime)
        let flags = cdsk_CL_MEM_READ_ONLY | (inPlace ? cdsk_CL_MEM_USE_HOST_PTR : cdsk_CL_MEM_COPY_HOST_PTR)
        let mem = try create(runtime, flags: flags, bytes: storage.byteCount, host: base, what: "input")
        return DeviceBuffer(mem: mem, runtime: runtime, storage: storage, inPlace: inPlace)
    }

    /// Wraps the storage of a tensor the device writes (a fresh output, or one it updates).
    ///
    /// - Parameter preserving: whether kernels read the current contents too; when the memory
    ///   cannot be used in place they are then copied in first.
    static func output(_ tensor: Tensor, _ runtime: OpenCLRuntime, preserving: Bool = false) throws(TensorError) -> DeviceBuffer {
        let storage = tensor.storage
        guard let base = storage.baseAddress, storage.byteCount > 0 else {
            preconditionFailure("DeviceBuffer.output: tensor without data or with empty storage")
        }
        let inPlace = isAligned(base, runtime)
        let flags =
            cdsk_CL_MEM_READ_WRITE | (inPlace ? cdsk_CL_MEM_USE_HOST_PTR : (preserving ? cdsk_CL_MEM_COPY_HOST_PTR : 0))
        let mem = try create(
            runtime, flags: flags, bytes: storage.byteCount, host: inPlace || preserving ? base : nil, what: "output")
        return DeviceBuffer(mem: mem, runtime: runtime, storage: storage, inPlace: inPlace)
    }

    /// Memory for intermediate results (packed panels, partial sums).
    ///
    /// It comes from the tensor buffer pool, like tensor storage, and is used in place where the
    /// device allows: freshly mapped pages fault on first touch, which cost more than packing
    /// itself for the tens of megabytes a convolution's panels take.
    static func scratch(bytes: Int, _ runtime: OpenCLRuntime) throws(TensorError) -> DeviceBuffer {
        let storage = try TensorStorage(byteCount: max(bytes, 1), op: "opencl scratch")
        let base = storage.baseAddress!
        let inPlace = isAligned(base, runtime)
        let flags = cdsk_CL_MEM_READ_WRITE | (inPlace ? cdsk_CL_MEM_USE_HOST_PTR : 0)
        let mem = try create(runtime, flags: flags, bytes: storage.byteCount, host: inPlace ? base : nil, what: "scratch")
        return DeviceBuffer(mem: mem, runtime: runtime, storage: nil, inPlace: false, keepAlive: storage)
    }

    /// Makes the device's writes visible in the tensor's host storage, waiting for every command
    /// enqueued before: a blocking map (then an unmap) when the memory is shared, a blocking read
    /// otherwise.
    func complete() throws(TensorError) {
        guard let storage, let base = storage.baseAddress else { return }
        let api = runtime.api
        if inPlace {
            var status: cl_int = 0
            let mapped = api.fn.clEnqueueMapBuffer!(
                runtime.queue, mem, cl_bool(CL_TRUE), cdsk_CL_MAP_READ, 0, storage.byteCount, 0, nil, nil, &status)
            guard let mapped, status == cdsk_CL_SUCCESS else { throw OpenCLAPI.failure(status, "clEnqueueMapBuffer") }
            // The host may read once the blocking map returns. The unmap is not waited for: it
            // only ends the mapping, and the buffer's release is deferred until it has run.
            try OpenCLAPI.check(api.fn.clEnqueueUnmapMemObject!(runtime.queue, mem, mapped, 0, nil, nil), "clEnqueueUnmapMemObject")
        } else {
            try OpenCLAPI.check(
                api.fn.clEnqueueReadBuffer!(runtime.queue, mem, cl_bool(CL_TRUE), 0, storage.byteCount, base, 0, nil, nil),
                "clEnqueueReadBuffer")
        }
    }
}

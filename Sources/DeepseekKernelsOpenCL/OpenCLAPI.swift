import CDeepseekOpenCL
import DeepseekTensor

/// The OpenCL entry points of this process, loaded from the ICD loader on first use.
///
/// The table lives in the C shim (`cdsk_opencl_api_get`), which opens `libOpenCL.so.1` with
/// `dlopen` so that hosts without OpenCL still run; this wrapper turns failures into
/// `TensorError`s that name the call and the OpenCL error.
struct OpenCLAPI: @unchecked Sendable {  // A table of C function pointers, written once, then read-only.
    let fn: cdsk_opencl_api

    /// The loaded API, or `nil` when the library or one of its entry points is missing.
    static let shared: OpenCLAPI? = cdsk_opencl_api_get().map { OpenCLAPI(fn: $0.pointee) }

    /// Why `shared` is `nil`.
    static var loadError: String { String(cString: cdsk_opencl_load_error()) }

    /// The symbolic name of an OpenCL status code.
    static func errorName(_ code: cl_int) -> String { String(cString: cdsk_opencl_error_name(code)) }

    /// Throws `TensorError.backendFailure` naming `call` unless `code` is `CL_SUCCESS`.
    @inline(__always)
    static func check(_ code: cl_int, _ call: @autoclosure () -> String) throws(TensorError) {
        guard code == cdsk_CL_SUCCESS else { throw failure(code, call()) }
    }

    static func failure(_ code: cl_int, _ call: String, detail: String = "") -> TensorError {
        TensorError(
            .backendFailure,
            "opencl: \(call) failed with \(errorName(code)) (\(code))\(detail.isEmpty ? "" : ": " + detail)")
    }

    // MARK: Queries

    func platformIDs() throws(TensorError) -> [cl_platform_id] {
        var count: cl_uint = 0
        let status = fn.clGetPlatformIDs!(0, nil, &count)
        // The ICD loader answers CL_PLATFORM_NOT_FOUND_KHR (-1001) when no driver is installed.
        if status == -1001 || count == 0 { return [] }
        try Self.check(status, "clGetPlatformIDs")
        var ids = [cl_platform_id?](repeating: nil, count: Int(count))
        try Self.check(fn.clGetPlatformIDs!(count, &ids, nil), "clGetPlatformIDs")
        return ids.compactMap { $0 }
    }

    func deviceIDs(_ platform: cl_platform_id) throws(TensorError) -> [cl_device_id] {
        var count: cl_uint = 0
        let status = fn.clGetDeviceIDs!(platform, cdsk_CL_DEVICE_TYPE_ALL, 0, nil, &count)
        if status == CL_DEVICE_NOT_FOUND || count == 0 { return [] }
        try Self.check(status, "clGetDeviceIDs")
        var ids = [cl_device_id?](repeating: nil, count: Int(count))
        try Self.check(fn.clGetDeviceIDs!(platform, cdsk_CL_DEVICE_TYPE_ALL, count, &ids, nil), "clGetDeviceIDs")
        return ids.compactMap { $0 }
    }

    func platformString(_ platform: cl_platform_id, _ param: Int32) throws(TensorError) -> String {
        var size = 0
        try Self.check(fn.clGetPlatformInfo!(platform, cl_platform_info(param), 0, nil, &size), "clGetPlatformInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try Self.check(fn.clGetPlatformInfo!(platform, cl_platform_info(param), size, &bytes, nil), "clGetPlatformInfo")
        return Self.string(bytes)
    }

    func deviceString(_ device: cl_device_id, _ param: Int32) throws(TensorError) -> String {
        var size = 0
        try Self.check(fn.clGetDeviceInfo!(device, cl_device_info(param), 0, nil, &size), "clGetDeviceInfo")
        var bytes = [CChar](repeating: 0, count: size + 1)
        try Self.check(fn.clGetDeviceInfo!(device, cl_device_info(param), size, &bytes, nil), "clGetDeviceInfo")
        return Self.string(bytes)
    }

    /// A fixed-size device property (`cl_uint`, `cl_ulong`, `size_t`, bitfields).
    func deviceValue<V: FixedWidthInteger>(_ device: cl_device_id, _ param: Int32, as: V.Type) throws(TensorError) -> V {
        var value: V = 0
        try Self.check(
            fn.clGetDeviceInfo!(device, cl_device_info(param), MemoryLayout<V>.size, &value, nil), "clGetDeviceInfo")
        return value
    }

    private static func string(_ bytes: [CChar]) -> String {
        let text = bytes.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return text.trimmingCharacters(in: " ")
    }
}

extension String {
    fileprivate func trimmingCharacters(in character: Character) -> String {
        var s = Substring(self)
        while s.first == character { s.removeFirst() }
        while s.last == character { s.removeLast() }
        return String(s)
    }
}

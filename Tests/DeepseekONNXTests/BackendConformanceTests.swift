import DeepseekKernelsBLAS
import DeepseekKernelsOpenCL
import DeepseekONNX
import DeepseekTensor
import Testing

/// The whole ONNX node suite on the optimised backends: the same cases must pass as on the
/// reference backend, and none may fail.
@Suite(.enabled(if: ONNXConformance().isAvailable, "libonnx-testdata is not installed (apt-get install libonnx-testdata)"))
struct BackendConformanceTests {
    func check(_ backend: any KernelBackend) throws {
        let summary = try ONNXConformance().runAll(backend: backend)
        let failures = summary.results.compactMap { r -> String? in
            if case .failed(let why) = r.status { "\(r.name): \(why.prefix(300))" } else { nil }
        }
        #expect(failures.isEmpty, "\(backend.name) failures:\n\(failures.joined(separator: "\n"))")
        #expect(summary.passed >= 300, "\(backend.name): only \(summary.passed) cases passed")
    }

    @Test func everyMappedCasePassesOnTheCPUBackend() throws {
        try check(CPUBackend())
    }

    @Test(.enabled(if: OpenCLBackend.isAvailable, "no OpenCL device"))
    func everyMappedCasePassesOnTheOpenCLBackend() throws {
        try check(try OpenCLBackend())
    }
}

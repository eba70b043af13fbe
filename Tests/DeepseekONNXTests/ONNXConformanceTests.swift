import DeepseekONNX
import DeepseekTensor
import Testing

/// Whether Debian's `libonnx-testdata` is installed here.
let onnxTestDataAvailable = ONNXConformance(dataDirectory: ONNXConformance.defaultDataDirectory).isAvailable

@Suite struct ONNXConformanceTests {
    @Test(.enabled(if: onnxTestDataAvailable, "needs Debian's libonnx-testdata"))
    func nodeTestsPassOnTheReferenceBackendWithoutFailures() throws {
        let conformance = ONNXConformance(dataDirectory: ONNXConformance.defaultDataDirectory)
        let summary = try conformance.runAll(backend: ReferenceBackend())
        let failures = summary.results.filter { if case .failed = $0.status { true } else { false } }.map(\.name)
        #expect(summary.failed == 0, "failed: \(failures)")
        #expect(summary.passed >= 300)
        #expect(summary.renderText().split(separator: "\n").last.map(String.init)
            == "\(summary.passed) passed, \(summary.failed) failed, \(summary.skipped) skipped")
    }
}

@Suite struct ONNXConformanceCaseTests {
    let conformance = ONNXConformance(dataDirectory: ONNXConformance.defaultDataDirectory)

    @Test(.enabled(if: onnxTestDataAvailable, "needs Debian's libonnx-testdata"),
        arguments: [
            ("test_maxpool_with_argmax_2d_precomputed_pads", "MaxPool: MaxPool Indices output not supported"),
            ("test_add_uint8", "dtype uint8 unsupported"),
            ("test_tan", "op Tan not implemented"),
            ("test_identity_sequence", "sequence values unsupported"),
        ])
    func unsupportedCasesSkipWithASpecificReason(_ name: String, _ reason: String) {
        #expect(conformance.run(case: name, backend: ReferenceBackend()).status == .skipped(reason))
    }

    @Test(.enabled(if: onnxTestDataAvailable, "needs Debian's libonnx-testdata"),
        arguments: ["test_softmax_axis_0", "test_conv_with_autopad_same", "test_layer_normalization_4d_axis1_expanded", "test_sce_mean_weight_ii_3d"])
    func representativeCasesPass(_ name: String) {
        let result = conformance.run(case: name, backend: ReferenceBackend())
        #expect(result.status == .passed, "\(result.status)")
    }
}

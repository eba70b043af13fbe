import ArgumentParser
import DeepseekKernelsBLAS
import DeepseekKernelsOpenCL
import DeepseekONNX
import DeepseekTensor

/// `deepseek conformance`: runs suites written by others against Deepseek's kernels.
struct ConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "conformance",
        abstract: "Check Deepseek's operators against external conformance suites.",
        subcommands: [ONNXConformanceCommand.self]
    )
}

/// `deepseek conformance onnx`: every ONNX node test whose operator Deepseek implements.
struct ONNXConformanceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "Run the ONNX operator node tests (Debian's libonnx-testdata) on a backend.",
        discussion: """
            Prints per-operator results, every failure and every skip with its reason, and last a
            line `N passed, M failed, K skipped`. Exits with status 1 when any case fails.
            """
    )

    enum BackendChoice: String, ExpressibleByArgument, CaseIterable {
        case reference, cpu, opencl
    }

    @Option(help: "Backend to run on: \(BackendChoice.allCases.map(\.rawValue).joined(separator: ", ")).")
    var backend: BackendChoice = .cpu

    @Option(help: "Directory of node tests (one test_* folder per case).")
    var data: String = ONNXConformance.defaultDataDirectory

    @Option(help: "Run only the cases whose name contains this text.")
    var filter: String?

    @Flag(help: "Print each case's result as it finishes.")
    var verbose = false

    func run() throws {
        let suite = ONNXConformance(dataDirectory: data)
        guard suite.isAvailable else {
            throw ValidationError(
                "no ONNX node tests at \(data); install them with `apt-get install libonnx-testdata` or pass --data DIR")
        }
        let kernels: any KernelBackend
        switch backend {
        case .reference: kernels = ReferenceBackend()
        case .cpu: kernels = CPUBackend()
        case .opencl:
            guard OpenCLBackend.isAvailable else {
                throw ValidationError("OpenCL is unavailable: \(OpenCLBackend.unavailableReason ?? "unknown reason")")
            }
            kernels = try OpenCLBackend()
        }
        let verbose = self.verbose
        let summary = try suite.runAll(backend: kernels, filter: filter) { result in
            if verbose { print("\(result.name): \(result.status)") }
        }
        print(summary.renderText())
        if summary.failed > 0 { throw ExitCode(1) }
    }
}

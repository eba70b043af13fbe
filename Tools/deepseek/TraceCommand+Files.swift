import ArgumentParser
import DeepseekTraceExport
import DeepseekTracing

struct TraceMergeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Merge nodes' traces, aligning clocks from message round trips so no arrow points backwards.")

    @Argument(help: "One trace per node (each is one clock domain).") var traces: [String]
    @Option(name: .shortAndLong, help: "The merged trace (.json, or .perfetto-trace for protobuf).") var output: String
    @Option(help: "Index of the input whose clock the others are aligned to.") var reference: Int = 0
    @OptionGroup var bounds: TraceBoundsOptions

    func run() throws {
        guard traces.count >= 1 else { throw ValidationError("name at least one trace to merge") }
        guard traces.indices.contains(reference) else {
            throw ValidationError("--reference \(reference) is not an input index (0..<\(traces.count))")
        }
        try runTraceCommand {
            let inputs = try traces.map { try TraceReader.read(path: $0).events }
            let merged = TraceMerge.merge(inputs, reference: reference)
            for (index, path) in traces.enumerated() {
                print("\(path): clock offset \(Double(merged.offsets[index]) / 1000) µs")
            }
            let report = try TraceExport.write(events: merged.events, to: output, bounds: bounds.bounds)
            print("wrote \(output): \(report.events) events, \(report.bytes) bytes; backward flows: \(merged.backwardFlows.count)")
        }
    }
}

struct TraceConvertCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert a Chrome JSON trace to Perfetto protobuf (or bounded JSON), optionally bounded.")

    @Argument(help: "A Chrome JSON trace.") var trace: String
    @Option(name: .shortAndLong, help: "The output (.perfetto-trace/.pftrace/.pb for protobuf, else JSON).")
    var output: String
    @OptionGroup var bounds: TraceBoundsOptions

    func run() throws {
        try runTraceCommand {
            let document = try TraceReader.read(path: trace)
            let report = try TraceExport.write(
                events: document.events, to: output, bounds: bounds.bounds, metadata: document.metadata)
            print("wrote \(output) (\(report.format.rawValue)): \(report.events) events, \(report.bytes) bytes")
        }
    }
}

struct TraceValidateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a trace for unmatched begin/end, misnested slices, flows without slices, backward flows.")

    @Argument(help: "A Chrome JSON trace.") var trace: String

    func run() throws {
        try runTraceCommand {
            let result = try TraceValidation.validate(path: trace)
            if result.isValid {
                print("\(trace): \(result.eventCount) events, no problems")
                return
            }
            for issue in result.issues { print(issue) }
            let counts = result.counts.map { "\($0.value) \($0.key)" }.sorted().joined(separator: ", ")
            var standardError = StandardErrorStream()
            print("deepseek trace validate: \(trace): \(counts)", to: &standardError)
            throw ExitCode.failure
        }
    }
}

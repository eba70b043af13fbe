import Foundation

// deepseek-bench: each hot path measured against its baseline in the same run. See Options.usage.

let options: Options
do {
    options = try Options.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    if error.isHelp {
        print(Options.usage)
        exit(0)
    }
    progress(error.description)
    exit(2)
}

#if DEBUG
progress("warning: debug build; numbers are not representative. Use: swift run -c release --package-path Tools/Benchmarks deepseek-bench …")
#endif

// The backend opens OpenBLAS first, the way the CLI does; the raw baseline then finds that same
// library already loaded. OPENBLAS_CORETYPE is left alone: the library picks its kernel and the
// report says which.
let blas = loadBLAS(threads: options.threads.max() ?? 1)
var machine = MachineReport.current()
if machine.loadAverageAtStart > 0.5 * Double(machine.cores) {
    progress(
        "warning: load average \(formatNumber(machine.loadAverageAtStart, digits: 2)) on \(machine.cores) cores: other work "
            + "shares the CPU and the figures will be noisy; run again when the machine is quiet")
}
machine.blasBackend = blas
var pytorch = PyTorchBaseline(options: options)

var reports: [GroupReport] = []
var peak: [Int: Double] = [:]
do {
    for group in options.groups {
        let load = OtherLoad()
        var report: GroupReport
        switch group {
        case .peak:
            let result = runPeak(options)
            peak = result.gflops
            report = result.report
        case .sgemm:
            if peak.isEmpty {
                let result = runPeak(options)
                peak = result.gflops
                if !options.groups.contains(.peak) { reports.append(result.report) }
            }
            report = try runSgemm(options, peak: peak, pytorch: &pytorch)
        case .elementwise:
            report = try runElementwise(options, pytorch: &pytorch)
        case .conv2d:
            report = try runConv2d(options, pytorch: &pytorch)
        case .openclSgemm:
            report = try runOpenCLSgemm(options)
        case .actorCall:
            report = try await runActorCall(options)
        case .remoteCall:
            report = try await runRemoteCall(options)
        case .stream:
            report = try await runStream(options)
        case .pipelined:
            report = try await runPipelined(options)
        case .engine:
            report = try await runEngine(options)
        case .training:
            var baseline = pytorch
            report = try await runTraining(options, pytorch: &baseline)
            pytorch = baseline
        case .storage:
            report = try await runStorage(options)
        case .collectives:
            report = try await runCollectives(options)
        case .models:
            report = try runModels(options, pytorch: &pytorch)
        case .vision: report = try runVision(options, pytorch: &pytorch)
        case .tracing:
            report = try runTracing(options)
            try await appendTracingOverhead(options, to: &report)
        case .simulation: report = try await runSimulation(options)
        }
        if let other = load.fraction() {
            report.otherLoad = other
            report.notes.append(
                "Other processes used \(formatNumber(other * 100, digits: 0)) % of the machine's CPU time while this group ran"
                    + (other > 0.05 ? " (noisy: run again on a quiet machine)." : "."))
        }
        reports.append(report)
    }
} catch {
    progress("deepseek-bench: \(error)")
    exit(1)
}
machine.loadAverageAtEnd = loadAverage()
machine.torch = pytorch.version

struct Document: Encodable {
    var machine: MachineReport
    var repetitions: Int
    var groups: [GroupReport]
}
let encoder = JSONEncoder()
encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
let json = try encoder.encode(Document(machine: machine, repetitions: options.repetitions, groups: reports))
if let path = options.jsonOut {
    do {
        try json.write(to: URL(fileURLWithPath: path))
    } catch {
        progress("deepseek-bench: could not write \(path): \(error)")
        exit(1)
    }
}
if options.json {
    print(String(decoding: json, as: UTF8.self))
} else {
    print("## Machine\n")
    print(machine.markdown)
    print("Medians of \(options.repetitions) repetitions.\n")
    for report in reports { print(report.markdown) }
}

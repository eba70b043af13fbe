import ArgumentParser
import DeepseekKernelsBLAS
import DeepseekSimulation
import DeepseekTraceExport
import Foundation

/// `deepseek simulate Scenarios/<name>.yaml`: one training iteration of a zoo model on a
/// simulated cluster (virtual time), with a Markdown/JSON report, a Chrome trace and, for
/// scenarios that declare one, a sweep table and SVG plot.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a training iteration of a scenario on a virtual cluster.",
        discussion: """
            The scenario file (YAML, see Scenarios/ and docs/simulation.md) names the cluster, the \
            model from the zoo, the parallel layout, precision, collective, compression, faults \
            and seed. The same scenario and seed give byte-identical reports and traces.

            `--calibrate FILE` measures this machine instead (one process's training step, the \
            loopback link between two processes, the cores) and writes a machine profile that \
            scenarios name in `cluster.profile` (Scenarios/fashion-mnist-4-process.yaml does).
            """)

    @Argument(help: "The scenario file, e.g. Scenarios/gpt3-175b-1024-a100.yaml.")
    var scenario: String?

    @Option(help: "Measure this machine and write its profile (YAML) here instead of simulating.")
    var calibrate: String?

    @Option(name: .customLong("calibration-model"), help: "With --calibrate: the zoo classifier whose training step is measured.")
    var calibrationModel = "mlp"

    @Option(name: .customLong("calibration-batch"), help: "With --calibrate: examples per step (one rank's share).")
    var calibrationBatch = 64

    @Option(name: .customLong("calibration-repetitions"), help: "With --calibrate: repetition factor (more is slower and steadier).")
    var calibrationRepetitions = 3

    @Option(name: .customLong("calibration-peer"), help: ArgumentHelp("A link-calibration peer process of this rank.", visibility: .hidden))
    var calibrationPeer: Int?

    @Option(name: .customLong("calibration-ports"), help: ArgumentHelp("The peers' loopback ports.", visibility: .hidden))
    var calibrationPorts: String?

    @Flag(name: .customLong("calibration-small"), help: ArgumentHelp("Peers measure only the smallest message.", visibility: .hidden))
    var calibrationSmall = false

    @Option(help: "Write the Markdown report here (default: print it).")
    var report: String?

    @Option(help: "Write the JSON report here.")
    var json: String?

    @Option(help: "Write the timeline as a Chrome trace (opens in Perfetto).")
    var trace: String?

    @Flag(help: "Run the sweep the scenario declares instead of one iteration.")
    var sweep = false

    @Option(help: "With --sweep: write the SVG plot here (the table goes to --report).")
    var plot: String?

    @Option(help: "Override the scenario's seed.")
    var seed: UInt64?

    @Flag(help: ArgumentHelp(
        "Also run the data-parallel step with the runtime's own actors (engine, device actors, communicators, distributed optimizer) on virtual time, and add it to the report.",
        discussion: "Values are real, so this suits models that fit this machine once per rank (mlp, lenet); tensor and pipeline parallelism exist only in the lane model."))
    var runtime = false

    @Option(name: .customLong("runtime-trace"), help: "With --runtime: write the runtime run's message timeline on virtual time as a Chrome trace here.")
    var runtimeTrace: String?

    func run() async throws {
        var standardError = StandardErrorStream()
        if let calibrationPeer {
            let ports = (calibrationPorts ?? "").split(separator: ",").compactMap { Int($0) }
            guard ports.count == 2, (0...1).contains(calibrationPeer) else { throw ValidationError("--calibration-peer needs rank 0 or 1 and two --calibration-ports") }
            return try await CalibrationPeer(rank: calibrationPeer, ports: ports, repetitions: calibrationRepetitions, small: calibrationSmall).run()
        }
        if let calibrate {
            guard calibrationBatch >= 1, calibrationRepetitions >= 1 else { throw ValidationError("--calibration-batch and --calibration-repetitions must be at least 1") }
            let calibration = Calibration(model: calibrationModel, batch: calibrationBatch, repetitions: calibrationRepetitions, executable: TrainCommand.ownExecutable())
            let profile = try await calibration.run { print($0, to: &standardError) }
            try write(profile.yaml(), to: calibrate)
            print("wrote \(calibrate)", to: &standardError)
            return
        }
        guard let scenario else { throw ValidationError("give a scenario file, or --calibrate FILE to measure this machine") }
        do {
            guard let data = FileManager.default.contents(atPath: scenario), let text = String(data: data, encoding: .utf8) else {
                throw SimulationError(.io, "cannot read the scenario file \(scenario)")
            }
            var s = try Scenario(yaml: text, file: scenario)
            if let seed { s.seed = seed }
            if sweep {
                guard let result = try s.runSweep() else {
                    throw SimulationError(.invalidField, "\(scenario) declares no sweep (add a `sweep:` map with parameter and values)", field: "sweep")
                }
                try emit(result.markdown(), to: report)
                if let plot { try write(result.svg(), to: plot) }
                return
            }
            let clock = ContinuousClock()
            let start = clock.now
            let r = try s.run(trace: trace != nil)
            var markdown = r.markdown()
            var executed: RuntimeExecutionReport?
            if runtime {
                let e = try await s.runOnRuntime(backend: CPUBackend(), trace: runtimeTrace != nil)
                executed = e
                markdown += "\n" + e.markdown
                if let runtimeTrace {
                    let bytes = try ChromeTraceWriter.render(e.trace, settings: .init(metadata: ["scenario": s.name, "seed": String(s.seed), "execution": "runtime"]))
                    try Data(bytes).write(to: URL(fileURLWithPath: runtimeTrace))
                }
                print(
                    "runtime on virtual time: \(e.fmt(e.iterationSeconds * 1e3)) ms per iteration (lane model: \(e.fmt(r.result.iterationSeconds * 1e3)) ms), simulated in \(e.fmt(e.wallSeconds)) s",
                    to: &standardError)
            }
            try emit(markdown, to: report)
            if let json { try write(r.json(runtime: executed), to: json) }
            if let trace { try Data(r.chromeTrace()).write(to: URL(fileURLWithPath: trace)) }
            print("simulated \(r.result.events) events in \(clock.now - start) of wall time (\(r.result.completed ? "completed" : "failed"))", to: &standardError)
            if !r.result.completed || executed?.failure != nil { throw ExitCode(2) }
        } catch let error as SimulationError {
            print("deepseek simulate: \(scenario)\(error.line.map { ":\($0)" } ?? ""): \(error.message)", to: &standardError)
            throw ExitCode.failure
        }
    }

    func emit(_ text: String, to path: String?) throws {
        if let path { try write(text, to: path) } else { print(text) }
    }

    func write(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
            throw SimulationError(.io, "cannot write \(path): \(error.localizedDescription)")
        }
    }
}

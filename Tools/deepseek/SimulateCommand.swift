import ArgumentParser
import DeepseekSimulation
import Foundation

/// `deepseek simulate Scenarios/<name>.yaml`: one training iteration of a zoo model on a
/// simulated cluster (virtual time), with a Markdown/JSON report, a Chrome trace and, for
/// scenarios that declare one, a sweep table and SVG plot.
struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Simulate a training iteration of a scenario on a virtual cluster.",
        discussion: """
            The scenario file (YAML, see Scenarios/ and docs/simulation.md) names the cluster, the \
            model from the zoo, the parallel layout, precision, collective, compression, faults \
            and seed. The same scenario and seed give byte-identical reports and traces.
            """)

    @Argument(help: "The scenario file, e.g. Scenarios/gpt3-175b-1024-a100.yaml.")
    var scenario: String

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

    func run() throws {
        var standardError = StandardErrorStream()
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
            try emit(r.markdown(), to: report)
            if let json { try write(r.json(), to: json) }
            if let trace { try Data(r.chromeTrace()).write(to: URL(fileURLWithPath: trace)) }
            print("simulated \(r.result.events) events in \(clock.now - start) of wall time (\(r.result.completed ? "completed" : "failed"))", to: &standardError)
            if !r.result.completed { throw ExitCode(2) }
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

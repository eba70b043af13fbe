import Foundation
import Testing

/// `deepseek simulate` runs a scenario file into a report, a JSON summary and a timeline, the
/// same for the same seed; a bad file is refused naming the field and the line.
@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"))
struct SimulateCommandTests {
    static let scenario = "Scenarios/fashion-mnist-4-process.yaml"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: scenario), "run from the package root, where Scenarios/ is"))
    func aScenarioWritesTheSameReportAndTimelineTwice() throws {
        let binary = try #require(deepseekBinary)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deepseek-simulate-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var outputs: [(Data, Data, Data)] = []
        for run in 0..<2 {
            let json = directory.appendingPathComponent("report\(run).json").path
            let trace = directory.appendingPathComponent("timeline\(run).json").path
            let runtimeTrace = directory.appendingPathComponent("runtime\(run).json").path
            let result = runProcess(
                binary,
                ["simulate", Self.scenario, "--json", json, "--trace", trace, "--report", directory.appendingPathComponent("report\(run).md").path, "--runtime",
                 "--runtime-trace", runtimeTrace])
            #expect(result.exitCode == 0, "\(result.stdout)\n\(result.stderr)")
            outputs.append(
                (try Data(contentsOf: URL(fileURLWithPath: json)), try Data(contentsOf: URL(fileURLWithPath: trace)), try Data(contentsOf: URL(fileURLWithPath: runtimeTrace))))
        }
        #expect(outputs[0].0 == outputs[1].0)
        #expect(outputs[0].1 == outputs[1].1)
        #expect(outputs[0].2 == outputs[1].2)
        // The runtime's own run is in the summary, with its iteration time.
        let summary = try #require(try JSONSerialization.jsonObject(with: outputs[0].0) as? [String: Any])
        let runtime = try #require(summary["runtime"] as? [String: Any])
        #expect((runtime["iteration_seconds"] as? Double ?? 0) > 0)
        for timeline in ["timeline0.json", "runtime0.json"] {
            let validation = runProcess(binary, ["trace", "validate", directory.appendingPathComponent(timeline).path])
            #expect(validation.exitCode == 0, "\(timeline): \(validation.stdout)\n\(validation.stderr)")
        }
    }

    @Test func aNegativeBandwidthIsRefusedWithItsFieldAndLine() throws {
        let binary = try #require(deepseekBinary)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("bad-\(getpid()).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = """
            name: a cluster with a negative link
            seed: 1
            cluster:
              nodes: 2
              devices_per_node: 1
              device: a100
              bandwidth_gbps: -5
            model:
              name: mlp
            parallelism:
              data: 2
            """
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let result = runProcess(binary, ["simulate", path])
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("line 7") && result.stderr.contains("bandwidth_gbps"), "\(result.stderr)")
    }
}

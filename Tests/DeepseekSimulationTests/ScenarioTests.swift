import Foundation
import Testing

@testable import DeepseekSimulation

@Suite struct ScenarioTests {
    static let small = """
        name: small data-parallel MLP  # a comment
        models: a 4-process Fashion-MNIST-sized MLP
        seed: 3
        cluster:
          nodes: 2
          devices_per_node: 2
          device: a100
          intra_node: nvlink3
          inter_node: roce-100g
        model:
          name: mlp
        parallelism:
          data: 4
          microbatches: 2
        batch:
          microbatch: 64
        precision: fp32
        collective: ring
        """

    @Test func aSmallScenarioRunsEndToEnd() throws {
        let report = try Scenario(yaml: Self.small).run(trace: true)
        #expect(report.result.completed)
        #expect(report.result.iterationSeconds > 0)
        #expect(report.result.transport.messages > 0)
        #expect(report.result.samples == 4 * 2 * 64)
        #expect(report.markdown().contains("## Memory per device"))
        #expect(try report.chromeTrace().count > 100)
    }

    @Test func theSameSeedGivesByteIdenticalReportsAndTraces() throws {
        let faulty = Self.small + "\nfaults:\n  jitter_us: 30\n  drop: 0.05\n  retransmit_ms: 1\n"
        let a = try Scenario(yaml: faulty).run(trace: true)
        let b = try Scenario(yaml: faulty).run(trace: true)
        #expect(a.json() == b.json())
        #expect(try a.chromeTrace() == b.chromeTrace())
        let other = try Scenario(yaml: faulty.replacingOccurrences(of: "seed: 3", with: "seed: 4")).run(trace: true)
        #expect(other.json() != a.json())
    }

    @Test func aNodeCrashChangesTheOutcomeAndTheReportSaysWhatFailed() throws {
        let healthy = try Scenario(yaml: Self.small).run()
        let crashed = try Scenario(yaml: Self.small + "\nfaults:\n  crashes:\n    - node: 1\n      at_ms: 0.01\n").run()
        #expect(healthy.result.completed)
        #expect(!crashed.result.completed)
        #expect(crashed.result.failures.contains { $0.contains("node 1") && $0.contains("crashed") })
        #expect(crashed.markdown().contains("The iteration failed"))
    }

    @Test(arguments: [
        ("model:\n  name: gpt5\n", "model.name", 12),
        ("  bandwidth_gbps: -100\n", "cluster.bandwidth_gbps", 9),
        ("parallelism:\n  data: 64\n", "parallelism", 12),
        ("colective: ring\n", "colective", 11),
    ])
    func badScenarioFilesNameTheFieldAndTheLine(change: String, field: String, line: Int) {
        // Replace the part under test in a file whose line numbers are known.
        var text = """
            name: bad
            seed: 1
            cluster:
              nodes: 2
              devices_per_node: 2
              device: a100
              intra_node: nvlink3
              inter_node: roce-100g
              nics_per_node: 1

            """
        if change.hasPrefix("  ") { text = text.replacingOccurrences(of: "  nics_per_node: 1\n", with: "") + change + "model:\n  name: mlp\n" }
        else if change.hasPrefix("model") { text += "\n" + change }
        else { text += "\n" + change + "model:\n  name: mlp\n" }
        do {
            _ = try Scenario(yaml: text)
            Issue.record("\(field) was accepted")
        } catch {
            #expect(error.field == field, "\(error)")
            #expect(error.line == line, "\(error)")
            #expect(error.message.contains("line \(line)"))
        }
    }
}


@Suite struct LargeModelTests {
    @Test func gpt3OnA1024GPUClusterSimulatesOneIteration() throws {
        let text = """
            name: GPT-3 175B on 1024 A100
            cluster:
              nodes: 128
              devices_per_node: 8
              device: a100
              intra_node: nvlink3
              inter_node: ib-hdr
              nics_per_node: 8
            model:
              name: gpt3-175b
            parallelism:
              data: 16
              tensor: 8
              pipeline: 8
              microbatches: 96
            batch:
              microbatch: 1
            precision: bf16
            """
        let clock = ContinuousClock()
        var report: ScenarioReport?
        let elapsed = try clock.measure { report = try Scenario(yaml: text).run() }
        let r = try #require(report).result
        print("GPT-3 175B / 1024 A100: iteration \(r.iterationSeconds) s, MFU \(r.mfu), events \(r.events), simulation wall \(r.wallSeconds) s, total with tracing the graph \(elapsed)")
        #expect(r.completed)
        #expect(r.mfu > 0.2 && r.mfu < 0.8)
    }
}

@Suite struct ScenarioLibraryTests {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Scenarios")

    static func load(_ name: String) throws -> Scenario {
        let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        return try Scenario(yaml: text, file: directory.appendingPathComponent(name).path)
    }

    @Test func everyScenarioFileParsesAndNamesThePublishedSetup() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 10)
        for file in files {
            let s = try Self.load(file)
            #expect(!s.models.isEmpty, "\(file) names no published setup")
        }
    }

    @Test func theNodeCrashScenarioFailsAndSaysWhichNode() throws {
        let r = try Self.load("node-crash.yaml").run()
        #expect(!r.result.completed)
        #expect(r.result.failures.first { $0.contains("node 3") } != nil)
    }

    @Test func hierarchicalBeatsRingAcrossNodes() throws {
        // The library's files with a smaller model, so the test stays quick in debug builds.
        func run(_ file: String) throws -> SimulationResult {
            var s = try Self.load(file)
            (s.modelName, s.tokens) = ("gpt2-124m", 128)
            return try s.run().result
        }
        let (ring, hierarchical, tree) = (try run("allreduce-ring.yaml"), try run("allreduce-hierarchical.yaml"), try run("allreduce-tree.yaml"))
        #expect(ring.completed && hierarchical.completed && tree.completed)
        #expect(hierarchical.iterationSeconds <= ring.iterationSeconds)
    }

    @Test func aSweepWritesATableAndAnSVGPlot() throws {
        var s = try Self.load("fashion-mnist-4-process.yaml")
        s.sweep = ("data", [1, 2, 4])
        let sweep = try #require(try s.runSweep())
        #expect(sweep.rows.count == 3)
        #expect(sweep.markdown().split(separator: "\n").count == 5)
        #expect(sweep.svg().hasPrefix("<svg"))
    }
}

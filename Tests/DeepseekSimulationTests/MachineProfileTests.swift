import Foundation
import Testing

@testable import DeepseekSimulation

/// A measured machine profile (`deepseek simulate --calibrate`) is what the prediction is made
/// of: every figure in it must reach the simulated iteration.
@Suite struct MachineProfileTests {
    static let profile = """
        name: test machine
        measured: by hand
        cores: 2
        device:
          flops_per_second: 1.0e11
          bytes_per_second: 2.0e10
          launch_us: 20
          step_overhead_us: 300
          optimizer_fixed_us: 50
          optimizer_ns_per_parameter: 4
          optimizer_ns_per_shard_parameter: 2
          parallelism: 1
        link:
          latency_us: 100
          bandwidth_gbps: 3.2
          cpu_load: 0.5
          contended_latency_us: 150
        """

    /// The 4-process scenario of this machine with `profile` inline.
    static func scenario(_ profile: String = profile, cores: Int? = nil) -> String {
        let indented = profile.split(separator: "\n", omittingEmptySubsequences: false).map { "    " + $0 }.joined(separator: "\n")
        return """
            name: four processes on one host
            cluster:
              nodes: 1
              devices_per_node: 4
              device: measured
              intra_node: measured
            \(cores.map { "  cores_per_node: \($0)\n" } ?? "")  profile:
            \(indented)
            model:
              name: mlp
            parallelism:
              data: 4
              zero: 1
            batch:
              microbatch: 64
            precision: fp32
            optimizer: sgd
            bucket_mb: 1.048576
            """
    }

    static func run(_ text: String) throws -> SimulationResult { try Scenario(yaml: text).run().result }

    @Test func theProfilesFiguresBecomeTheDeviceTheLinkAndTheCores() throws {
        let s = try Scenario(yaml: Self.scenario())
        #expect(s.device.fp32 == 1e11)
        #expect(s.device.memoryBandwidth == 2e10)
        #expect(abs(s.device.launchOverhead - 20e-6) < 1e-12)
        #expect(abs(s.device.stepOverhead - 300e-6) < 1e-12)
        let optimizer = try #require(s.device.optimizer)
        #expect(abs(optimizer.fixed - 50e-6) < 1e-15 && abs(optimizer.perParameter - 4e-9) < 1e-18 && abs(optimizer.perShardParameter - 2e-9) < 1e-18)
        #expect(s.topology.intraNode.cpuBound)
        #expect(abs(s.topology.intraNode.latency - 100e-6) < 1e-12)
        #expect(abs(s.topology.intraNode.bandwidth - 0.4e9) < 1)
        #expect(s.topology.coresPerNode == 2)
        #expect(try Scenario(yaml: Self.scenario(cores: 4)).topology.coresPerNode == 4)
    }

    @Test func everyMeasuredFigureMovesThePrediction() throws {
        let base = try Self.run(Self.scenario()).iterationSeconds
        for (from, to) in [
            ("flops_per_second: 1.0e11", "flops_per_second: 0.5e11"), ("bytes_per_second: 2.0e10", "bytes_per_second: 0.1e10"), ("launch_us: 20", "launch_us: 40"),
            ("step_overhead_us: 300", "step_overhead_us: 600"), ("optimizer_fixed_us: 50", "optimizer_fixed_us: 500"),
            ("optimizer_ns_per_parameter: 4", "optimizer_ns_per_parameter: 8"), ("optimizer_ns_per_shard_parameter: 2", "optimizer_ns_per_shard_parameter: 8"),
            ("latency_us: 100", "latency_us: 200"), ("bandwidth_gbps: 3.2", "bandwidth_gbps: 1.6"), ("cores: 2", "cores: 1"),
            ("parallelism: 1", "parallelism: 2"), ("cpu_load: 0.5", "cpu_load: 1"), ("contended_latency_us: 150", "contended_latency_us: 1000"),
        ] {
            let changed = try Self.run(Self.scenario(Self.profile.replacingOccurrences(of: from, with: to))).iterationSeconds
            #expect(changed > base * 1.001, "\(to): \(changed) s, not slower than \(base) s")
        }
    }

    @Test func processesSharingCoresComputeAtTheirShareOfThem() throws {
        // Four ranks computing at once: on 4 cores each has one, on 2 cores each half of one.
        let alone = try Self.run(Self.scenario(cores: 4))
        let shared = try Self.run(Self.scenario(cores: 2))
        let one = try Self.run(Self.scenario(cores: 1))
        let compute = { (r: SimulationResult) in r.criticalPath[0].1 }
        let s = try Scenario(yaml: Self.scenario())
        let c = try s.configuration()
        let work = c.workload.layerSeconds(on: c.device, precision: .fp32).reduce(0) { $0 + $1.forward + $1.backward } + c.device.stepOverhead
        #expect(abs(compute(alone) - work) < 1e-9)
        #expect(abs(compute(shared) - 2 * work) < 1e-9)
        #expect(abs(compute(one) - 4 * work) < 1e-9)
        #expect(shared.links.contains { $0.isProcessor && $0.name.hasPrefix("node0.cpu") && $0.utilisation > 0.5 })
    }

    @Test func aCPUBoundMessageAloneTakesTheMeasuredOneWayTime() throws {
        // Two processes on one 2-core host: a ring all-reduce of S bytes is two rounds in which
        // both send S/2, each message α + (S/2)/β of one core, as the calibration measured it.
        let link = LinkKind(name: "measured", bandwidth: 0.4e9, latency: 100e-6, cpuBound: true)
        let topology = ClusterTopology(nodes: 1, devicesPerNode: 2, intraNode: link, interNode: .infinibandHDR, coresPerNode: 2)
        for bytes in [8.0, 64e3, 1e6] {
            let t = ClusterSimulation.allReduce(topology: topology, devices: [0, 1], bytes: bytes, algorithm: .ring).seconds
            #expect(abs(t - 2 * (100e-6 + bytes / 2 / 0.4e9)) < 1e-9, "\(bytes) B: \(t) s")
        }
        // On one core the two messages of a round share it.
        let single = ClusterTopology(nodes: 1, devicesPerNode: 2, intraNode: link, interNode: .infinibandHDR, coresPerNode: 1)
        let t = ClusterSimulation.allReduce(topology: single, devices: [0, 1], bytes: 1e6, algorithm: .ring).seconds
        #expect(abs(t - 4 * (100e-6 + 1e6 / 2 / 0.4e9)) < 1e-9)
    }

    @Test func aProfileReadsBackWhatItWrites() throws {
        let p = try MachineProfile(yaml: Self.profile)
        let again = try MachineProfile(yaml: p.yaml())
        #expect(again.cores == p.cores)
        #expect(again.device.fp32 == p.device.fp32 && again.device.memoryBandwidth == p.device.memoryBandwidth)
        #expect(abs(again.device.launchOverhead - p.device.launchOverhead) < 1e-12)
        #expect(again.device.optimizer == p.device.optimizer)
        #expect(abs(again.link.latency - p.link.latency) < 1e-12 && abs(again.link.bandwidth - p.link.bandwidth) < 1e-3)
        #expect(again.link.cpuLoad == p.link.cpuLoad && again.link.contendedLatency == p.link.contendedLatency && again.device.parallelism == p.device.parallelism)
    }

    @Test func aProfileFileIsReadRelativeToTheScenario() throws {
        let text = """
            cluster:
              nodes: 1
              devices_per_node: 4
              profile: profiles/m.yaml
              device: measured
              intra_node: measured
            model:
              name: mlp
            parallelism:
              data: 4
            """
        var asked: [String] = []
        let s = try Scenario(yaml: text, file: "Scenarios/x.yaml") {
            asked.append($0)
            return Self.profile
        }
        #expect(asked == ["Scenarios/profiles/m.yaml"])
        #expect(s.topology.coresPerNode == 2 && s.device.launchOverhead > 0)
    }

    @Test func measuredWithoutAProfileNamesTheFieldAndTheLine() {
        let text = "cluster:\n  nodes: 1\n  devices_per_node: 4\n  device: measured\nmodel:\n  name: mlp\n"
        #expect {
            _ = try Scenario(yaml: text)
        } throws: { error in
            guard let e = error as? SimulationError else { return false }
            return e.field == "cluster.device" && e.line == 4 && e.message.contains("--calibrate")
        }
        let missing = "cluster:\n  nodes: 1\n  profile: nowhere.yaml\nmodel:\n  name: mlp\n"
        #expect {
            _ = try Scenario(yaml: missing, file: "s.yaml") { _ in nil }
        } throws: { error in
            (error as? SimulationError)?.field == "cluster.profile" && (error as? SimulationError)?.line == 3
        }
    }
}

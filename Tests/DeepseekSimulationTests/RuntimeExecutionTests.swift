import DeepseekKernelsBLAS
import Foundation
import DeepseekSimulation
import DeepseekTraceExport
import Testing

/// `Scenario.runOnRuntime`: a scenario's data-parallel step run by the runtime's own trainers,
/// engines, device actors, communicators and distributed optimizers on a virtual cluster.
@Suite struct RuntimeExecutionTests {
    /// Two processes of a small MLP on two nodes joined by 10 Gb Ethernet.
    static func scenario(link: String = "ethernet-10g", extra: String = "") -> String {
        """
        name: two-rank MLP on the runtime
        models: a test
        seed: 4
        cluster:
          nodes: 2
          devices_per_node: 1
          device: a100
          intra_node: nvlink3
          inter_node: \(link)
        model:
          name: mlp
        parallelism:
          data: 2
          zero: 1
        batch:
          microbatch: 16
        precision: fp32
        optimizer: sgd
        collective: ring
        """ + extra
    }

    @Test func theSameSeedGivesTheSameReportAndTrace() async throws {
        let s = try Scenario(yaml: Self.scenario())
        let a = try await s.runOnRuntime(backend: CPUBackend(), warmUp: 1, steps: 2, trace: true)
        let b = try await s.runOnRuntime(backend: CPUBackend(), warmUp: 1, steps: 2, trace: true)
        #expect(a.failure == nil)
        #expect(a.stepSeconds.count == 2 && a.iterationSeconds > 0)
        #expect(a.losses.count == 3 && a.losses.allSatisfy(\.isFinite))
        #expect(a.markdown == b.markdown)
        let traceA = try ChromeTraceWriter.render(a.trace), traceB = try ChromeTraceWriter.render(b.trace)
        #expect(traceA.count > 1000 && traceA == traceB, "the two traces differ")
        let validation = try TraceValidation.validate(bytes: traceA)
        #expect(validation.isValid, "\(validation.issues.prefix(5))")
        // Both ranks' kernels ran on paced device actors, and their gradients crossed the network.
        #expect(a.kernelsPerStepAndRank > 10)
        #expect(a.bytesPerStep > 4 * 100_000)
    }

    @Test func aSlowerNetworkGivesALongerStep() async throws {
        let fast = try await Scenario(yaml: Self.scenario()).runOnRuntime(backend: CPUBackend(), warmUp: 1, steps: 1)
        let slow = try await Scenario(yaml: Self.scenario(link: "ethernet-1g")).runOnRuntime(backend: CPUBackend(), warmUp: 1, steps: 1)
        // The gradients (~0.9 MB per rank for the zoo MLP) dominate on 1 Gb/s: several times slower.
        #expect(slow.iterationSeconds > 3 * fast.iterationSeconds, "1 Gb/s \(slow.iterationSeconds) s, 10 Gb/s \(fast.iterationSeconds) s")
        #expect(slow.losses == fast.losses)
    }

    @Test func aCrashedNodeEndsTheRunWithTheFailureNamed() async throws {
        let crash = "\nfaults:\n  crashes:\n    - node: 1\n      at_ms: 1\n"
        let report = try await Scenario(yaml: Self.scenario(extra: crash)).runOnRuntime(backend: CPUBackend(), warmUp: 1, steps: 2)
        let failure = try #require(report.failure)
        #expect(failure.contains("step 1 of 3"))
        #expect(report.markdown.contains("The run failed"))
    }

    @Test func layoutsTheRuntimeDoesNotHaveAreRefusedNamingTheField() async throws {
        let tensorParallel = Self.scenario().replacingOccurrences(of: "  data: 2\n", with: "  data: 1\n  tensor: 2\n")
        await #expect(throws: SimulationError.self) { try await Scenario(yaml: tensorParallel).runOnRuntime(backend: CPUBackend()) }
        do {
            _ = try await Scenario(yaml: tensorParallel).runOnRuntime(backend: CPUBackend())
        } catch let e as SimulationError {
            #expect(e.field == "parallelism")
        }
    }
}

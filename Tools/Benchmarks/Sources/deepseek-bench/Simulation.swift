import DeepseekKernelsBLAS
import DeepseekSimulation

/// The simulator's speed: simulated message events per second (a 256-device ring all-reduce on
/// one core), the wall time of one GPT-3 175B iteration on 1024 simulated A100s, and the
/// runtime's own actors on virtual time (8 data-parallel ranks of the MLP: every kernel computed
/// for real, every message encoded and decoded).
func runSimulation(_ options: Options) async throws -> GroupReport {
    var report = GroupReport(
        group: Group.simulation.rawValue, title: "Cluster simulator: events per second and a GPT-3 175B / 1024-GPU iteration",
        command: options.command(for: .simulation))
    report.columns = [
        Column("case", "case"), Column("messages", "messages", .fixed(0)), Column("events", "events", .fixed(0)), Column("wall", "wall s (best)", .fixed(3)),
        Column("rate", "messages/s", .fixed(0)), Column("simulated", "simulated s", .fixed(4)),
    ]
    let clock = ContinuousClock()
    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }
    progress("simulation: ring all-reduce of 100 MB among 256 simulated devices")
    let ring = ClusterTopology(nodes: 256, devicesPerNode: 1, intraNode: .nvlink3, interNode: .roce100)
    var best = Double.infinity
    var timing: ClusterSimulation.CollectiveTiming?
    for _ in 0..<max(1, options.repetitions) {
        let d = clock.measure { timing = ClusterSimulation.allReduce(topology: ring, devices: Array(0..<256), bytes: 100e6, algorithm: .ring) }
        best = min(best, seconds(d))
    }
    if let t = timing {
        report.records.append([
            "case": .text("ring all-reduce, 256 devices"), "messages": .number(Double(t.messages)), "events": .number(Double(t.events)),
            "wall": .number(best), "rate": .number(Double(t.messages) / best), "simulated": .number(t.seconds),
        ])
    }
    progress("simulation: GPT-3 175B, one iteration on 1024 A100 (t=8, p=8, d=16, 96 microbatches)")
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
        precision: bf16
        """
    let start = clock.now
    let configuration = try Scenario(yaml: text).configuration()
    let result = try ClusterSimulation(configuration).run()
    let total = seconds(clock.now - start)
    report.records.append([
        "case": .text("GPT-3 175B iteration, 1024 GPUs (graph trace included)"), "messages": .number(Double(result.transport.messages)),
        "events": .number(Double(result.events)), "wall": .number(total), "rate": .number(Double(result.transport.messages) / result.wallSeconds),
        "simulated": .number(result.iterationSeconds),
    ])
    report.notes.append("GPT-3 iteration: \(result.wallSeconds) s in the event loop, the rest tracing and costing the training graph; MFU \(result.mfu).")
    progress("simulation: the runtime's actors on virtual time, MLP on 8 data-parallel ranks")
    let runtime = """
        name: MLP, 8 ranks on the runtime
        cluster:
          nodes: 8
          devices_per_node: 1
          device: a100
          intra_node: nvlink3
          inter_node: roce-100g
        model:
          name: mlp
        parallelism:
          data: 8
          zero: 1
        batch:
          microbatch: 32
        precision: fp32
        optimizer: sgd
        """
    var bestRuntime = Double.infinity
    var executed: RuntimeExecutionReport?
    for _ in 0..<max(1, options.repetitions) {
        let r = try await Scenario(yaml: runtime).runOnRuntime(backend: CPUBackend(), warmUp: 1, steps: 4)
        if r.wallSeconds < bestRuntime { (bestRuntime, executed) = (r.wallSeconds, r) }
    }
    if let r = executed {
        let steps = Double(r.stepSeconds.count + 1)
        report.records.append([
            "case": .text("runtime actors on virtual time: MLP, 8 ranks, 5 steps"), "messages": .number(r.messagesPerStep * steps),
            "events": .number(Double(r.events)), "wall": .number(bestRuntime),
            "rate": .number(r.messagesPerStep * steps / bestRuntime), "simulated": .number(r.iterationSeconds),
        ])
        report.notes.append(
            "Runtime on virtual time: each step computes 8 ranks' forward and backward passes for real on this CPU and encodes every message; the rate is messages per second of wall time, compute included.")
    }
    return report
}

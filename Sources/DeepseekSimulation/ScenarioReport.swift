import DeepseekTraceExport
import DeepseekTracing

/// The outcome of a scenario: the simulated iteration, memory per stage, scaling against a
/// smaller configuration — rendered as Markdown, JSON and a Chrome trace, all byte-identical for
/// the same scenario and seed (wall-clock figures are left out of them).
public struct ScenarioReport: Sendable {
    public var scenario: Scenario
    public var result: SimulationResult
    public var memory: [MemoryBreakdown]
    public var deviceCapacity: Double
    /// Iteration seconds of the baseline configuration, and its data-parallel size.
    public var baseline: (dataParallel: Int, result: SimulationResult)?

    /// Throughput per device at this size over throughput per device at the baseline size.
    public var scalingEfficiency: Double? {
        guard let b = baseline, b.result.samplesPerSecond > 0 else { return nil }
        let perDevice = result.samplesPerSecond / Double(scenario.layout.devices)
        let basePerDevice = b.result.samplesPerSecond / Double(b.dataParallel * scenario.layout.tensorParallel * scenario.layout.pipelineParallel)
        return perDevice / basePerDevice
    }

    /// The timeline as a Chrome trace (Perfetto opens it).
    public func chromeTrace() throws -> [UInt8] {
        try ChromeTraceWriter.render(result.trace, settings: .init(metadata: ["scenario": scenario.name, "seed": String(scenario.seed)]))
    }
}

extension Scenario {
    /// Simulates one iteration (and the baseline configuration when one is set).
    public func run(trace: Bool = false) throws -> ScenarioReport {
        let configuration = try configuration(trace: trace)
        let result = try ClusterSimulation(configuration).run()
        var baseline: (Int, SimulationResult)?
        if let b = baselineDataParallel, b < layout.dataParallel {
            var small = configuration
            small.layout.dataParallel = b
            small.trace = false
            small.faults = FaultSchedule()
            let needed = small.layout.devices
            small.topology.nodes = max(1, (needed + topology.devicesPerNode - 1) / topology.devicesPerNode)
            baseline = (b, try ClusterSimulation(small).run())
        }
        let memory = (0..<layout.pipelineParallel).map { configuration.memory(stage: $0) }
        return ScenarioReport(scenario: self, result: result, memory: memory, deviceCapacity: device.memoryCapacity, baseline: baseline)
    }
}

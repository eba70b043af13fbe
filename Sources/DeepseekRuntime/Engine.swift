import DeepseekCore
public import DeepseekActors
public import DeepseekGraph
public import DeepseekTensor
import Distributed

/// Knobs of the engine.
public struct EngineSettings: Sendable {
    /// Nodes a device may have dispatched and not finished (1 keeps work unbound until a device
    /// is free, which is what lets an idle device take it).
    public var maxOutstandingPerDevice: Int
    /// Planned graphs kept, by structural hash.
    public var planCacheCapacity: Int
    public var costModel: CostModel
    /// The process that holds the feeds and receives the results.
    public var sourceProcess: Int
    /// Nodes estimated to take at most this long run inline in the engine's loop instead of in a
    /// task of their own (0 disables it).
    public var inlineSeconds: Double
    /// Run a node that writes a graph output (and what feeds only it) as soon as it is ready,
    /// ahead of the critical path: a training graph's gradients then appear while backward
    /// still runs, last layer first, for `Engine.run(_:_:outputReady:)` to hand on. The
    /// order of nodes changes, never their results.
    public var outputsFirst: Bool

    public init(
        maxOutstandingPerDevice: Int = 1, planCacheCapacity: Int = 16, costModel: CostModel = CostModel(), sourceProcess: Int = 0,
        inlineSeconds: Double = 20e-6, outputsFirst: Bool = true
    ) {
        self.inlineSeconds = inlineSeconds
        self.outputsFirst = outputsFirst
        self.maxOutstandingPerDevice = maxOutstandingPerDevice
        self.planCacheCapacity = planCacheCapacity
        self.costModel = costModel
        self.sourceProcess = sourceProcess
    }
}

/// Runs graphs on a set of device actors: plans each graph once (cached by structural hash),
/// then drives the scheduler state machine, turning its directives into messages to operator
/// and device actors.
///
/// ```swift
/// let engine = try await Engine(actorSystem: system, devices: [cpu, opencl])
/// let result = try await engine.run(graph, GraphFeeds(inputs: ["x": x], parameters: params))
/// print(result.report)   // wall time, per-device utilisation, plan cache
/// ```
public actor Engine {
    let system: DeepseekActorSystem
    let devices: [DeviceActor]
    public let descriptors: [DeviceDescriptor]
    let settings: EngineSettings
    var costModel: CostModel
    var cache: PlanCache<EnginePlan>
    /// Process rank → the runtime node that builds operator actors there (this process needs none).
    var remoteNodes: [Int: RuntimeNode] = [:]

    /// An engine over `devices` (local or remote device actors).
    public init(actorSystem: DeepseekActorSystem, devices: [DeviceActor], remoteNodes: [RuntimeNode] = [], settings: EngineSettings = EngineSettings()) async throws {
        precondition(!devices.isEmpty, "Engine needs at least one device")
        self.system = actorSystem
        self.devices = devices
        var descriptors: [DeviceDescriptor] = []
        for d in devices { descriptors.append(try await d.describe()) }
        self.descriptors = descriptors
        self.settings = settings
        self.costModel = settings.costModel
        self.cache = PlanCache(capacity: settings.planCacheCapacity)
        for node in remoteNodes { self.remoteNodes[Int(node.id.node.rank)] = node }
    }

    /// Plan-cache hits and misses so far.
    public var planCacheStatistics: (hits: Int, misses: Int) { (cache.hits, cache.misses) }

    /// Validates and plans `graph` without running it (or returns the cached plan).
    public func prepare(_ graph: Graph) async throws -> (hash: StructuralHash, cacheHit: Bool) {
        let key = graph.structuralHash
        if cache.plan(for: key) != nil { return (key, true) }
        let plan = try await EnginePlan.make(graph, key: key, engine: self)
        cache.insert(plan, for: key)
        return (key, false)
    }

    /// Runs `graph` with `feeds` and returns its outputs and a report.
    ///
    /// - Parameter activations: where values that wait long for a consumer in this process
    ///   (activations saved for the backward pass) are kept meanwhile; `nil`: in the consumers'
    ///   input slots.
    /// - Parameter outputReady: called with each output's position in `graph.outputs` and its
    ///   value as soon as the node producing it has completed — while the rest of the graph
    ///   still runs — so a caller can start on gradients as backward produces them. Outputs
    ///   that are sources (inputs, parameters, constants) are reported first. The handler runs
    ///   inside the engine's loop: it should only hand the value on (e.g. yield it to an
    ///   `AsyncStream`), never block. `nil` costs nothing.
    /// - Throws: `GraphError` for bad feeds; `SchedulingError`/`RuntimeError` when the graph
    ///   cannot be placed (before anything runs); kernel errors name the node that failed.
    public func run(
        _ graph: Graph, _ feeds: GraphFeeds, activations: (any ActivationParking)? = nil, outputReady: OutputHandler? = nil
    ) async throws -> EngineResult {
        let wallStart = ContinuousClock.now
        try graph.validate(feeds)
        let (key, hit) = try await prepare(graph)
        guard let plan = cache.peek(key) else { throw RuntimeError(.placement, "plan for \(key) vanished from the cache") }
        let planned = ContinuousClock.now
        for d in devices { try await d.resetUsage() }
        let execution = try await plan.execute(graph, feeds, engine: self, recordsTimes: !hit, activations: activations, outputReady: outputReady)
        let wall = ContinuousClock.now - wallStart
        var usage: [DeviceUsage] = []
        for d in devices { usage.append(try await d.usage()) }
        let report = EngineReport(
            wallSeconds: wall.inSeconds, planSeconds: (planned - wallStart).inSeconds, planCacheHit: hit, nodes: plan.nodeOf.count,
            devices: usage, directives: execution.directiveCount)
        return EngineResult(outputs: execution.outputs, report: report)
    }

    func recordTimes(_ samples: [(GraphNodeID, Int, Double)], graph: Graph) {
        for (n, d, s) in samples { costModel.record(graph[node: n], in: graph, kind: descriptors[d].kind, seconds: s) }
    }
}

/// Receives one graph output as soon as it is final: its position in `Graph.outputs` and its value.
public typealias OutputHandler = @Sendable (_ index: Int, _ tensor: Tensor) -> Void

/// The outputs of a run and what it cost.
public struct EngineResult: Sendable {
    public var outputs: [Tensor]
    public var report: EngineReport
}

/// What a run did: wall time, planning, and each device's share.
public struct EngineReport: Sendable, CustomStringConvertible {
    public var wallSeconds: Double
    public var planSeconds: Double
    public var planCacheHit: Bool
    public var nodes: Int
    public var devices: [DeviceUsage]
    public var directives: Int

    /// Busy time over wall time, per device (0…1).
    public var utilisation: [Double] { devices.map { wallSeconds > 0 ? min(1, $0.busySeconds / wallSeconds) : 0 } }

    public var description: String {
        var lines = ["\(nodes) nodes in \(String(format3: wallSeconds * 1e3)) ms (planning \(String(format3: planSeconds * 1e3)) ms, plan cache \(planCacheHit ? "hit" : "miss"), \(directives) directives)"]
        for (u, f) in zip(devices, utilisation) {
            lines.append("  \(u.device.name) [\(u.device.kind), node \(u.device.process)]: \(u.nodes) nodes, busy \(String(format3: u.busySeconds * 1e3)) ms, utilisation \(Int((f * 100).rounded()))%")
        }
        return lines.joined(separator: "\n")
    }
}

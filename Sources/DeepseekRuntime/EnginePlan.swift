import DeepseekCore
import DeepseekActors
import DeepseekGraph
import DeepseekTensor
import DeepseekTracing
import Distributed

/// A graph made ready to run: validated placement, the prepared scheduling problem and the
/// operator actors wired to each other. Cached by structural hash, so an unchanged graph costs
/// one hash per step.
struct EnginePlan: Sendable {
    var prepared: PreparedProblem
    /// Scheduling node → graph node.
    var nodeOf: [GraphNodeID]
    /// Graph node → scheduling node (nil for sources).
    var schedulingNode: [Int?]
    /// Scheduling node → its operator actor.
    var operators: [OperatorActor]
    /// Scheduling node → process.
    var processOf: [Int]
    /// Source value → consumers (scheduling node, slot, process).
    var sourceConsumers: [Int: [(node: Int, slot: Int, process: Int)]]
    /// Value → (producing scheduling node, output index).
    var producerOf: [Int: (node: Int, output: Int)]
    /// Values produced in one process and read in another: their producer keeps them until freed.
    var crossProcessValues: Set<Int>
    /// Scheduling node → the name of its dispatch on a timeline and, per device index, the
    /// dispatch's arguments (receiver, device): made once per plan so a traced step formats no
    /// strings and allocates no arguments.
    var dispatchNames: [(name: String, arguments: [TraceArguments])] = []

    static func make(_ graph: Graph, key: StructuralHash, engine: Engine) async throws -> EnginePlan {
        let descriptors = engine.descriptors
        let local = Int(engine.system.node.rank)
        let source = engine.settings.sourceProcess
        let processes = Set(descriptors.map(\.process))
        // Processes are fixed at plan time (operator actors live somewhere); devices within a
        // process are chosen at run time by the scheduler.
        var processOfNode = [Int](repeating: source, count: graph.nodes.count)
        for n in graph.nodes where !n.op.isSource {
            var p = n.pin.process ?? source
            if let d = n.pin.device {
                guard descriptors.indices.contains(d) else {
                    throw RuntimeError(.placement, "\(graph.describe(n.id)) is pinned to device \(d), but the engine has devices 0..<\(descriptors.count): \(descriptors.map(\.description).joined(separator: "; "))")
                }
                if let pinned = n.pin.process, pinned != descriptors[d].process {
                    throw RuntimeError(.placement, "\(graph.describe(n.id)) is pinned to device \(d) (node \(descriptors[d].process)) and to node \(pinned); drop one of the pins")
                }
                p = descriptors[d].process
            }
            guard processes.contains(p) else {
                throw RuntimeError(.placement, "\(graph.describe(n.id)) is pinned to node \(p), which has no device in this engine (nodes with devices: \(processes.sorted()))")
            }
            let candidates = descriptors.enumerated().filter { (i, d) in
                d.process == p && (n.pin.kind == nil || n.pin.kind == d.kind) && (n.pin.device == nil || n.pin.device == i)
                    && (n.op.deviceKinds?.contains(d.kind) ?? true)
            }
            if candidates.isEmpty {
                let kinds = n.op.deviceKinds.map { " (\(n.op.label) runs on \($0.sorted().map(\.name).joined(separator: ", ")))" } ?? ""
                throw RuntimeError(.placement, "\(graph.describe(n.id)) cannot run anywhere: node \(p) has devices \(descriptors.filter { $0.process == p }.map(\.description)), pin is \(n.pin)\(kinds); add such a device or change the pin")
            }
            processOfNode[n.id.rawValue] = p
        }
        let model = await engine.costModel
        var (problem, nodeOf, schedulingNode) = graph.schedulingProblem(
            devices: descriptors.map { ($0.kind, $0.process) }, sourceProcess: source,
            cost: { node, kind in model.seconds(node, in: graph, kind: kind, work: CostModel.work(of: node, in: graph)) })
        for (i, g) in nodeOf.enumerated() { problem.nodes[i].pinnedProcess = processOfNode[g.rawValue] }
        let prepared: PreparedProblem
        do { prepared = try PreparedProblem(problem, outputsFirst: engine.settings.outputsFirst) } catch {
            throw RuntimeError(.placement, "the graph cannot be scheduled: \(error.message)", cause: error)
        }

        // Operator actors, by process.
        let isResult = Set(graph.outputs)
        var operators: [OperatorActor?] = Array(repeating: nil, count: nodeOf.count)
        var localDevices: [Int: DeviceActor] = [:]
        for (i, d) in descriptors.enumerated() where d.process == local { localDevices[i] = engine.devices[i] }
        var byProcess: [Int: [Int]] = [:]
        for (i, g) in nodeOf.enumerated() { byProcess[processOfNode[g.rawValue], default: []].append(i) }
        for (p, nodes) in byProcess.sorted(by: { $0.key < $1.key }) {
            if p == local {
                for i in nodes {
                    let n = graph[node: nodeOf[i]]
                    operators[i] = DeepseekActorSystem.withPath("operators/\(n.id)") {
                        OperatorActor(
                            node: n.id, op: n.op, arity: n.inputs.count, process: p, devices: localDevices,
                            resultOutputs: Set(n.outputs.enumerated().filter { isResult.contains($0.element) }.map(\.offset)),
                            actorSystem: engine.system)
                    }
                }
            } else {
                guard let remote = await engine.remoteNodes[p] else {
                    throw RuntimeError(.remote, "nodes are placed on node \(p), but the engine has no RuntimeNode there; pass it in `remoteNodes`")
                }
                let deviceMap = descriptors.enumerated().filter { $0.element.process == p }.map(\.offset)
                let made = try await remote.instantiate(
                    graphHigh: key.high, graphLow: key.low, nodes: nodes.map { nodeOf[$0].rawValue }, deviceIndices: deviceMap)
                for (i, a) in zip(nodes, made) { operators[i] = a }
            }
        }
        let ops = operators.map { $0! }

        // Wiring: each producer learns its consumers.
        var edges = [[OperatorEdge]](repeating: [], count: nodeOf.count)
        var sourceConsumers: [Int: [(node: Int, slot: Int, process: Int)]] = [:]
        var producerOf: [Int: (node: Int, output: Int)] = [:]
        for (i, g) in nodeOf.enumerated() {
            for (k, v) in graph[node: g].outputs.enumerated() { producerOf[v.rawValue] = (i, k) }
        }
        for (i, g) in nodeOf.enumerated() {
            for (slot, v) in graph[node: g].inputs.enumerated() {
                let p = processOfNode[g.rawValue]
                if let (producer, output) = producerOf[v.rawValue] {
                    edges[producer].append(OperatorEdge(consumer: ops[i], slot: slot, process: p, output: output))
                } else {
                    sourceConsumers[v.rawValue, default: []].append((i, slot, p))
                }
            }
        }
        var crossProcessValues = Set<Int>()
        for (i, g) in nodeOf.enumerated() {
            for e in edges[i] where e.process != processOfNode[g.rawValue] {
                crossProcessValues.insert(graph[node: g].outputs[e.output].rawValue)
            }
        }
        for (i, op) in ops.enumerated() {
            let e = edges[i]
            if await op.whenLocal({ $0.connect(e) }) == nil {
                guard let remote = await engine.remoteNodes[processOfNode[nodeOf[i].rawValue]] else { continue }
                try await remote.connect(op, edges: e)
            }
        }
        var plan = EnginePlan(
            prepared: prepared, nodeOf: nodeOf, schedulingNode: schedulingNode, operators: ops,
            processOf: nodeOf.map { processOfNode[$0.rawValue] }, sourceConsumers: sourceConsumers, producerOf: producerOf,
            crossProcessValues: crossProcessValues)
        if engine.tracer.isEnabled {
            plan.dispatchNames = nodeOf.indices.map { index in
                let receiver = ops[index].id.description
                let arguments: [TraceArguments] = descriptors.indices.map { ["to": .string(receiver), "device": .int(Int64($0))] }
                return ("fire \(graph[node: nodeOf[index]].op.label)", arguments)
            }
        }
        return plan
    }
}

extension EnginePlan {
    struct Execution: Sendable {
        var outputs: [Tensor]
        var directiveCount: Int
    }

    enum Event: Sendable {
        case ran(node: Int, device: Int, results: [Tensor?], seconds: Double)
        case sent(value: Int, to: Int)
        case released
    }

    /// Runs the plan once. `recordsTimes` feeds measured node times back into the cost model (on
    /// a plan's first runs: keying a measurement costs more than dispatching a small node).
    ///
    /// `outputReady` hears of each graph output as soon as its node has completed (see `Engine.run`).
    func execute(_ graph: Graph, _ feeds: GraphFeeds, engine: Engine, recordsTimes: Bool, outputReady: OutputHandler? = nil) async throws -> Execution {
        let source = engine.settings.sourceProcess
        var sourceTensors: [Int: Tensor] = [:]
        for n in graph.nodes {
            switch n.op {
            case .input(let name): sourceTensors[n.outputs[0].rawValue] = feeds.inputs[name]
            case .parameter(let name): sourceTensors[n.outputs[0].rawValue] = feeds.parameters[name]
            case .constant(let t): sourceTensors[n.outputs[0].rawValue] = t
            default: break
            }
        }
        // Sources go to their consumers in the source process now; others on `send`.
        for (v, consumers) in sourceConsumers {
            guard let t = sourceTensors[v] else { continue }
            for c in consumers where c.process == source { try await operators[c.node].deliver(slot: c.slot, tensor: t) }
        }
        var results: [Int: Tensor] = [:]
        results.reserveCapacity(graph.outputs.count)
        for v in graph.outputs where sourceTensors[v.rawValue] != nil { results[v.rawValue] = sourceTensors[v.rawValue] }
        // Output positions by value, only when someone listens (a value may be listed twice).
        var outputPositions: [Int: [Int]] = [:]
        // Set when an output was just reported: the loop then yields its thread once, so whoever
        // waits for the output can run now rather than when the graph is done (the loop hops
        // from actor to actor without returning its thread to the pool otherwise).
        var reported = false
        if let outputReady {
            for (i, v) in graph.outputs.enumerated() { outputPositions[v.rawValue, default: []].append(i) }
            for (i, v) in graph.outputs.enumerated() { if let t = sourceTensors[v.rawValue] { outputReady(i, t) } }
        }

        var scheduler = Scheduler(prepared, settings: SchedulerSettings(maxOutstandingPerDevice: engine.settings.maxOutstandingPerDevice))
        var queue: [SchedulerDirective] = []
        var count = 0
        var samples: [(GraphNodeID, Int, Double)] = []
        let operators = self.operators
        let nodeOf = self.nodeOf
        let inlineSeconds = engine.settings.inlineSeconds
        let local = Int(engine.system.node.rank)
        var finished = false

        func completed(_ event: Event) {
            switch event {
            case .ran(let node, let device, let r, let seconds):
                for (k, v) in graph[node: nodeOf[node]].outputs.enumerated() where k < r.count {
                    guard let t = r[k] else { continue }
                    results[v.rawValue] = t
                    if let outputReady, let positions = outputPositions[v.rawValue] {
                        for i in positions { outputReady(i, t) }
                        reported = true
                    }
                }
                if recordsTimes { samples.append((nodeOf[node], device, seconds)) }
                scheduler.completed(node: node, on: DeviceID(device), into: &queue)
            case .sent(let value, let to):
                scheduler.transferred(value: value, to: to, into: &queue)
            case .released:
                break
            }
        }

        let tracer = engine.tracer
        let engineTrack = tracer.isEnabled ? tracer.on(TraceTrack(node: UInt32(local), thread: 1, name: "Engine")) : nil
        let runStart = engineTrack?.clock.now()

        // Node times come from the actor system's clock: virtual time in a simulation.
        let system = engine.system
        let clock = system.settings.clock
        @Sendable func fire(_ op: OperatorActor, node: Int, device: Int) async throws -> Event {
            let start = clock.now()
            var flow: UInt64 = 0
            if let engineTrack, node < dispatchNames.count {
                let f = RuntimeTracing.nextFlow(system)
                let (name, arguments) = dispatchNames[node]
                engineTrack.flow(
                    .send, f, name: name, category: .scheduler,
                    arguments: device < arguments.count ? arguments[device] : ["device": .int(Int64(device))])
                flow = f.rawValue
            }
            do {
                let r = try await op.fire(device: device, flow: flow)
                return .ran(node: node, device: device, results: r, seconds: Double(clock.now().nanoseconds &- start.nanoseconds) * 1e-9)
            } catch let e as RuntimeError {
                throw e
            } catch {
                throw RuntimeError(.kernel, "\(graph.describe(nodeOf[node])) failed on device \(device): \(error)", cause: error)
            }
        }

        try await withThrowingTaskGroup(of: Event.self) { group in
            scheduler.start(into: &queue)
            while true {
                var i = 0
                while i < queue.count {
                    let d = queue[i]
                    i += 1
                    count += 1
                    switch d {
                    case .run(let node, let device):
                        let op = operators[node]
                        // A node on an idle local device runs right here, without a task of its
                        // own, when it is cheap (a task would cost more than the kernel) or when
                        // nothing else is in flight or about to be dispatched (a task would only
                        // add a hand-off). The device is idle — the scheduler dispatches to free
                        // devices only — so nothing waits behind it.
                        if processOf[node] == local, inlineSeconds > 0,
                            (prepared.cost(of: node, on: device) ?? .infinity) <= inlineSeconds
                                || (group.isEmpty && !queue[i...].contains(where: { if case .run = $0 { true } else { false } }))
                        {
                            completed(try await fire(op, node: node, device: device.index))
                            if reported {
                                reported = false
                                await Task.yield()
                            }
                        } else {
                            group.addTask { try await fire(op, node: node, device: device.index) }
                        }
                    case .send(let value, _, let to):
                        if let (producer, output) = producerOf[value] {
                            let op = operators[producer]
                            group.addTask {
                                try await op.push(output: output, toProcess: to)
                                return .sent(value: value, to: to)
                            }
                        } else {
                            let targets = (sourceConsumers[value] ?? []).filter { $0.process == to }.map { (operators[$0.node], $0.slot) }
                            let tensor = sourceTensors[value]
                            group.addTask {
                                if let tensor { for (op, slot) in targets { try await op.deliver(slot: slot, tensor: tensor) } }
                                return .sent(value: value, to: to)
                            }
                        }
                    case .free(let value, let process):
                        // Values consumed in their own process are dropped by the operators as
                        // they fire; a copy kept for another process is released here.
                        if crossProcessValues.contains(value), let (producer, output) = producerOf[value], processOf[producer] == process {
                            let op = operators[producer]
                            group.addTask {
                                try await op.release(output: output)
                                return .released
                            }
                        }
                    case .finished:
                        finished = true
                    }
                }
                queue.removeAll(keepingCapacity: true)
                if finished && group.isEmpty { break }
                guard let event = try await group.next() else {
                    if finished { break }
                    throw RuntimeError(.cancelled, "the scheduler stalled with \(scheduler.completedNodes) of \(nodeOf.count) nodes done; this is a bug in the plan")
                }
                completed(event)
                if reported {
                    reported = false
                    await Task.yield()
                }
            }
        }
        if let engineTrack, let runStart {
            engineTrack.complete("run", category: .scheduler, startedAt: runStart, arguments: ["nodes": .int(Int64(nodeOf.count)), "directives": .int(Int64(count))])
        }
        if recordsTimes { await engine.recordTimes(samples, graph: graph) }
        let outputs = try graph.outputs.map { v -> Tensor in
            guard let t = results[v.rawValue] else { throw RuntimeError(.kernel, "output \(v) was not produced") }
            return t
        }
        return Execution(outputs: outputs, directiveCount: count)
    }
}

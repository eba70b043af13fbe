public import DeepseekActors
import DeepseekGraph
public import DeepseekTensor
import DeepseekCore
import DeepseekTracing
public import Distributed

/// Where an operator's output goes: a consumer's input slot, and the process it lives in.
public struct OperatorEdge: Sendable {
    public var consumer: OperatorActor
    public var slot: Int
    public var process: Int
    /// Which of the producer's outputs feeds the slot.
    public var output: Int
}

/// One graph node as an actor: it collects its inputs as they arrive, runs its kernel on the
/// device the scheduler chose once all are there, and sends its outputs on to its consumers.
///
/// Consumers in the same process receive outputs directly when the node fires; consumers in
/// other processes receive them when the scheduler says so (`push`), through the transport —
/// each tensor crosses a process boundary once, however many consumers it has there.
public distributed actor OperatorActor: WireCodable {
    public typealias ActorSystem = DeepseekActorSystem

    let node: GraphNodeID
    let op: GraphOp
    let process: Int
    /// This process's devices, by their index in the engine's device table.
    let devices: [Int: DeviceActor]
    /// The outputs that are graph results, returned to the engine when the node fires.
    let resultOutputs: Set<Int>
    private var inputs: [Tensor?]
    /// The flow of the message that brought each input from an operator in this process (0: none
    /// or not traced).
    private var inputFlows: [UInt64]
    private var outputs: [Tensor?] = []
    private var edges: [OperatorEdge] = []
    /// Whether some consumer lives in another process, so outputs are kept until pushed.
    private var keepsOutputs = false
    /// This operator's row on a timeline and, per consumer, the arguments of a hand-over (the
    /// consumer's address), made on the first traced firing so later ones format no strings and
    /// allocate no arguments.
    private var traceRow: (track: TraceTrack, consumers: [TraceArguments])?
    /// The actor system's tracer, read once: the settings are a large value to copy per firing.
    private let tracer: Tracer
    /// Where inputs wait instead of `inputs` during a run that parks them (`ActivationParking`),
    /// and the tickets of the inputs parked there, by slot.
    var parking: (any ActivationParking)?
    var parked: [Int: ActivationTicket] = [:]

    init(node: GraphNodeID, op: GraphOp, arity: Int, process: Int, devices: [Int: DeviceActor], resultOutputs: Set<Int>, actorSystem: DeepseekActorSystem) {
        self.node = node
        self.op = op
        self.process = process
        self.devices = devices
        self.resultOutputs = resultOutputs
        self.inputs = Array(repeating: nil, count: arity)
        self.inputFlows = Array(repeating: 0, count: arity)
        self.tracer = actorSystem.settings.tracer
        self.actorSystem = actorSystem
    }

    /// Sets where the outputs go (once, when the plan is instantiated).
    func connect(_ edges: [OperatorEdge]) {
        self.edges = edges
        keepsOutputs = edges.contains { $0.process != process }
    }

    /// An input arrived.
    public distributed func deliver(slot: Int, tensor: Tensor) {
        inputs[slot] = tensor
    }

    /// Several inputs arrived at once (one value feeding several slots, or a batch from one producer).
    public distributed func deliver(slots: [Int], tensor: Tensor) {
        for s in slots { inputs[s] = tensor }
    }

    /// Runs the node on the device with engine index `device` and sends the outputs to the
    /// consumers in this process. Returns the outputs that are graph results (others `nil`).
    ///
    /// - Parameter flow: the trace flow of the dispatch message (0 when not traced).
    public distributed func fire(device: Int, flow: UInt64 = 0) async throws -> [Tensor?] {
        guard let actor = devices[device] else {
            throw RuntimeError(.placement, "\(node) was sent to device \(device), which is not in process \(process); the plan and the device table disagree")
        }
        if let parking, !parked.isEmpty {
            for (slot, ticket) in parked.sorted(by: { $0.key < $1.key }) { inputs[slot] = try await parking.unpark(ticket, node: node, slot: slot) }
            parked.removeAll()
        }
        var args: [Tensor] = []
        args.reserveCapacity(inputs.count)
        for (slot, t) in inputs.enumerated() {
            guard let t else { throw RuntimeError(.kernel, "\(node) (\(op.label)) fired before input \(slot) arrived; the scheduler's order was violated") }
            args.append(t)
        }
        let arguments = args
        let op = self.op
        let tracer = self.tracer
        var traced: Tracer?
        var handOverArguments: [TraceArguments] = []
        if tracer.isEnabled {
            let row = traceRow ?? (
                RuntimeTracing.track(id, name: "OperatorActor \(op.label)#\(node.rawValue)"),
                edges.map { ["to": .string($0.consumer.id.description)] }
            )
            traceRow = row
            traced = tracer.on(row.track)
            handOverArguments = row.consumers
        }
        if let traced {
            // The dispatch and every input handed over in this process end here.
            if flow != 0 { traced.flow(.handlerBegin, FlowID(rawValue: flow), name: "fire", category: .runtime) }
            // An input's hand-over ends in an instant-like handler inside the firing, so every
            // handler span closes and the arrow lands where the input was used.
            for (i, f) in inputFlows.enumerated() where f != 0 {
                traced.flow(.handlerBegin, FlowID(rawValue: f), name: "input", category: .runtime)
                traced.flow(.handlerEnd, FlowID(rawValue: f), name: "input", category: .runtime)
                inputFlows[i] = 0
            }
        }
        defer { if let traced, flow != 0 { traced.flow(.handlerEnd, FlowID(rawValue: flow), name: "fire", category: .runtime) } }
        let ran = try await actor.whenLocal { device in (try device.execute(op, arguments), device.isPaced) }
        guard let (results, paced) = ran else { throw RuntimeError(.placement, "device \(device) of \(node) is not local to process \(process)") }
        if paced { _ = await actor.whenLocal { device in await device.pace(op, arguments, results) } }
        for i in inputs.indices { inputs[i] = nil }
        if keepsOutputs { outputs = results }
        for (index, e) in edges.enumerated() where e.process == process {
            let handOver: UInt64
            if let traced {
                let f = RuntimeTracing.nextFlow(actorSystem)
                traced.flow(.send, f, name: "output", category: .runtime, arguments: handOverArguments[index])
                handOver = f.rawValue
            } else {
                handOver = 0
            }
            if let local = await e.consumer.whenLocal({ c in c.accept(e.slot, results[e.output], flow: handOver) }) { _ = local } else {
                try await e.consumer.deliver(slot: e.slot, tensor: results[e.output])
            }
        }
        if let parking { try await parking.settle(after: node) }
        if resultOutputs.isEmpty { return [] }
        var returned = [Tensor?](repeating: nil, count: results.count)
        for i in resultOutputs where i < results.count { returned[i] = results[i] }
        return returned
    }

    func accept(_ slot: Int, _ tensor: Tensor, flow: UInt64 = 0) {
        if let parking, let ticket = parking.park(tensor, node: node, slot: slot) { parked[slot] = ticket } else { inputs[slot] = tensor }
        inputFlows[slot] = flow
    }

    /// Sends output `output` to this node's consumers in process `process` and forgets it once
    /// no other process needs it.
    public distributed func push(output: Int, toProcess target: Int) async throws {
        guard output < outputs.count, let tensor = outputs[output] else {
            throw RuntimeError(.remote, "\(node) has no output \(output) to send to node \(target); it has not fired or already sent it")
        }
        let targets = edges.filter { $0.process == target && $0.output == output }
        var byConsumer: [(OperatorActor, [Int])] = []
        for e in targets {
            if let i = byConsumer.firstIndex(where: { $0.0.id == e.consumer.id }) { byConsumer[i].1.append(e.slot) } else { byConsumer.append((e.consumer, [e.slot])) }
        }
        for (consumer, slots) in byConsumer { try await consumer.deliver(slots: slots, tensor: tensor) }
    }

    /// Drops a kept output (the scheduler's `free` for a value another process needed).
    public distributed func release(output: Int) {
        if output < outputs.count { outputs[output] = nil }
    }
}

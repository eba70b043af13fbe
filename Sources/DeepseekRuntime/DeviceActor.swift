public import DeepseekActors
public import DeepseekCore
public import DeepseekGraph
public import DeepseekTensor
import DeepseekTracing
public import Distributed
import Synchronization

/// What a device is: its kind, a display name and the process (cluster node rank) it lives in.
public struct DeviceDescriptor: Sendable, Hashable, WireCodable, CustomStringConvertible {
    public var kind: DeviceKind
    public var name: String
    public var process: Int

    public init(kind: DeviceKind, name: String, process: Int = 0) {
        self.kind = kind
        self.name = name
        self.process = process
    }

    public var description: String { "\(name) (\(kind), node \(process))" }

    public func encode(to writer: inout WireWriter) {
        writer.encode(kind.name)
        writer.encode(name)
        writer.encode(process)
    }

    public static func decode(from reader: inout WireReader) throws -> DeviceDescriptor {
        DeviceDescriptor(kind: DeviceKind(try reader.decode(String.self)), name: try reader.decode(String.self), process: try reader.decode(Int.self))
    }
}

/// A compute device as an actor: it runs graph nodes' kernels on one `KernelBackend`, one at a
/// time, and keeps account of its busy time.
///
/// Kernels run on the actor's executor, so two device actors run two kernels at once — that is
/// how independent branches placed on different devices overlap.
public distributed actor DeviceActor: WireCodable {
    public typealias ActorSystem = DeepseekActorSystem

    let backend: any KernelBackend
    let descriptor: DeviceDescriptor
    private var busy: Duration = .zero
    private var nodesRun = 0
    /// The device's row on a timeline, made on the first traced kernel.
    private var traceTrack: TraceTrack?
    /// The actor system's tracer, read once: the settings are a large value to copy per kernel.
    private let tracer: Tracer

    /// Modelled kernel durations (the simulator's), or `nil`: kernels take the time they take.
    let pacing: (any KernelPacing)?

    /// A device running kernels on `backend`, of `kind`, in this process.
    ///
    /// - Parameter pacing: gives kernels the durations of a device model on virtual time (the
    ///   simulator's); `nil` for a real device.
    public init(backend: any KernelBackend, kind: DeviceKind, name: String? = nil, pacing: (any KernelPacing)? = nil, actorSystem: DeepseekActorSystem) {
        self.backend = backend
        self.descriptor = DeviceDescriptor(kind: kind, name: name ?? backend.name, process: Int(actorSystem.node.rank))
        self.tracer = actorSystem.settings.tracer
        self.pacing = pacing
        self.actorSystem = actorSystem
    }

    /// The device's kind, name and process.
    public distributed func describe() -> DeviceDescriptor { descriptor }

    /// Seconds spent in kernels and nodes run since the last `resetUsage`.
    public distributed func usage() -> DeviceUsage { DeviceUsage(device: descriptor, busySeconds: busy.inSeconds, nodes: nodesRun) }

    /// Clears the usage counters.
    public distributed func resetUsage() {
        busy = .zero
        nodesRun = 0
    }

    /// Runs `op` on `inputs` with this device's backend (local callers only: tensors stay in memory).
    ///
    /// On a paced device the kernel's time is accounted for by `pace(_:_:_:)`, which the caller
    /// awaits before using the results.
    public func execute(_ op: GraphOp, _ inputs: [Tensor], arena: ArenaSlot? = nil) throws -> [Tensor] {
        if pacing != nil { return try evaluate(op, inputs, arena: arena) }
        let start = ContinuousClock.now
        let tracer = self.tracer
        let traceStart = tracer.isEnabled ? tracer.clock.now() : Instant(nanoseconds: 0)
        defer {
            busy += ContinuousClock.now - start
            nodesRun += 1
            if tracer.isEnabled { traceKernel(op, startedAt: traceStart) }
        }
        return try evaluate(op, inputs, arena: arena)
    }

    /// Whether kernels here take modelled rather than measured time.
    public var isPaced: Bool { pacing != nil }

    /// Holds `op`'s results until the device model says the kernel is done (nothing for an
    /// unpaced device). Kernels are paced in the order they call this.
    public func pace(_ op: GraphOp, _ inputs: [Tensor], _ outputs: [Tensor]) async {
        guard let pacing else { return }
        let kernel = await pacing.pace(
            op, inputs: inputs.map { TensorType($0.shape, $0.dtype) }, outputs: outputs.map { TensorType($0.shape, $0.dtype) })
        busy += .nanoseconds(Int64((kernel.seconds * 1e9).rounded()))
        nodesRun += 1
        if tracer.isEnabled { traceKernel(op, startedAt: kernel.started) }
    }

    private func evaluate(_ op: GraphOp, _ inputs: [Tensor], arena: ArenaSlot?) throws -> [Tensor] {
        try KernelBackends.using(backend) {
            if let arena { try arena.arena.withOutputSlot(offset: arena.offset, byteCount: arena.byteCount) { try op.evaluate(inputs) } }
            else { try op.evaluate(inputs) }
        }
    }

    private func traceKernel(_ op: GraphOp, startedAt start: Instant) {
        let track = traceTrack ?? RuntimeTracing.track(id, name: "DeviceActor \(descriptor.name)")
        traceTrack = track
        tracer.on(track).kernel(op.label, startedAt: start)
    }
}

/// Where a node's output should be placed in a planned arena.
public struct ArenaSlot: Sendable {
    public var arena: TensorArena
    public var offset: Int
    public var byteCount: Int
    public init(arena: TensorArena, offset: Int, byteCount: Int) {
        self.arena = arena
        self.offset = offset
        self.byteCount = byteCount
    }
}

/// How busy a device was.
public struct DeviceUsage: Sendable, Hashable, WireCodable, CustomStringConvertible {
    public var device: DeviceDescriptor
    public var busySeconds: Double
    public var nodes: Int

    public init(device: DeviceDescriptor, busySeconds: Double, nodes: Int) {
        self.device = device
        self.busySeconds = busySeconds
        self.nodes = nodes
    }

    public var description: String { "\(device.name): \(nodes) nodes, busy \(String(format3: busySeconds * 1e3)) ms" }

    public func encode(to writer: inout WireWriter) {
        writer.encode(device)
        writer.encode(busySeconds)
        writer.encode(nodes)
    }

    public static func decode(from reader: inout WireReader) throws -> DeviceUsage {
        DeviceUsage(device: try reader.decode(DeviceDescriptor.self), busySeconds: try reader.decode(Double.self), nodes: try reader.decode(Int.self))
    }
}

extension String {
    /// A number with three decimals, without Foundation.
    init(format3 value: Double) {
        let scaled = (value * 1000).rounded()
        let sign = scaled < 0 ? "-" : ""
        let magnitude = Swift.abs(Int(scaled))
        let fraction = String(magnitude % 1000)
        self = "\(sign)\(magnitude / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction)"
    }
}

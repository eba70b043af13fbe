public import DeepseekActors
import DeepseekCore
public import DeepseekRuntime
import DeepseekGraph
public import DeepseekTensor
public import DeepseekTracing
import Synchronization

/// One rank's end of a `VirtualCluster`'s network: messages are encoded as they would be on a
/// wire, carried by the simulated links in virtual time and decoded on delivery.
public final class VirtualTransport: Transport {
    public let localNode: NodeID
    let cluster: VirtualCluster

    init(cluster: VirtualCluster, node: NodeID) {
        self.cluster = cluster
        self.localNode = node
    }

    public var requiresSerialization: Bool { true }

    public func start(receiver: any TransportReceiver) async throws { cluster.join(localNode, receiver) }

    public func send(_ message: TransportMessage, to node: NodeID) async throws {
        try cluster.send(message.wireBytes, from: localNode, to: node)
    }

    public func shutdown() async { cluster.leave(localNode) }

    /// Incoming calls run on the cluster's executor, in virtual time.
    public var callExecutor: (any TaskExecutor)? { cluster }
}

/// Gives kernels the duration the cluster's device model assigns them, on virtual time.
struct VirtualDevicePacing: KernelPacing {
    let cluster: VirtualCluster
    let index: Int

    func pace(_ op: GraphOp, inputs: [TensorType], outputs: [TensorType]) async -> PacedKernel {
        let work = CostModel.work(of: op, inputs: inputs, outputs: outputs)
        let kernel = DeviceModel.kernelKind(of: op)
        // Values are float32 here; a scenario in 16-bit precision moves half the bytes.
        let bytes = work.bytes * cluster.precision.bytes / 4
        // Every dispatched node costs the device's launch overhead, a view too: a measured
        // profile's overhead is the engine's per-node dispatch.
        let seconds = op.isSource ? 0 : cluster.deviceModel.seconds(flops: work.flops, bytes: bytes, precision: cluster.precision, kernel: kernel)
        let started = await cluster.occupy(device: index, seconds: seconds)
        return PacedKernel(started: VirtualCluster.instant(started), seconds: seconds)
    }

    func paceOptimizerStep(parameters: Int, shard: Int) async -> PacedKernel {
        let seconds = cluster.deviceModel.optimizerSeconds(parameters: Double(parameters), shard: Double(shard))
        let started = await cluster.occupy(device: index, seconds: seconds)
        return PacedKernel(started: VirtualCluster.instant(started), seconds: seconds)
    }
}

extension VirtualCluster {
    /// The actor system of rank `rank` (made on first use), on the cluster's network, clock and
    /// executor.
    ///
    /// - Parameter tracer: where its messages are recorded; give it the cluster as its clock.
    public func actorSystem(rank: Int, tracer: Tracer = .disabled) async throws -> DeepseekActorSystem {
        guard (0..<ranks).contains(rank) else {
            throw SimulationError(.invalidConfiguration, "rank \(rank) is outside the virtual cluster's ranks 0..<\(ranks)")
        }
        if let made = systems.withLock({ $0[rank] }) { return made }
        let settings = ActorSystemSettings(
            defaultCallTimeout: callTimeout, registry: registry, scheduler: self, clock: self, tracer: tracer, incomingCalls: .transportThread,
            taskExecutor: self, incarnationBase: 1)
        let system = DeepseekActorSystem(transport: VirtualTransport(cluster: self, node: NodeID(UInt32(rank))), settings: settings)
        try await system.start()
        systems.withLock { $0[rank] = system }
        return system
    }

    /// A device actor on rank `rank` whose kernels run on `backend` (real values on the CPU, or
    /// shapes alone on `MetaBackend`) and take the cluster's device model's time.
    public func device(rank: Int, backend: any KernelBackend = KernelBackends.default, name: String? = nil) async throws -> DeviceActor {
        let system = try await actorSystem(rank: rank)
        return DeviceActor(
            backend: backend, kind: .cpu, name: name ?? "\(deviceModel.name)\(rank)", pacing: VirtualDevicePacing(cluster: self, index: rank),
            actorSystem: system)
    }
}

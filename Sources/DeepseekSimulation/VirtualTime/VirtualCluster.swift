public import DeepseekActors
public import DeepseekCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A simulated cluster that runs the runtime's own actors — actor systems, operator and device
/// actors, engines, communicators, parameter shards — on virtual time.
///
/// Every job of the program runs on one thread, in an order fixed by the program and the seed:
/// the cluster is the `TaskExecutor` the program's tasks prefer, so default actors and child
/// tasks run here, one job at a time. When no job is runnable, virtual time jumps to the next
/// event: a message arriving over the simulated network (`SimulatedTransport`: links with
/// latency, bandwidth and fair sharing, the topology's faults), a device finishing a kernel
/// (`DeviceActor` pacing from the `DeviceModel`, or a span on a node's shared cores), or a
/// timer (call timeouts). Nothing reads a wall clock, so the same program and seed give the
/// same virtual times, messages and results on every run.
///
/// Each rank `r` is one process of the topology (device `r`): `actorSystem(rank:)` gives its
/// actor system, connected to the others through `VirtualTransport`, and `device(rank:)` a
/// paced `DeviceActor` on it.
///
/// ```swift
/// let cluster = VirtualCluster(topology: t, device: .a100, seed: 1)
/// let seconds = try await cluster.run {
///     let engine = try await Engine(actorSystem: cluster.actorSystem(rank: 0), devices: [cluster.device(rank: 0)])
///     _ = try await engine.run(graph, feeds)
/// }.seconds
/// ```
///
/// A task the program starts without an executor preference (`Task { }`) runs on the global
/// executor instead, in real time: the runtime's own tasks take `ActorSystemSettings.taskExecutor`,
/// which the cluster's actor systems set to the cluster.
public final class VirtualCluster: TaskExecutor, DeepseekClock, CallScheduler, @unchecked Sendable {
    public let topology: ClusterTopology
    public let deviceModel: DeviceModel
    public let precision: ComputePrecision
    let state: Mutex<State>
    let systems: Mutex<[Int: DeepseekActorSystem]> = Mutex([:])
    let registry: WireTypeRegistry
    /// How long a call waits for its reply, in virtual time.
    public let callTimeout: Duration

    struct State {
        var jobs: [UnownedJob] = []
        var head = 0
        var queue: EventQueue
        var network: SimulatedTransport
        var timers: [Int: @Sendable () -> Void] = [:]
        var nextID = 0
        var deliveries: [Int: Delivery] = [:]
        var receivers: [NodeID: any TransportReceiver] = [:]
        var devices: [Int: DeviceQueue] = [:]
        /// Kernels waiting for or running on a device, with the virtual time they started.
        var kernels: [Int: (continuation: CheckedContinuation<Double, Never>, started: Double)] = [:]
        var statistics = VirtualRunStatistics()
        /// Whether a run's loop is going: what is sent outside one (a task on another executor
        /// finishing late) is carried but not counted.
        var running = false
    }

    struct Delivery {
        var from: NodeID
        var to: NodeID
        var bytes: [UInt8]
    }

    /// Kernels waiting for a simulated device, first come first served.
    struct DeviceQueue {
        var busy = false
        var waiting: [(seconds: Double, id: Int)] = []
        var next = 0
    }

    static let kindTimer: UInt32 = 100

    /// A cluster of `topology`'s devices, each a process, computing at `device`'s speed.
    ///
    /// - Parameters:
    ///   - faults: drops, delays, partitions and crashes of the simulated network.
    ///   - registry: the types the actor systems accept on the wire.
    public init(
        topology: ClusterTopology, device: DeviceModel, precision: ComputePrecision = .fp32, faults: FaultSchedule = FaultSchedule(), seed: UInt64 = 1,
        registry: WireTypeRegistry = WireTypeRegistry(), callTimeout: Duration = .seconds(60)
    ) {
        self.topology = topology
        self.deviceModel = device
        self.precision = precision
        self.registry = registry
        self.callTimeout = callTimeout
        let network = SimulatedTransport(network: NetworkModel(topology, computeParallelism: device.parallelism), faults: faults, seed: seed)
        state = Mutex(State(queue: EventQueue(seed: seed), network: network))
    }

    /// Ranks (processes) of the cluster: one per device of the topology.
    public var ranks: Int { topology.deviceCount }

    // MARK: Clock and timers

    public func now() -> Instant { Self.instant(state.withLock { $0.queue.now }) }

    /// The instant of `seconds` of virtual time.
    static func instant(_ seconds: Double) -> Instant { Instant(nanoseconds: UInt64((seconds * 1e9).rounded())) }

    /// Virtual seconds since the cluster started.
    public var seconds: Double { state.withLock { $0.queue.now } }

    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> ScheduledAction {
        let id = state.withLock { s -> Int in
            let id = s.nextID
            s.nextID += 1
            s.timers[id] = action
            s.queue.schedule(at: s.queue.now + max(0, delay.inSeconds), kind: Self.kindTimer, id)
            return id
        }
        return ScheduledAction { [weak self] in _ = self?.state.withLock { $0.timers.removeValue(forKey: id) } }
    }

    // MARK: Executor

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        state.withLock { $0.jobs.append(job) }
    }

    func nextJob() -> UnownedJob? {
        state.withLock { s in
            guard s.head < s.jobs.count else { return nil }
            let job = s.jobs[s.head]
            s.head += 1
            s.statistics.jobs += 1
            if s.head == s.jobs.count {
                s.jobs.removeAll(keepingCapacity: true)
                s.head = 0
            }
            return job
        }
    }

    // MARK: Devices

    /// Occupies simulated device `index` for `seconds` of its compute, after the kernels that
    /// came before; returns when they are done, with the virtual time the kernel started. On a
    /// topology with shared cores the span runs on the node's cores alongside the other
    /// processes' work (processor sharing).
    func occupy(device index: Int, seconds: Double) async -> Double {
        await withCheckedContinuation { (c: CheckedContinuation<Double, Never>) in
            state.withLock { s in
                let id = s.nextID
                s.nextID += 1
                s.kernels[id] = (c, 0)
                s.statistics.kernels += 1
                s.statistics.deviceSeconds += seconds
                var q = s.devices[index] ?? DeviceQueue()
                if q.busy {
                    q.waiting.append((seconds, id))
                    s.devices[index] = q
                } else {
                    q.busy = true
                    s.devices[index] = q
                    start(device: index, seconds: seconds, id: id, &s)
                }
            }
        }
    }

    private func start(device index: Int, seconds: Double, id: Int, _ s: inout State) {
        s.kernels[id]?.started = s.queue.now
        // The token names the kernel and the device: devices are < 2^20.
        s.network.compute(on: index, seconds: seconds, token: id << 20 | index, queue: &s.queue)
    }

    /// A device's span ended: resume its kernel (with its start time) and start the next one waiting.
    private func deviceFinished(token: Int, _ s: inout State) -> Step {
        let index = token & 0xF_FFFF
        let kernel = s.kernels.removeValue(forKey: token >> 20)
        if var q = s.devices[index] {
            if q.next < q.waiting.count {
                let (seconds, id) = q.waiting[q.next]
                q.next += 1
                if q.next == q.waiting.count {
                    q.waiting.removeAll(keepingCapacity: true)
                    q.next = 0
                }
                s.devices[index] = q
                start(device: index, seconds: seconds, id: id, &s)
            } else {
                q.busy = false
                s.devices[index] = q
            }
        }
        return kernel.map { .kernelDone($0.continuation, started: $0.started) } ?? .nothing
    }

    // MARK: Network

    func join(_ node: NodeID, _ receiver: any TransportReceiver) {
        let members = state.withLock { s -> [NodeID: any TransportReceiver] in
            s.receivers[node] = receiver
            return s.receivers
        }
        introduce(node, receiver, to: members)
    }

    func leave(_ node: NodeID) {
        let others = state.withLock { s -> [any TransportReceiver] in
            s.receivers[node] = nil
            return s.receivers.sorted { $0.key < $1.key }.map(\.value)
        }
        for r in others { r.peerDisconnected(node, reason: "simulated node \(node) shut down") }
    }

    func send(_ bytes: [UInt8], from: NodeID, to: NodeID) throws {
        try state.withLock { s in
            guard s.receivers[to] != nil else {
                throw ActorSystemError(.nodeUnreachable, "\(to) is not a node of the virtual cluster (ranks 0..<\(topology.deviceCount)) or has shut down")
            }
            let id = s.nextID
            s.nextID += 1
            s.deliveries[id] = Delivery(from: from, to: to, bytes: bytes)
            if s.running {
                s.statistics.messages += 1
                s.statistics.bytes += bytes.count
            }
            s.network.send(from: Int(from.rank), to: Int(to.rank), bytes: Double(bytes.count), token: id, queue: &s.queue)
        }
    }

    // MARK: Running

    /// What the loop does next, taken under the lock and done outside it.
    enum Step {
        case timer(@Sendable () -> Void)
        case kernelDone(CheckedContinuation<Double, Never>, started: Double)
        case deliver(Delivery, any TransportReceiver)
        case nothing
    }

    /// Pops the next event and says what it asks for; `nil` when there is none.
    func nextEvent() -> Step? {
        state.withLock { s -> Step? in
            guard let e = s.queue.pop() else { return nil }
            s.statistics.events += 1
            switch e.kind {
            case Self.kindTimer:
                return s.timers.removeValue(forKey: e.a).map(Step.timer) ?? .nothing
            default:
                guard let m = s.network.handle(e, queue: &s.queue) else { return .nothing }
                if m.isCompute { return deviceFinished(token: m.token, &s) }
                guard let d = s.deliveries.removeValue(forKey: m.token) else { return .nothing }
                guard let r = s.receivers[d.to] else { return .nothing }
                return .deliver(d, r)
            }
        }
    }

    /// Runs `body` as the cluster's program until it returns, and gives its result with the
    /// virtual seconds it took.
    ///
    /// - Throws: what `body` throws; `SimulationError` when the program waits for something no
    ///   event will ever bring (a reply from a crashed node without a timeout, a task on another
    ///   executor that never finishes).
    public func run<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> (value: T, seconds: Double) {
        let start = seconds
        let value = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            VirtualRunLoop(cluster: self, body: { try await body() }, continuation: continuation).startThread()
        }
        return (value as! T, seconds - start)
    }

    /// What the cluster did in its runs so far.
    public var statistics: VirtualRunStatistics { state.withLock { $0.statistics } }
}

/// Counts of what a virtual cluster did.
public struct VirtualRunStatistics: Sendable, Hashable {
    /// Jobs (task slices) run.
    public var jobs = 0
    /// Events (deliveries, kernel ends, timers) processed.
    public var events = 0
    /// Messages sent over the simulated network, and their bytes.
    public var messages = 0
    public var bytes = 0
    /// Kernels paced, and their device seconds.
    public var kernels = 0
    public var deviceSeconds = 0.0
}

/// The thread that runs one `VirtualCluster.run`.
final class VirtualRunLoop: @unchecked Sendable {
    let cluster: VirtualCluster
    let body: @Sendable () async throws -> any Sendable
    let continuation: CheckedContinuation<any Sendable, any Error>
    let result: Mutex<Result<any Sendable, any Error>?> = Mutex(nil)

    init(cluster: VirtualCluster, body: @escaping @Sendable () async throws -> any Sendable, continuation: CheckedContinuation<any Sendable, any Error>) {
        self.cluster = cluster
        self.body = body
        self.continuation = continuation
    }

    func startThread() {
        var t = pthread_t()
        let context = Unmanaged.passRetained(self).toOpaque()
        pthread_create(&t, nil, { raw in
            Unmanaged<VirtualRunLoop>.fromOpaque(raw!).takeRetainedValue().loop()
            return nil
        }, context)
        pthread_detach(t)
    }

    func loop() {
        cluster.state.withLock { $0.running = true }
        func finish(_ outcome: Result<any Sendable, any Error>) {
            cluster.state.withLock { $0.running = false }
            continuation.resume(with: outcome)
        }
        let body = self.body
        Task(executorPreference: cluster) { [self] in
            do {
                let value = try await body()
                result.withLock { $0 = .success(value) }
            } catch {
                result.withLock { $0 = .failure(error) }
            }
        }
        let executor = cluster.asUnownedTaskExecutor()
        var idleSince: ContinuousClock.Instant?
        while true {
            if let job = cluster.nextJob() {
                job.runSynchronously(on: executor)
                idleSince = nil
                continue
            }
            if let outcome = result.withLock({ $0 }) {
                finish(outcome)
                return
            }
            if let step = cluster.nextEvent() {
                switch step {
                case .timer(let action): action()
                case .kernelDone(let c, let started): c.resume(returning: started)
                case .deliver(let d, let receiver):
                    do {
                        receiver.receive(try TransportMessage(wireBytes: d.bytes), from: d.from)
                    } catch {
                        // The simulated network carries what was sent, so a message that does
                        // not decode is a bug in the encoder: fail the run rather than hang.
                        finish(.failure(SimulationError(.corruptMessage, "a message from \(d.from) to \(d.to) did not decode: \(error)")))
                        return
                    }
                case .nothing: break
                }
                idleSince = nil
                continue
            }
            // Nothing runnable and nothing scheduled: a task on another executor may still bring
            // work; wait for it a while before calling the program stuck.
            let now = ContinuousClock.now
            if let since = idleSince, now - since > .seconds(2) {
                finish(
                    .failure(SimulationError(
                        .stalled,
                        "the simulated program waits at \(cluster.seconds) s of virtual time for something no event will bring (a reply from a crashed node, or a task started on another executor); nothing happened for 2 s of real time"
                    )))
                return
            }
            if idleSince == nil { idleSince = now }
            usleep(200)
        }
    }
}

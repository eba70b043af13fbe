public import DeepseekCore
public import DeepseekTracing
public import Distributed
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Configuration of an actor system.
public struct ActorSystemSettings: Sendable {
    /// How long a call waits for its reply unless the caller sets `DeepseekActorSystem.callTimeout`.
    public var defaultCallTimeout: Duration
    /// Types allowed on the wire by name.
    public var registry: WireTypeRegistry
    /// Runs call timeouts and heartbeats; tests inject a virtual-time scheduler.
    public var scheduler: any CallScheduler
    /// The clock heartbeats are measured with (must agree with `scheduler`).
    public var clock: any DeepseekClock
    /// Heartbeat failure detection, or `nil` to rely on the transport's disconnect notices alone.
    public var failureDetection: FailureDetection?
    /// Where message events go: send, receive, handler start and end, linked by one flow ID.
    public var tracer: Tracer
    /// Where calls that arrive from other nodes run.
    public var incomingCalls: IncomingCallExecution
    /// Where tasks the runtime starts on its own behalf run (a collective's sends, a gradient
    /// bucket's reduction); `nil`: the global concurrent executor. The simulator sets its
    /// virtual-time executor here, so every job of a simulated node runs in virtual time.
    public var taskExecutor: (any TaskExecutor)?
    /// The first incarnation number of this node's actors; `nil`: from the wall clock, so a
    /// restarted node does not reuse its predecessor's. The simulator fixes it, so addresses
    /// (and the traces that show them) are the same on every run.
    public var incarnationBase: UInt64?

    /// How often peers are probed and how long a silent peer is tolerated.
    public struct FailureDetection: Sendable {
        public var interval: Duration
        public var suspicionTimeout: Duration
        public var deathTimeout: Duration
        public init(interval: Duration = .milliseconds(500), suspicionTimeout: Duration = .seconds(2), deathTimeout: Duration = .seconds(5)) {
            self.interval = interval
            self.suspicionTimeout = suspicionTimeout
            self.deathTimeout = deathTimeout
        }
    }

    public init(
        defaultCallTimeout: Duration = .seconds(30), registry: WireTypeRegistry = WireTypeRegistry(),
        scheduler: any CallScheduler = ThreadCallScheduler.shared, clock: any DeepseekClock = MonotonicClock(),
        failureDetection: FailureDetection? = nil, tracer: Tracer = .disabled, incomingCalls: IncomingCallExecution = .pool,
        taskExecutor: (any TaskExecutor)? = nil, incarnationBase: UInt64? = nil
    ) {
        self.taskExecutor = taskExecutor
        self.incarnationBase = incarnationBase
        self.tracer = tracer
        self.incomingCalls = incomingCalls
        self.defaultCallTimeout = defaultCallTimeout
        self.registry = registry
        self.scheduler = scheduler
        self.clock = clock
        self.failureDetection = failureDetection
    }
}

/// Where a call that arrived from another node runs.
public enum IncomingCallExecution: Sendable, Equatable {
    /// A new task on the global concurrent executor: a handler that computes for long never
    /// holds up the transport. Costs a thread hand-off each way.
    case pool
    /// A task that prefers the transport's own executor (`Transport.callExecutor`): decoding, a
    /// default actor's handler and the reply run on the thread that received the message, up to
    /// the handler's first suspension that resumes elsewhere — no hand-off, the lowest latency. A
    /// handler that computes for long holds up the node's I/O meanwhile: give such actors an
    /// executor of their own, or use `.pool`. Transports without an executor run calls as `.pool`.
    case transportThread
}

/// The distributed actor system every Deepseek actor lives in.
///
/// One system serves one node. It assigns actor addresses, keeps the node's local actors,
/// turns calls on remote actors into `CallEnvelope`s sent through its `Transport`, runs calls
/// that arrive, and matches replies to waiting callers, each with a timeout. Calls on actors of
/// the same system never leave the process and are not serialized; across an in-process
/// transport arguments are handed over as values.
///
/// ```swift
/// let network = InProcessNetwork()
/// let a = DeepseekActorSystem(transport: network.transport(for: NodeID(0)))
/// let b = DeepseekActorSystem(transport: network.transport(for: NodeID(1)))
/// try await a.start(); try await b.start()
/// let echo = Echo(actorSystem: b)
/// let remote = try Echo.resolve(id: echo.id, using: a)
/// try await remote.say("hi")          // a → b through the transport
/// ```
public final class DeepseekActorSystem: DistributedActorSystem, TransportReceiver {
    public typealias ActorID = ActorAddress
    public typealias InvocationEncoder = DeepseekInvocationEncoder
    public typealias InvocationDecoder = DeepseekInvocationDecoder
    public typealias ResultHandler = DeepseekResultHandler
    public typealias SerializationRequirement = any WireCodable

    /// The system decoding the current message (used to resolve actor references in arguments).
    @TaskLocal public static var current: DeepseekActorSystem?
    /// A per-task override of the call timeout.
    @TaskLocal public static var callTimeout: Duration?
    @TaskLocal static var pendingPath: String?

    public let node: NodeID
    public let transport: any Transport
    public let settings: ActorSystemSettings
    /// Where incoming calls start: the transport's executor, or `nil` for the global one.
    let incomingCallExecutor: (any TaskExecutor)?
    let state = Mutex(State())
    private let flowSequence = Atomic<UInt64>(1)

    /// A fresh number for a trace flow minted above the actor system (the runtime's dispatches
    /// and hand-overs), unique on this node; numbered per system, so the same program numbers
    /// its flows the same way on every run.
    public func nextFlowSequence() -> UInt64 { flowSequence.wrappingAdd(1, ordering: .relaxed).oldValue }
    let incarnationBase: UInt64

    struct WeakActor: @unchecked Sendable {
        weak var actor: (any DistributedActor)?
    }

    enum PendingCall {
        case sending(node: NodeID, timer: ScheduledAction?)
        case waiting(CheckedContinuation<ReplyEnvelope.Outcome, any Error>, node: NodeID, timer: ScheduledAction?)
        case arrived(Result<ReplyEnvelope.Outcome, any Error>)
    }

    struct State: ~Copyable {
        var actors: [ActorAddress: WeakActor] = [:]
        var nextPathNumber: UInt64 = 0
        var nextIncarnation: UInt64 = 0
        var pending: [UInt64: PendingCall] = [:]
        /// Who waits on whom, for the calls in `pending` that have no outcome yet.
        var waits: [UInt64: PendingCallSnapshot] = [:]
        var nextCallID: UInt64 = 1
        var peers: Set<NodeID> = []
        var watches = WatchTable()
        var receptionist = ReceptionistTable()
        var isShutDown = false
        var detector: FailureDetector?
        var heartbeatTimer: ScheduledAction?
    }

    /// Creates the system for `transport.localNode`. Call `start()` before use.
    public init(transport: any Transport, settings: ActorSystemSettings = .init()) {
        self.transport = transport
        self.node = transport.localNode
        self.settings = settings
        self.incomingCallExecutor = settings.incomingCalls == .transportThread ? transport.callExecutor : nil
        if let base = settings.incarnationBase {
            self.incarnationBase = base
        } else {
            // Incarnations start from the wall clock so a restarted node does not reuse old ones.
            var ts = timespec()
            clock_gettime(CLOCK_REALTIME, &ts)
            self.incarnationBase = UInt64(ts.tv_sec) << 20
        }
    }

    /// Starts receiving messages.
    public func start() async throws {
        if let fd = settings.failureDetection {
            state.withLock {
                $0.detector = FailureDetector(
                    suspicionTimeout: UInt64(nanoseconds: fd.suspicionTimeout), deathTimeout: UInt64(nanoseconds: fd.deathTimeout))
            }
        }
        try await transport.start(receiver: self)
        if settings.failureDetection != nil { scheduleHeartbeat() }
    }

    // MARK: Identity

    /// Creates an actor whose address has the given path instead of a generated one.
    ///
    /// ```swift
    /// let shard = DeepseekActorSystem.withPath("params/shard-3") { ParameterShard(actorSystem: system) }
    /// ```
    public static func withPath<T>(_ path: String, _ make: () throws -> T) rethrows -> T {
        try $pendingPath.withValue(path, operation: make)
    }

    /// Creates an actor at a well-known address: the given path with incarnation 0, so other
    /// nodes can resolve it knowing only the node and the path (`ActorAddress.wellKnown`).
    public static func withWellKnownPath<T>(_ path: String, _ make: () throws -> T) rethrows -> T {
        try $pendingWellKnown.withValue(true) { try $pendingPath.withValue(path, operation: make) }
    }

    @TaskLocal static var pendingWellKnown = false

    public func assignID<Act: DistributedActor>(_ actorType: Act.Type) -> ActorAddress where Act.ID == ActorAddress {
        state.withLock { s in
            let path: String
            if let requested = Self.pendingPath {
                path = requested
            } else {
                path = "\(Act.self)-\(s.nextPathNumber)"
                s.nextPathNumber += 1
            }
            if Self.pendingWellKnown { return ActorAddress.wellKnown(path, on: node) }
            s.nextIncarnation += 1
            return ActorAddress(node: node, path: path, incarnation: incarnationBase + s.nextIncarnation)
        }
    }

    public func actorReady<Act: DistributedActor>(_ actor: Act) where Act.ID == ActorAddress {
        state.withLock { $0.actors[actor.id] = WeakActor(actor: actor) }
    }

    public func resignID(_ id: ActorAddress) {
        let (localWatchers, remoteWatchers, peers) = state.withLock { s in
            s.actors[id] = nil
            let removedKeys = s.receptionist.remove(actor: id)
            return (s.watches.takeLocal(for: id), s.watches.takeRemote(for: id), removedKeys ? s.peers : [])
        }
        for w in localWatchers { w(id, "actor stopped") }
        let transport = self.transport
        if !remoteWatchers.isEmpty || !peers.isEmpty {
            Task(executorPreference: settings.taskExecutor) {
                for n in remoteWatchers { try? await transport.send(.system(.terminated(actor: id)), to: n) }
                for n in peers where !remoteWatchers.contains(n) {
                    try? await transport.send(.system(.deregistered(actor: id)), to: n)
                }
            }
        }
    }

    public func resolve<Act: DistributedActor>(id: ActorAddress, as actorType: Act.Type) throws -> Act?
    where Act.ID == ActorAddress {
        guard id.node == node else { return nil }  // a remote proxy
        guard let local = state.withLock({ $0.actors[id]?.actor }) else {
            throw ActorSystemError(.deadActor, "no actor \(id) lives on \(node); it may have stopped")
        }
        guard let typed = local as? Act else {
            throw ActorSystemError(.deadActor, "actor \(id) is a \(type(of: local)), not a \(Act.self)")
        }
        return typed
    }

    /// The number of live local actors.
    public var localActorCount: Int { state.withLock { s in s.actors.values.filter { $0.actor != nil }.count } }

    /// The nodes this system currently has connections to.
    public var connectedPeers: Set<NodeID> { state.withLock { $0.peers } }

    public func makeInvocationEncoder() -> DeepseekInvocationEncoder { DeepseekInvocationEncoder() }
}

extension UInt64 {
    init(nanoseconds d: Duration) {
        let (s, atto) = d.components
        self = UInt64(Swift.max(0, s)) &* 1_000_000_000 &+ UInt64(Swift.max(0, atto / 1_000_000_000))
    }
}

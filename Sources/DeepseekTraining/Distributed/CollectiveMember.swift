public import DeepseekActors
import DeepseekCore
public import Distributed

/// The ranks of a collective group and where each one's member lives.
///
/// Rank `r`'s member sits at the well-known path `collectives/<name>/<r>` on `nodes[r]`, so
/// every rank can address every other knowing only the node table (which the launcher's
/// rendezvous produces). Several ranks may share a node (one per device).
public struct CollectiveGroup: Sendable, Hashable {
    public var name: String
    /// The node each rank runs on, by rank.
    public var nodes: [NodeID]
    /// Ranks per node for hierarchical collectives (ranks are numbered node-major).
    public var devicesPerNode: Int

    public init(name: String = "world", nodes: [NodeID], devicesPerNode: Int = 1) {
        precondition(!nodes.isEmpty, "a collective group needs at least one rank")
        self.name = name
        self.nodes = nodes
        self.devicesPerNode = devicesPerNode
    }

    /// One rank per node: rank `r` on `NodeID(r)`.
    public init(name: String = "world", worldSize: Int) {
        self.init(name: name, nodes: (0..<worldSize).map { NodeID($0) })
    }

    public var worldSize: Int { nodes.count }

    /// The address of rank `r`'s member.
    public func address(of rank: Int) -> ActorAddress { .wellKnown("collectives/\(name)/\(rank)", on: nodes[rank]) }

    /// `rank 2 (node2)`: how errors name a rank.
    public func describe(_ rank: Int) -> String { nodes.indices.contains(rank) ? "rank \(rank) (\(nodes[rank]))" : "rank \(rank)" }
}

/// The thin distributed actor through which ranks hand each other collective messages; all
/// state lives in its `Communicator`.
public distributed actor CollectiveMember {
    public typealias ActorSystem = DeepseekActorSystem
    weak var communicator: Communicator?

    init(communicator: Communicator, actorSystem: DeepseekActorSystem) {
        self.communicator = communicator
        self.actorSystem = actorSystem
    }

    /// Takes in one message of a collective operation.
    public distributed func deliver(_ message: CollectiveMessage) async throws {
        guard let communicator else {
            throw CollectiveError(.peerUnreachable, "the communicator behind \(id) has stopped")
        }
        await communicator.deliver(message)
    }
}

/// Bytes and messages a communicator has sent.
public struct CollectiveTraffic: Sendable, Hashable {
    public var bytesSent = 0
    public var messagesSent = 0
    public init() {}
}

/// Settings of a communicator.
public struct CommunicatorSettings: Sendable {
    /// How long an operation may wait for a peer's message before it fails naming that peer.
    public var operationTimeout: Duration
    public init(operationTimeout: Duration = .seconds(60)) { self.operationTimeout = operationTimeout }
}

/// One rank's end of a collective group: runs collective state machines, carrying their
/// directives as messages between `CollectiveMember`s.
///
/// A peer that stops or whose node leaves fails every operation in flight — and every later
/// one — with `CollectiveError.peerUnreachable` naming the rank and node; a peer that falls
/// silent fails the operation after `operationTimeout`. Nothing waits forever.
///
/// ```swift
/// let comm = await Communicator(group: CollectiveGroup(worldSize: 4), rank: r, actorSystem: system)
/// await comm.connect()
/// let sum = try await comm.allReduce(gradient)
/// ```
public actor Communicator {
    public nonisolated let group: CollectiveGroup
    public nonisolated let rank: Int
    public nonisolated let actorSystem: DeepseekActorSystem
    public nonisolated let settings: CommunicatorSettings
    /// Where this communicator's own tasks (sends, timeouts) run: the actor system's choice.
    nonisolated var taskExecutor: (any TaskExecutor)? { actorSystem.settings.taskExecutor }
    var member: CollectiveMember?
    var peers: [Int: CollectiveMember] = [:]
    var operations: [UInt64: Operation] = [:]
    var unclaimed: [UInt64: [CollectiveMessage]] = [:]
    var failure: CollectiveError?
    var watches: [WatchToken] = []
    var tagCounter: UInt64 = 0
    /// What this rank has sent so far.
    public private(set) var traffic = CollectiveTraffic()

    struct Operation {
        var machine: any CollectiveStateMachine
        var continuation: CheckedContinuation<any CollectiveStateMachine, any Error>
        var timer: ScheduledAction?
        var name: String
    }

    /// Creates rank `rank`'s communicator and its member at the group's well-known path.
    public init(group: CollectiveGroup, rank: Int, actorSystem: DeepseekActorSystem, settings: CommunicatorSettings = .init()) async {
        precondition(group.nodes.indices.contains(rank), "Communicator: rank \(rank) is outside the group of \(group.worldSize)")
        precondition(group.nodes[rank] == actorSystem.node, "Communicator: rank \(rank) belongs on \(group.nodes[rank]), not \(actorSystem.node)")
        self.group = group
        self.rank = rank
        self.actorSystem = actorSystem
        self.settings = settings
        let path = "collectives/\(group.name)/\(rank)"
        self.member = DeepseekActorSystem.withWellKnownPath(path) { CollectiveMember(communicator: self, actorSystem: actorSystem) }
    }

    public nonisolated var worldSize: Int { group.worldSize }

    /// Watches every peer's member, so the loss of one fails operations at once. Call after
    /// every rank has created its communicator.
    public func connect() async {
        for r in 0..<worldSize where r != rank && peers[r] == nil {
            let address = group.address(of: r)
            peers[r] = try? CollectiveMember.resolve(id: address, using: actorSystem)
            watches.append(
                await actorSystem.watch(address) { [weak self, executor = taskExecutor] _, reason in
                    Task(executorPreference: executor) { await self?.peerLost(r, reason: reason) }
                })
        }
    }

    /// Stops watching peers; operations in flight fail.
    public func close() async {
        for w in watches { await actorSystem.unwatch(w) }
        watches = []
        fail(CollectiveError(.peerUnreachable, "\(group.describe(rank)) closed its communicator"))
    }

    /// A tag for the next operation: ranks that issue the same operations in the same order get
    /// the same tags.
    public func nextTag() -> UInt64 {
        tagCounter += 1
        return tagCounter
    }

    /// Runs `machine` to completion and returns it finished (read its result from it).
    ///
    /// - Throws: `CollectiveError.peerUnreachable` when a peer is lost, `.timeout` when a peer
    ///   stays silent longer than `operationTimeout`, `.protocolViolation` for a message that
    ///   breaks the algorithm.
    ///
    /// The machine is kept in the operation table and changed there in place: a copy taken out
    /// and written back would share its buffer with the table's and copy all of it on every
    /// message (the buffer is copied once, on the first write, as the caller still holds it).
    public func run<M: CollectiveStateMachine>(_ machine: M, name: String = "\(M.self)") async throws -> M {
        if let failure { throw failure }
        let tag = machine.tag
        guard operations[tag] == nil else {
            throw CollectiveError(.invalidArgument, "\(name) #\(tag): an operation with this tag is already running on \(group.describe(rank))")
        }
        let finished = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any CollectiveStateMachine, any Error>) in
            let timer = actorSystem.settings.scheduler.schedule(after: settings.operationTimeout) { [weak self, executor = taskExecutor] in
                Task(executorPreference: executor) { await self?.timedOut(tag) }
            }
            operations[tag] = Operation(machine: machine, continuation: continuation, timer: timer, name: name)
            do {
                var directives = try operations[tag]!.machine.start()
                for early in unclaimed.removeValue(forKey: tag) ?? [] { directives += try operations[tag]!.machine.receive(early) }
                carry(directives, tag: tag)
            } catch {
                finish(tag, .failure(error))
            }
        }
        return finished as! M
    }

    func deliver(_ message: CollectiveMessage) {
        guard operations[message.tag] != nil else {
            unclaimed[message.tag, default: []].append(message)
            return
        }
        do {
            let directives = try operations[message.tag]!.machine.receive(message)
            carry(directives, tag: message.tag)
        } catch {
            finish(message.tag, .failure(error))
        }
    }

    /// Sends what a machine asked for and completes its operation when it is done.
    func carry(_ directives: [CollectiveDirective], tag: UInt64) {
        for directive in directives {
            switch directive {
            case .send(let message, let to):
                traffic.bytesSent += message.wireByteCount
                traffic.messagesSent += 1
                if to == rank {
                    deliver(message)
                    continue
                }
                guard let peer = peer(to) else { return }
                Task(executorPreference: taskExecutor) { [weak self] in
                    do {
                        try await peer.deliver(message)
                    } catch {
                        await self?.sendFailed(to: to, tag: tag, error: error)
                    }
                }
            case .finished:
                if let op = operations[tag] { finish(tag, .success(op.machine)) }
            }
        }
    }

    func peer(_ r: Int) -> CollectiveMember? {
        if let p = peers[r] { return p }
        do {
            let p = try CollectiveMember.resolve(id: group.address(of: r), using: actorSystem)
            peers[r] = p
            return p
        } catch {
            peerLost(r, reason: "\(error)")
            return nil
        }
    }

    func finish(_ tag: UInt64, _ result: Result<any CollectiveStateMachine, any Error>) {
        guard let op = operations.removeValue(forKey: tag) else { return }
        op.timer?.cancel()
        op.continuation.resume(with: result)
    }

    func fail(_ error: CollectiveError) {
        for tag in Array(operations.keys) { finish(tag, .failure(error)) }
    }

    func peerLost(_ r: Int, reason: String) {
        let error = CollectiveError(
            .peerUnreachable,
            "\(group.describe(r)) is unreachable from \(group.describe(rank)): \(reason); restart it, or resume from the last checkpoint on the remaining nodes",
            rank: r)
        if failure == nil { failure = error }
        fail(error)
    }

    func sendFailed(to r: Int, tag: UInt64, error: any Error) {
        let lost = CollectiveError(
            .peerUnreachable, "sending to \(group.describe(r)) failed: \(error); restart it, or resume from the last checkpoint on the remaining nodes",
            rank: r, cause: error)
        if failure == nil { failure = lost }
        fail(lost)
    }

    func timedOut(_ tag: UInt64) {
        guard let op = operations[tag] else { return }
        let waiting = op.machine.awaitedRanks.map { group.describe($0) }.joined(separator: ", ")
        finish(
            tag,
            .failure(
                CollectiveError(
                    .timeout, "\(op.name) #\(tag) on \(group.describe(rank)): no message from \(waiting.isEmpty ? "any peer" : waiting) within \(settings.operationTimeout); that rank is stalled or gone",
                    rank: op.machine.awaitedRanks.first)))
    }
}

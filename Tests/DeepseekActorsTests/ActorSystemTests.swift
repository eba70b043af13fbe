import DeepseekActors
import DeepseekCore
import DeepseekTestSupport
import DeepseekTracing
import Distributed
import Synchronization
import Testing

struct Overdrawn: Error, WireCodable, Equatable {
    var balance: Int64
    func encode(to w: inout WireWriter) { w.write(balance) }
    static func decode(from r: inout WireReader) throws -> Overdrawn { Overdrawn(balance: try r.read(Int64.self)) }
}

struct Untransferable: Error {}

distributed actor Account: WireCodable {
    typealias ActorSystem = DeepseekActorSystem
    var balance: Int64 = 0

    distributed func deposit(_ amount: Int64) -> Int64 {
        balance += amount
        return balance
    }

    distributed func withdraw(_ amount: Int64) throws -> Int64 {
        guard amount <= balance else { throw Overdrawn(balance: balance) }
        balance -= amount
        return balance
    }

    distributed func failOpaquely() throws { throw Untransferable() }

    /// Handlers of `stall` that have started, so tests can wait for a call to be in flight.
    static let stallsStarted = Mutex(0)

    distributed func stall() async throws {
        Self.stallsStarted.withLock { $0 += 1 }
        try await Task.sleep(for: .seconds(60))
    }

    /// Calls `other.stall()` from inside this actor's handler.
    distributed func waitOn(_ other: Account) async throws { try await other.stall() }

    /// Takes an actor reference as an argument and calls it back.
    distributed func transfer(_ amount: Int64, to other: Account) async throws -> Int64 {
        _ = try withdraw(amount)
        return try await other.deposit(amount)
    }
}

/// Two actor systems joined by an in-process network.
struct Pair {
    let network = InProcessNetwork()
    let a: DeepseekActorSystem
    let b: DeepseekActorSystem

    init(timeout: Duration = .seconds(10)) async throws {
        let registry = WireTypeRegistry()
        registry.register(Overdrawn.self)
        let settings = ActorSystemSettings(defaultCallTimeout: timeout, registry: registry)
        a = DeepseekActorSystem(transport: network.transport(for: NodeID(0)), settings: settings)
        b = DeepseekActorSystem(transport: network.transport(for: NodeID(1)), settings: settings)
        try await a.start()
        try await b.start()
    }
}

@Suite struct ActorSystemTests {
    @Test func remoteCallsReachTheActorAndReturnValues() async throws {
        let pair = try await Pair()
        let account = Account(actorSystem: pair.b)
        defer { withExtendedLifetime(account) {} }
        let remote = try Account.resolve(id: account.id, using: pair.a)
        #expect(__isRemoteActor(remote))
        #expect(try await remote.deposit(5) == 5)
        #expect(try await remote.deposit(7) == 12)
    }

    @Test func localResolutionReturnsTheInstanceItself() async throws {
        let pair = try await Pair()
        let account = Account(actorSystem: pair.a)
        let again = try Account.resolve(id: account.id, using: pair.a)
        #expect(again === account)
        #expect(__isLocalActor(again))
    }

    @Test func registeredErrorTypesArriveAsThemselves() async throws {
        let pair = try await Pair()
        let account = Account(actorSystem: pair.b)
        defer { withExtendedLifetime(account) {} }
        let remote = try Account.resolve(id: account.id, using: pair.a)
        _ = try await remote.deposit(3)
        await #expect(throws: Overdrawn(balance: 3)) { try await remote.withdraw(10) }
    }

    @Test func unregisteredErrorsArriveAsRemoteErrorsWithTheirDescription() async throws {
        let pair = try await Pair()
        let account = Account(actorSystem: pair.b)
        defer { withExtendedLifetime(account) {} }
        let remote = try Account.resolve(id: account.id, using: pair.a)
        do {
            try await remote.failOpaquely()
            Issue.record("expected an error")
        } catch let error as ActorSystemError {
            #expect(error.code == .remoteError)
            #expect(error.message.contains("Untransferable"))
        }
    }

    @Test func aCallToAStoppedActorFailsWithDeadActor() async throws {
        let pair = try await Pair()
        var account: Account? = Account(actorSystem: pair.b)
        let id = account!.id
        account = nil
        let remote = try Account.resolve(id: id, using: pair.a)
        do {
            _ = try await remote.deposit(1)
            Issue.record("expected an error")
        } catch let error as ActorSystemError {
            #expect(error.code == .deadActor)
        }
    }

    @Test func callsTimeOutPerCall() async throws {
        let pair = try await Pair()
        let account = Account(actorSystem: pair.b)
        defer { withExtendedLifetime(account) {} }
        let remote = try Account.resolve(id: account.id, using: pair.a)
        let clock = ContinuousClock()
        let start = clock.now
        do {
            try await DeepseekActorSystem.$callTimeout.withValue(.milliseconds(100)) { try await remote.stall() }
            Issue.record("expected a timeout")
        } catch let error as ActorSystemError {
            #expect(error.code == .timeout)
        }
        // Well before the 60 s the handler would take (the bound is loose: parallel tests load the machine).
        #expect(clock.now - start < .seconds(30))
    }

    @Test func actorReferencesTravelAsArguments() async throws {
        let pair = try await Pair()
        let alice = Account(actorSystem: pair.b)
        let bob = Account(actorSystem: pair.a)
        _ = try await alice.deposit(10)
        let aliceRemote = try Account.resolve(id: alice.id, using: pair.a)
        #expect(try await aliceRemote.transfer(4, to: bob) == 4)
        #expect(try await bob.deposit(0) == 4)
        #expect(try await alice.deposit(0) == 6)
    }

    @Test func watchersLearnWhenARemoteActorStops() async throws {
        let pair = try await Pair()
        var account: Account? = Account(actorSystem: pair.b)
        let id = account!.id
        let stopped = Mutex<[String]>([])
        await pair.a.watch(id) { _, reason in stopped.withLock { $0.append(reason) } }
        account = nil
        try await eventually { !stopped.withLock { $0.isEmpty } }
        #expect(stopped.withLock { $0 } == ["actor stopped"])
    }

    @Test func watchersLearnWhenTheNodeLeaves() async throws {
        let pair = try await Pair()
        let account = Account(actorSystem: pair.b)
        let stopped = Mutex<[String]>([])
        await pair.a.watch(account.id) { _, reason in stopped.withLock { $0.append(reason) } }
        await pair.b.shutdown()
        try await eventually { !stopped.withLock { $0.isEmpty } }
        #expect(stopped.withLock { $0.count } == 1)
        #expect(stopped.withLock { $0.first?.contains("node1") } == true)
    }

    @Test func theReceptionistListsActorsAcrossNodes() async throws {
        let pair = try await Pair()
        let one = Account(actorSystem: pair.a)
        let two = Account(actorSystem: pair.b)
        await pair.a.register(one, key: "accounts")
        await pair.b.register(two, key: "accounts")
        try await eventually { pair.a.lookup(key: "accounts").count == 2 && pair.b.lookup(key: "accounts").count == 2 }
        #expect(Set(pair.a.lookup(key: "accounts")) == [one.id, two.id])
        #expect(Set(pair.b.lookup(key: "accounts")) == [one.id, two.id])
        let found = try pair.a.lookup(Account.self, key: "accounts")
        #expect(found.count == 2)
    }

    @Test func namedActorsGetTheirPath() async throws {
        let pair = try await Pair()
        let account = DeepseekActorSystem.withPath("bank/main") { Account(actorSystem: pair.a) }
        #expect(account.id.path == "bank/main")
        #expect(account.id.node == NodeID(0))
    }

    @Test func shutdownFailsCallsInFlight() async throws {
        let pair = try await Pair()
        let account = Account(actorSystem: pair.b)
        defer { withExtendedLifetime(account) {} }
        let remote = try Account.resolve(id: account.id, using: pair.a)
        let before = Account.stallsStarted.withLock { $0 }
        let stalled = Task { try await remote.stall() }
        try await eventually { Account.stallsStarted.withLock { $0 } > before }
        await pair.a.shutdown()
        await #expect(throws: ActorSystemError.self) { try await stalled.value }
    }

    @Test func manyConcurrentCallsAllComplete() async throws {
        let pair = try await Pair()
        let account = Account(actorSystem: pair.b)
        defer { withExtendedLifetime(account) {} }
        let remote = try Account.resolve(id: account.id, using: pair.a)
        try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<500 { group.addTask { try await remote.deposit(1) } }
            for try await _ in group {}
        }
        #expect(try await remote.deposit(0) == 500)
    }
}

@Suite struct ActorSystemTracingTests {
    @Test func aCallRecordsSendReceiveAndHandlerEventsWithOneFlow() async throws {
        let recorder = RingBufferRecorder(capacityPerShard: 1024)
        let network = InProcessNetwork()
        var settings = ActorSystemSettings()
        settings.tracer = Tracer(recorder: recorder, clock: MonotonicClock())
        let a = DeepseekActorSystem(transport: network.transport(for: NodeID(0)), settings: settings)
        let b = DeepseekActorSystem(transport: network.transport(for: NodeID(1)), settings: settings)
        try await a.start()
        try await b.start()
        let account = Account(actorSystem: b)
        defer { withExtendedLifetime(account) {} }
        let remote = try Account.resolve(id: account.id, using: a)
        _ = try await remote.deposit(1)
        let flows = recorder.snapshot().compactMap { e -> (FlowStep, FlowID, TraceTrack)? in
            if case .flow(let id, let step) = e.kind { (step, id, e.track) } else { nil }
        }
        let byStep = Dictionary(flows.map { ($0.0, $0) }, uniquingKeysWith: { a, _ in a })
        #expect(flows.count == 4)
        #expect(Set(byStep.keys) == [.send, .receive, .handlerBegin, .handlerEnd])
        #expect(Set(flows.map(\.1)).count == 1)
        #expect(byStep[.send]?.2.node == 0 && byStep[.receive]?.2.node == 1)
        #expect(byStep[.handlerBegin]?.2.name == account.id.path)
    }
}

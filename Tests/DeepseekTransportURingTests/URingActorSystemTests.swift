import DeepseekActors
import DeepseekCore
import DeepseekTensor
import DeepseekTransportURing
import Distributed
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A small actor to call across the transport.
distributed actor Tally {
    typealias ActorSystem = DeepseekActorSystem
    var total: Int64 = 0

    distributed func add(_ amount: Int64) -> Int64 {
        total += amount
        return total
    }

    distributed func echo(_ bytes: [UInt8]) -> [UInt8] { bytes }

    distributed func fail() throws { throw ActorSystemError(.remoteError, "refused on purpose") }

    /// Doubles a tensor, and says whether its storage is a page-aligned receive buffer (adopted
    /// without a copy) rather than a fresh allocation.
    distributed func double(_ t: Tensor) throws -> Tensor { try t * 2 }

    distributed func storageIsPageAligned(_ t: Tensor) -> Bool {
        Int(bitPattern: t.storage.baseAddress) % 4096 == 0 && t.storage.byteCount == t.byteCount
    }

    distributed func thread() -> UInt64 { UInt64(pthread_self()) }
}

/// Two actor systems joined by io_uring transports over loopback.
struct URingSystems {
    let t0: URingTransport
    let t1: URingTransport
    let a: DeepseekActorSystem
    let b: DeepseekActorSystem

    init(_ endpoint: Endpoint, incomingCalls: IncomingCallExecution = .pool) async throws {
        (t0, t1) = try URingFixture.pair(endpoint)
        let settings = ActorSystemSettings(defaultCallTimeout: .seconds(10), incomingCalls: incomingCalls)
        a = DeepseekActorSystem(transport: t0, settings: settings)
        b = DeepseekActorSystem(transport: t1, settings: settings)
        try await a.start()
        try await b.start()
    }

    func shutdown() async {
        await a.shutdown()
        await b.shutdown()
    }
}

@Suite(.enabled(if: uringAvailable, "io_uring is not available in this process"))
struct URingActorSystemTests {
    @Test(arguments: [Endpoint.tcp, .unix])
    func distributedCallsCrossTheTransport(_ endpoint: Endpoint) async throws {
        let systems = try await URingSystems(endpoint)
        let tally = Tally(actorSystem: systems.b)
        let remote = try Tally.resolve(id: tally.id, using: systems.a)
        #expect(__isRemoteActor(remote))
        #expect(try await remote.add(5) == 5)
        #expect(try await remote.add(7) == 12)
        #expect(try await remote.echo([1, 2, 3]) == [1, 2, 3])
        await #expect(throws: ActorSystemError.self) { try await remote.fail() }
        // And back the other way, over the connection node1 opens to node0.
        let other = Tally(actorSystem: systems.a)
        let back = try Tally.resolve(id: other.id, using: systems.b)
        #expect(try await back.add(2) == 2)
        withExtendedLifetime(tally) {}
        await systems.shutdown()
    }

    @Test(arguments: [IncomingCallExecution.pool, .transportThread])
    func tensorsTravelOutOfBandAndBecomeTheReceivedStorage(_ execution: IncomingCallExecution) async throws {
        let systems = try await URingSystems(.tcp, incomingCalls: execution)
        let tally = Tally(actorSystem: systems.b)
        let remote = try Tally.resolve(id: tally.id, using: systems.a)
        let big = try Tensor((0..<(1 << 18)).map { Float($0) }, shape: [512, 512])  // 1 MiB
        let doubled = try await remote.double(big)
        #expect(doubled.shape == big.shape)
        #expect(try doubled.scalarsAsDouble() == big.scalarsAsDouble().map { $0 * 2 })
        #expect(try await remote.storageIsPageAligned(big), "the received tensor adopts its receive buffer")
        // A strided view goes as its contiguous copy; a small tensor stays inline.
        let view = try big.transposed()
        #expect(try await remote.double(view).scalarsAsDouble() == view.scalarsAsDouble().map { $0 * 2 })
        let small = Tensor([Float(1), 2, 3])
        #expect(try await remote.double(small).scalarsAsDouble() == [2, 4, 6])
        #expect(systems.t1.counters.segmentReads >= 2)
        #expect(systems.t0.counters.segmentReads >= 2, "the reply's tensor comes back out of band too")
        withExtendedLifetime(tally) {}
        await systems.shutdown()
    }

    @Test(arguments: [Endpoint.tcp, .unix])
    func aNodeAnswersOverTheConnectionItsCallerOpened(_ endpoint: Endpoint) async throws {
        var s0 = URingFixture.settings(0, endpoint)
        let s1 = URingFixture.settings(1, endpoint)  // knows no address for node 0
        s0.peers = [:]
        let t1 = try URingTransport(settings: s1)
        s0.peers = [NodeID(1): try #require(t1.boundAddress)]
        let t0 = try URingTransport(settings: s0)
        let settings = ActorSystemSettings(defaultCallTimeout: .seconds(10))
        let a = DeepseekActorSystem(transport: t0, settings: settings)
        let b = DeepseekActorSystem(transport: t1, settings: settings)
        try await a.start()
        try await b.start()
        let tally = Tally(actorSystem: b)
        let remote = try Tally.resolve(id: tally.id, using: a)
        #expect(try await remote.add(3) == 3)
        #expect(try await remote.echo(Array(repeating: 1, count: 100_000)).count == 100_000)
        // Node 1 can call node 0 too, over the same connection.
        let other = Tally(actorSystem: a)
        #expect(try await Tally.resolve(id: other.id, using: b).add(4) == 4)
        #expect(t1.counters.connectAttempts == 0, "node 1 never dialled")
        #expect(t0.counters.connectAttempts == 1)
        withExtendedLifetime((tally, other)) {}
        await a.shutdown()
        await b.shutdown()
    }

    @Test func handlersCanRunOnTheTransportThread() async throws {
        let systems = try await URingSystems(.tcp, incomingCalls: .transportThread)
        let tally = Tally(actorSystem: systems.b)
        let remote = try Tally.resolve(id: tally.id, using: systems.a)
        let first = try await remote.thread()
        for _ in 0..<20 { #expect(try await remote.thread() == first, "every call runs on node 1's ring thread") }
        try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<200 { group.addTask { try await remote.add(1) } }
            for try await _ in group {}
        }
        #expect(try await remote.add(0) == 200)
        withExtendedLifetime(tally) {}
        await systems.shutdown()
    }

    @Test func manyConcurrentCallsAllComplete() async throws {
        let systems = try await URingSystems(.tcp)
        let tally = Tally(actorSystem: systems.b)
        let remote = try Tally.resolve(id: tally.id, using: systems.a)
        try await withThrowingTaskGroup(of: Int64.self) { group in
            for _ in 0..<300 { group.addTask { try await remote.add(1) } }
            for try await _ in group {}
        }
        #expect(try await remote.add(0) == 300)
        #expect(systems.t0.counters.submittedEntries > systems.t0.counters.submitCalls, "submissions are batched")
        withExtendedLifetime(tally) {}
        await systems.shutdown()
    }

    @Test func aNodeThatLeavesIsReportedAndItsCallsFail() async throws {
        let systems = try await URingSystems(.tcp)
        let tally = Tally(actorSystem: systems.b)
        let remote = try Tally.resolve(id: tally.id, using: systems.a)
        #expect(try await remote.add(1) == 1)
        let stopped = Mutex<[String]>([])
        await systems.a.watch(tally.id) { _, reason in stopped.withLock { $0.append(reason) } }
        await systems.b.shutdown()
        try await eventually("the watch to fire") { !stopped.withLock { $0.isEmpty } }
        await #expect(throws: ActorSystemError.self) { try await remote.add(1) }
        withExtendedLifetime(tally) {}
        await systems.a.shutdown()
    }
}

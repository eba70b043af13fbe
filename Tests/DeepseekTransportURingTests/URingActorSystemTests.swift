import DeepseekActors
import DeepseekCore
import DeepseekTransportURing
import Distributed
import Synchronization
import Testing

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
}

/// Two actor systems joined by io_uring transports over loopback.
struct URingSystems {
    let t0: URingTransport
    let t1: URingTransport
    let a: DeepseekActorSystem
    let b: DeepseekActorSystem

    init(_ endpoint: Endpoint) async throws {
        (t0, t1) = try URingFixture.pair(endpoint)
        let settings = ActorSystemSettings(defaultCallTimeout: .seconds(10))
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

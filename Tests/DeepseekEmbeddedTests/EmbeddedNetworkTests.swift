import DeepseekActors
import DeepseekCore
import DeepseekEmbedded
import Distributed
import Synchronization
import Testing

distributed actor Counter {
    typealias ActorSystem = DeepseekActorSystem
    var value: Int64 = 0
    distributed func add(_ n: Int64) -> Int64 {
        value += n
        return value
    }
}

struct EmbeddedPair {
    let net = EmbeddedNetwork()
    let a: DeepseekActorSystem
    let b: DeepseekActorSystem

    init() async throws {
        a = DeepseekActorSystem(transport: net.transport(for: NodeID(0)), settings: net.settings(timeout: .seconds(2)))
        b = DeepseekActorSystem(transport: net.transport(for: NodeID(1)), settings: net.settings(timeout: .seconds(2)))
        try await a.start()
        try await b.start()
    }

    /// A counter on node 1 and a call to it from node 0, waited on until its message is queued.
    func queuedCall(adding n: Int64) async throws -> (Counter, Task<Int64, any Error>) {
        let counter = Counter(actorSystem: b)
        let remote = try Counter.resolve(id: counter.id, using: a)
        let call = Task { try await remote.add(n) }
        // Nothing moves until the test delivers: wait for the call message to be queued.
        for _ in 0..<1000 where net.inFlight.isEmpty { await Task.yield() }
        return (counter, call)
    }
}

@Suite struct EmbeddedNetworkTests {
    @Test func aCallNeedsItsMessagesDeliveredByTheTest() async throws {
        let pair = try await EmbeddedPair()
        let (counter, call) = try await pair.queuedCall(adding: 5)
        defer { withExtendedLifetime(counter) {} }
        #expect(pair.net.inFlight.count == 1)
        #expect(pair.net.deliveredCount == 0)
        try await pair.net.runUntilIdle()
        #expect(try await call.value == 5)
        #expect(pair.net.deliveredCount == 2)  // the call and its reply
        try pair.net.finish()
    }

    @Test func timeoutsFollowVirtualTime() async throws {
        let pair = try await EmbeddedPair()
        let (counter, call) = try await pair.queuedCall(adding: 1)
        defer { withExtendedLifetime(counter) {} }
        #expect(pair.net.drop { _ in true } == 1)
        pair.net.clock.advance(by: .seconds(1))
        #expect(pair.net.clock.pendingTimerCount == 1)  // not yet due
        pair.net.clock.advance(by: .seconds(1))
        do {
            _ = try await call.value
            Issue.record("expected a timeout")
        } catch let error as ActorSystemError {
            #expect(error.code == .timeout)
        }
        try pair.net.finish()
    }

    @Test func finishReportsLeftovers() async throws {
        let pair = try await EmbeddedPair()
        let (counter, call) = try await pair.queuedCall(adding: 1)
        defer { withExtendedLifetime(counter) {} }
        #expect(throws: EmbeddedNetwork.Leftovers.self) { try pair.net.finish() }
        try await pair.net.runUntilIdle()
        _ = try await call.value
        try pair.net.finish()
    }

    @Test func aPartitionFailsCallsToTheCutOffNode() async throws {
        let pair = try await EmbeddedPair()
        let (counter, call) = try await pair.queuedCall(adding: 1)
        defer { withExtendedLifetime(counter) {} }
        pair.net.partition(NodeID(1))
        do {
            _ = try await call.value
            Issue.record("expected a failure")
        } catch let error as ActorSystemError {
            #expect(error.code == .nodeUnreachable)
        }
        #expect(pair.a.connectedPeers.isEmpty)
        try pair.net.finish()
    }
}

@Suite struct HeartbeatTests {
    @Test func aSilentPeerIsDeclaredUnreachableAndItsWatchersTold() async throws {
        let net = EmbeddedNetwork()
        var settings = net.settings()
        settings.failureDetection = .init(interval: .milliseconds(100), suspicionTimeout: .milliseconds(300), deathTimeout: .seconds(1))
        settings.clock = net.clock
        let a = DeepseekActorSystem(transport: net.transport(for: NodeID(0)), settings: settings)
        let b = DeepseekActorSystem(transport: net.transport(for: NodeID(1)), settings: settings)
        try await a.start()
        try await b.start()
        let counter = Counter(actorSystem: b)
        defer { withExtendedLifetime(counter) {} }
        let lost = TestBox()
        await a.watch(counter.id) { _, reason in lost.set(reason) }
        // While heartbeats flow, nobody is declared dead.
        for _ in 0..<20 {
            net.clock.advance(by: .milliseconds(100))
            try await net.runUntilIdle(quietRounds: 5)
        }
        #expect(lost.value == nil)
        #expect(a.connectedPeers == [NodeID(1)])
        // Node 1 hangs: what it sends is lost, but no connection closes.
        net.mute(NodeID(1))
        for _ in 0..<15 {
            net.clock.advance(by: .milliseconds(100))
            try await net.runUntilIdle(quietRounds: 5)
        }
        #expect(lost.value?.contains("no heartbeat") == true)
        #expect(!a.connectedPeers.contains(NodeID(1)))
        await a.shutdown()
        await b.shutdown()
    }
}

final class TestBox: Sendable {
    private let stored = Mutex<String?>(nil)
    func set(_ s: String) { stored.withLock { $0 = s } }
    var value: String? { stored.withLock { $0 } }
}

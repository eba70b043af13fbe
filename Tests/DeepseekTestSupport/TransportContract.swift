public import DeepseekActors
import DeepseekCore
import Synchronization
import Testing

/// Makes two connected transports for the contract checks, and pumps them when delivery is manual.
public struct TransportHarness: Sendable, CustomStringConvertible {
    public var name: String
    /// Creates transports for node 0 and node 1 (not yet started).
    public var make: @Sendable () async throws -> (any Transport, any Transport)
    /// Moves messages along (a no-op for transports that deliver by themselves).
    public var pump: @Sendable () async throws -> Void

    public init(
        name: String, make: @escaping @Sendable () async throws -> (any Transport, any Transport),
        pump: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.name = name
        self.make = make
        self.pump = pump
    }

    public var description: String { name }
}

/// A receiver that records what a transport hands it.
public final class RecordingReceiver: TransportReceiver {
    public struct Log: Sendable {
        public var messages: [(TransportMessage, NodeID)] = []
        public var connected: [NodeID] = []
        public var disconnected: [(NodeID, String)] = []
    }
    private let log = Mutex(Log())
    public init() {}
    public var snapshot: Log { log.withLock { $0 } }
    public func receive(_ message: TransportMessage, from node: NodeID) { log.withLock { $0.messages.append((message, node)) } }
    public func peerConnected(_ node: NodeID) { log.withLock { $0.connected.append(node) } }
    public func peerDisconnected(_ node: NodeID, reason: String) { log.withLock { $0.disconnected.append((node, reason)) } }
}

/// The behaviour every `Transport` must show, checked the same way for each implementation.
public enum TransportContract {
    /// Waits (bounded) until `condition` holds, pumping the harness.
    static func eventually(
        _ h: TransportHarness, _ what: String, sourceLocation: Testing.SourceLocation = #_sourceLocation, _ condition: () -> Bool
    ) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while !condition() {
            guard clock.now < deadline else {
                Issue.record("\(h.name): timed out waiting for \(what)", sourceLocation: sourceLocation)
                return
            }
            try await h.pump()
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Messages from one node to another arrive intact and in the order they were sent.
    public static func deliversInOrder(_ h: TransportHarness) async throws {
        let (t0, t1) = try await h.make()
        let r0 = RecordingReceiver()
        let r1 = RecordingReceiver()
        try await t0.start(receiver: r0)
        try await t1.start(receiver: r1)
        let address = ActorAddress(node: NodeID(1), path: "contract", incarnation: 1)
        for i in 0..<200 {
            try await t0.send(.system(.registered(key: "k\(i)", actor: address)), to: NodeID(1))
        }
        try await eventually(h, "200 messages") { r1.snapshot.messages.count >= 200 }
        let keys = r1.snapshot.messages.compactMap { m -> String? in
            if case .system(.registered(let key, _)) = m.0 { key } else { nil }
        }
        #expect(keys == (0..<200).map { "k\($0)" }, "\(h.name): order")
        #expect(r1.snapshot.messages.allSatisfy { $0.1 == NodeID(0) }, "\(h.name): sender")
        await t0.shutdown()
        await t1.shutdown()
    }

    /// A large payload arrives byte for byte.
    public static func carriesLargePayloads(_ h: TransportHarness) async throws {
        let (t0, t1) = try await h.make()
        let r1 = RecordingReceiver()
        try await t0.start(receiver: RecordingReceiver())
        try await t1.start(receiver: r1)
        var rng = SeededRandom(seed: 5)
        let blob = (0..<(1 << 20)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let envelope = CallEnvelope(
            callID: 1, origin: NodeID(0), recipient: ActorAddress(node: NodeID(1), path: "x", incarnation: 1), target: "t",
            arguments: [.encoded(blob)])
        try await t0.send(.call(envelope), to: NodeID(1))
        try await eventually(h, "the large message") { !r1.snapshot.messages.isEmpty }
        if case .call(let got)? = r1.snapshot.messages.first?.0 {
            #expect(got.arguments.first?.bytes == blob, "\(h.name): payload bytes")
        } else {
            Issue.record("\(h.name): expected a call message")
        }
        await t0.shutdown()
        await t1.shutdown()
    }

    /// Sending to a node that does not exist fails with `nodeUnreachable` instead of hanging.
    public static func refusesUnknownNodes(_ h: TransportHarness) async throws {
        let (t0, t1) = try await h.make()
        try await t0.start(receiver: RecordingReceiver())
        try await t1.start(receiver: RecordingReceiver())
        do {
            try await t0.send(.system(.leaving), to: NodeID(77))
            try await h.pump()
            Issue.record("\(h.name): sending to an unknown node should fail")
        } catch let error as ActorSystemError {
            #expect(error.code == .nodeUnreachable, "\(h.name)")
        }
        await t0.shutdown()
        await t1.shutdown()
    }

    /// When one side shuts down, the other learns the peer is gone.
    public static func reportsDisconnects(_ h: TransportHarness) async throws {
        let (t0, t1) = try await h.make()
        let r0 = RecordingReceiver()
        try await t0.start(receiver: r0)
        try await t1.start(receiver: RecordingReceiver())
        try await t1.send(.system(.leaving), to: NodeID(0))
        try await eventually(h, "first message") { !r0.snapshot.messages.isEmpty }
        await t1.shutdown()
        try await eventually(h, "disconnect notice") { r0.snapshot.disconnected.contains { $0.0 == NodeID(1) } }
        await t0.shutdown()
    }

    /// Runs every check.
    public static func checkAll(_ h: TransportHarness) async throws {
        try await deliversInOrder(h)
        try await carriesLargePayloads(h)
        try await refusesUnknownNodes(h)
        try await reportsDisconnects(h)
    }
}

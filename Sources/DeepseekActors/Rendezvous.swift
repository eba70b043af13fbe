public import Distributed

/// Collects the listen addresses of every rank until the whole world has joined: events in,
/// outcome out.
public struct RendezvousState: Sendable, Equatable {
    public let worldSize: Int
    public private(set) var addresses: [Int: String] = [:]

    public init(worldSize: Int) {
        precondition(worldSize >= 1, "a cluster needs at least one node")
        self.worldSize = worldSize
    }

    /// What a join led to.
    public enum Outcome: Sendable, Equatable {
        /// Still waiting for `missing` ranks.
        case waiting(missing: Int)
        /// Everyone is here: the address of each rank, in rank order.
        case complete([String])
        /// The join is refused; the message says why.
        case refused(String)
    }

    public mutating func join(rank: Int, address: String) -> Outcome {
        guard rank >= 0 && rank < worldSize else {
            return .refused("rank \(rank) is outside the world of \(worldSize) nodes (0..<\(worldSize))")
        }
        if let existing = addresses[rank], existing != address {
            return .refused("rank \(rank) already joined from \(existing); a second node claims it from \(address)")
        }
        addresses[rank] = address
        if addresses.count == worldSize {
            return .complete((0..<worldSize).map { addresses[$0]! })
        }
        return .waiting(missing: worldSize - addresses.count)
    }
}

/// Lives on rank 0 at `RendezvousCoordinator.path`; every node calls `join` and gets the full
/// address table once the last rank has joined.
public distributed actor RendezvousCoordinator {
    public typealias ActorSystem = DeepseekActorSystem

    /// The well-known path other nodes resolve.
    public static let path = "system/rendezvous"

    private var state: RendezvousState
    private var waiters: [CheckedContinuation<[String], any Error>] = []
    private var barriers: [String: (ranks: Set<Int>, waiters: [CheckedContinuation<Void, Never>])] = [:]
    private var gone: Set<Int> = []

    private let onJoin: @Sendable (Int, String) -> Void

    /// - Parameter onJoin: told each rank's address as it joins — before anyone is answered — so
    ///   the coordinator can record it (to dial the joiner later). The replies themselves need it
    ///   only with a transport that cannot answer over the connection the joiner opened.
    public init(worldSize: Int, actorSystem: DeepseekActorSystem, onJoin: @escaping @Sendable (Int, String) -> Void = { _, _ in }) {
        self.state = RendezvousState(worldSize: worldSize)
        self.actorSystem = actorSystem
        self.onJoin = onJoin
    }

    /// Creates the coordinator at its well-known path.
    public static func make(
        worldSize: Int, actorSystem: DeepseekActorSystem, onJoin: @escaping @Sendable (Int, String) -> Void = { _, _ in }
    ) -> RendezvousCoordinator {
        DeepseekActorSystem.withWellKnownPath(path) {
            RendezvousCoordinator(worldSize: worldSize, actorSystem: actorSystem, onJoin: onJoin)
        }
    }

    /// The address of the coordinator on `node`, for `resolve`.
    public static func address(on node: NodeID) -> ActorAddress { .wellKnown(path, on: node) }

    /// Registers `rank` at `address`; returns every rank's address once all have joined.
    public distributed func join(rank: Int, address: String) async throws -> [String] {
        let outcome = state.join(rank: rank, address: address)
        if case .refused = outcome {} else { onJoin(rank, address) }
        switch outcome {
        case .refused(let why):
            throw ActorSystemError(.remoteError, "rendezvous refused: \(why)")
        case .complete(let table):
            for w in waiters { w.resume(returning: table) }
            waiters = []
            return table
        case .waiting:
            return try await withCheckedThrowingContinuation { waiters.append($0) }
        }
    }

    /// How many ranks have joined so far.
    public distributed func joinedCount() -> Int { state.addresses.count }

    /// Returns once every rank still in the cluster has arrived at the barrier called `name`.
    public distributed func barrier(_ name: String, rank: Int) async throws {
        guard rank >= 0 && rank < state.worldSize else {
            throw ActorSystemError(.remoteError, "barrier \(name): rank \(rank) is outside the world of \(state.worldSize)")
        }
        var entry = barriers[name] ?? ([], [])
        entry.ranks.insert(rank)
        barriers[name] = entry
        if releaseIfComplete(name) { return }
        await withCheckedContinuation { continuation in
            barriers[name]?.waiters.append(continuation)
        }
    }

    /// Counts `rank` as gone: barriers stop waiting for it.
    public distributed func markGone(_ rank: Int) {
        gone.insert(rank)
        for name in Array(barriers.keys) { _ = releaseIfComplete(name) }
    }

    /// Releases the barrier when every rank has arrived or is gone; returns whether it did.
    private func releaseIfComplete(_ name: String) -> Bool {
        guard let entry = barriers[name], entry.ranks.union(gone).count >= state.worldSize else { return false }
        for w in entry.waiters { w.resume() }
        barriers[name] = nil
        return true
    }
}

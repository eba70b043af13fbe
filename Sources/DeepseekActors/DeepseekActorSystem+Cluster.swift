public import DeepseekCore
public import Distributed
import Synchronization

extension DeepseekActorSystem {
    // MARK: Lifecycle watch

    /// Calls `onTerminated` once when the actor at `address` stops or its node becomes unreachable.
    ///
    /// - Returns: a token for `unwatch`.
    @discardableResult
    public func watch(
        _ address: ActorAddress, onTerminated: @escaping @Sendable (ActorAddress, String) -> Void
    ) async -> WatchToken {
        let (token, first, alreadyGone) = state.withLock { s in
            let (t, first) = s.watches.add(address, onTerminated)
            return (t, first, address.node == node && s.actors[address]?.actor == nil)
        }
        var failure: String? = alreadyGone ? "actor is not alive" : nil
        if !alreadyGone && first && address.node != node {
            // Sending the watch also establishes the connection; if the node cannot be
            // reached at all, the watcher hears so at once.
            do {
                try await transport.send(.system(.watch(target: address, watcher: node)), to: address.node)
            } catch {
                failure = "\(address.node) is unreachable: \(error)"
            }
        }
        if let failure {
            let callbacks = state.withLock { $0.watches.takeLocal(for: address) }
            for c in callbacks { c(address, failure) }
        }
        return token
    }

    /// Cancels a watch.
    public func unwatch(_ token: WatchToken) async {
        let last = state.withLock { $0.watches.remove(token) }
        if last && token.target.node != node {
            try? await transport.send(.system(.unwatch(target: token.target, watcher: node)), to: token.target.node)
        }
    }

    // MARK: Receptionist

    /// Lists `actor` under `key` for every node of the cluster to find.
    public func register<Act: DistributedActor>(_ actor: Act, key: String) async where Act.ID == ActorAddress {
        let peers = state.withLock { s in
            s.receptionist.add(actor.id, key: key)
            return s.peers
        }
        for p in peers { try? await transport.send(.system(.registered(key: key, actor: actor.id)), to: p) }
    }

    /// The addresses listed under `key` on every connected node, in a stable order.
    public func lookup(key: String) -> [ActorAddress] {
        state.withLock { $0.receptionist.actors(for: key) }
    }

    /// The actors listed under `key`, resolved as `Act`.
    public func lookup<Act: DistributedActor>(_ type: Act.Type, key: String) throws -> [Act]
    where Act.ActorSystem == DeepseekActorSystem {
        try lookup(key: key).map { try Act.resolve(id: $0, using: self) }
    }

    // MARK: Membership

    public func peerConnected(_ peer: NodeID) {
        let now = settings.clock.now().nanoseconds
        let registrations = state.withLock { s in
            s.peers.insert(peer)
            s.detector?.add(peer, now: now)
            return s.receptionist.local(on: node)
        }
        guard !registrations.isEmpty else { return }
        let transport = self.transport
        Task(executorPreference: settings.taskExecutor) {
            for (key, actor) in registrations {
                try? await transport.send(.system(.registered(key: key, actor: actor)), to: peer)
            }
        }
    }

    public func peerDisconnected(_ peer: NodeID, reason: String) {
        let callbacks = state.withLock { s in
            s.peers.remove(peer)
            s.detector?.remove(peer)
            s.receptionist.remove(node: peer)
            s.watches.forgetWatcher(peer)
            return s.watches.takeLocal(onNode: peer)
        }
        failCalls(to: peer, reason: reason)
        for (actor, callback) in callbacks { callback(actor, "\(peer) is unreachable: \(reason)") }
    }

    func handle(_ message: SystemMessage, from sender: NodeID) {
        switch message {
        case .watch(let target, let watcher):
            let alive = state.withLock { s in
                let alive = s.actors[target]?.actor != nil
                if alive { s.watches.addRemote(target, watcher: watcher) }
                return alive
            }
            if !alive {
                let transport = self.transport
                Task(executorPreference: settings.taskExecutor) { try? await transport.send(.system(.terminated(actor: target)), to: watcher) }
            }
        case .unwatch(let target, let watcher):
            state.withLock { $0.watches.removeRemote(target, watcher: watcher) }
        case .terminated(let actor):
            let callbacks = state.withLock { s in
                _ = s.receptionist.remove(actor: actor)
                return s.watches.takeLocal(for: actor)
            }
            for c in callbacks { c(actor, "actor stopped") }
        case .registered(let key, let actor):
            state.withLock { $0.receptionist.add(actor, key: key) }
        case .deregistered(let actor):
            state.withLock { _ = $0.receptionist.remove(actor: actor) }
        case .leaving:
            peerDisconnected(sender, reason: "left the cluster")
        case .ping(let n):
            let transport = self.transport
            Task(executorPreference: settings.taskExecutor) { try? await transport.send(.system(.pong(n)), to: sender) }
        case .pong:
            break  // `receive` already counted it as hearing from the sender
        }
    }

    // MARK: Failure detection

    func scheduleHeartbeat() {
        guard let interval = settings.failureDetection?.interval else { return }
        let timer = settings.scheduler.schedule(after: interval) { [weak self] in self?.heartbeat() }
        let stale = state.withLock { s -> ScheduledAction? in
            if s.isShutDown { return timer }
            s.heartbeatTimer = timer
            return nil
        }
        stale?.cancel()
    }

    func heartbeat() {
        let now = settings.clock.now().nanoseconds
        let directives = state.withLock { s -> [FailureDetector.Directive] in
            guard !s.isShutDown, var d = s.detector else { return [] }
            let out = d.tick(now: now)
            s.detector = d
            return out
        }
        let transport = self.transport
        var pings: [NodeID] = []
        for directive in directives {
            switch directive {
            case .ping(let n): pings.append(n)
            case .unreachable(let n):
                let seconds = Double(UInt64(nanoseconds: settings.failureDetection!.deathTimeout)) / 1e9
                peerDisconnected(n, reason: "no heartbeat answer for \(seconds) s")
            case .suspect, .recovered: break
            }
        }
        if !pings.isEmpty {
            Task(executorPreference: settings.taskExecutor) { for n in pings { try? await transport.send(.system(.ping(now)), to: n) } }
        }
        scheduleHeartbeat()
    }

    func heard(from node: NodeID) {
        guard settings.failureDetection != nil else { return }
        let now = settings.clock.now().nanoseconds
        // In place: a copy of the detector would copy its tables on every message received.
        state.withLock { s in _ = s.detector?.heard(from: node, now: now) }
    }

    /// Fails waiting calls, tells peers this node is leaving, and closes the transport.
    public func shutdown() async {
        let (peers, ids, timer) = state.withLock { s -> (Set<NodeID>, [UInt64], ScheduledAction?) in
            s.isShutDown = true
            defer { s.heartbeatTimer = nil }
            return (s.peers, Array(s.pending.keys), s.heartbeatTimer)
        }
        timer?.cancel()
        for id in ids {
            complete(id, .failure(ActorSystemError(.shutDown, "\(node) shut down while the call was in flight")))
        }
        for p in peers { try? await transport.send(.system(.leaving), to: p) }
        await transport.shutdown()
    }
}

extension DistributedActor where Self: WireCodable, ID == ActorAddress, ActorSystem == DeepseekActorSystem {
    /// Actor references travel as their address.
    public nonisolated func encode(to writer: inout WireWriter) { id.encode(to: &writer) }

    /// Resolves the address against the system decoding the message.
    public static func decode(from reader: inout WireReader) throws -> Self {
        let address = try ActorAddress.decode(from: &reader)
        guard let system = DeepseekActorSystem.current else {
            throw ActorSystemError(.serialization, "an actor reference to \(address) was decoded outside an actor system")
        }
        return try Self.resolve(id: address, using: system)
    }
}

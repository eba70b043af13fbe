/// A registration to hear when an actor terminates; pass it to `unwatch` to cancel.
public struct WatchToken: Sendable, Hashable {
    let id: UInt64
    let target: ActorAddress
}

/// Who watches which actor: local callbacks, and remote nodes to notify.
struct WatchTable {
    typealias Callback = @Sendable (ActorAddress, String) -> Void
    private var local: [ActorAddress: [UInt64: Callback]] = [:]
    private var remote: [ActorAddress: Set<NodeID>] = [:]
    private var nextID: UInt64 = 0

    /// Adds a local callback; returns its token and whether it is the first watch of `target`.
    mutating func add(_ target: ActorAddress, _ callback: @escaping Callback) -> (WatchToken, first: Bool) {
        nextID += 1
        let first = local[target] == nil
        local[target, default: [:]][nextID] = callback
        return (WatchToken(id: nextID, target: target), first)
    }

    /// Removes a callback; returns whether it was the last watch of its target.
    mutating func remove(_ token: WatchToken) -> Bool {
        local[token.target]?[token.id] = nil
        if local[token.target]?.isEmpty == true {
            local[token.target] = nil
            return true
        }
        return false
    }

    mutating func addRemote(_ target: ActorAddress, watcher: NodeID) { remote[target, default: []].insert(watcher) }
    mutating func removeRemote(_ target: ActorAddress, watcher: NodeID) { remote[target]?.remove(watcher) }

    mutating func takeLocal(for target: ActorAddress) -> [Callback] {
        Array(local.removeValue(forKey: target)?.values ?? [:].values)
    }

    mutating func takeRemote(for target: ActorAddress) -> Set<NodeID> {
        remote.removeValue(forKey: target) ?? []
    }

    /// Every local callback for actors on `node`, removed.
    mutating func takeLocal(onNode node: NodeID) -> [(ActorAddress, Callback)] {
        let targets = local.keys.filter { $0.node == node }
        return targets.flatMap { t in (local.removeValue(forKey: t) ?? [:]).values.map { (t, $0) } }
    }

    /// Forgets that `node` watches anything (it is gone).
    mutating func forgetWatcher(_ node: NodeID) {
        for key in remote.keys { remote[key]?.remove(node) }
    }
}

/// Which actors are listed under which key, across the cluster.
struct ReceptionistTable {
    private(set) var listings: [String: Set<ActorAddress>] = [:]

    mutating func add(_ actor: ActorAddress, key: String) { listings[key, default: []].insert(actor) }

    /// Removes `actor` from every key; returns whether it was listed anywhere.
    mutating func remove(actor: ActorAddress) -> Bool {
        var found = false
        for key in listings.keys where listings[key]?.remove(actor) != nil { found = true }
        return found
    }

    mutating func remove(node: NodeID) {
        for key in listings.keys { listings[key] = listings[key]?.filter { $0.node != node } }
    }

    func actors(for key: String) -> [ActorAddress] {
        (listings[key] ?? []).sorted { ($0.node, $0.path, $0.incarnation) < ($1.node, $1.path, $1.incarnation) }
    }

    func local(on node: NodeID) -> [(String, ActorAddress)] {
        listings.flatMap { key, actors in actors.filter { $0.node == node }.map { (key, $0) } }
    }
}

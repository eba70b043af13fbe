import DeepseekActors
import DeepseekCore
import Synchronization

extension VerbsProgressLoop {
    /// Carries out a connection machine's directives for `link`.
    ///
    /// - Parameter trigger: the message that produced them, replayed into a fresh machine on `.restart`.
    func run(
        _ directives: [VerbsConnectionStateMachine.Directive], for link: VerbsLink, receiver: (any TransportReceiver)?,
        trigger: VerbsConnectionMessage? = nil
    ) {
        let peer = link.peer
        for directive in directives {
            // A directive may have closed the link; the rest belong to the old one.
            guard links[peer] === link else { return }
            switch directive {
            case .prepareQueuePair:
                let next: [VerbsConnectionStateMachine.Directive]
                do {
                    let endpoint = try link.prepare(
                        context: context, localNode: localNode, packetSequence: UInt32(truncatingIfNeeded: random.next()))
                    next = link.machine.queuePairPrepared(endpoint)
                } catch {
                    next = link.machine.queuePairFailed("\(error)")
                }
                run(next, for: link, receiver: receiver)
            case .send(let message):
                outbox.yield((peer, message))
            case .connectQueuePair(let remote):
                let next: [VerbsConnectionStateMachine.Directive]
                do {
                    try link.connect(to: remote, context: context)
                    next = link.machine.queuePairConnected()
                } catch {
                    next = link.machine.queuePairFailed("\(error)")
                }
                run(next, for: link, receiver: receiver)
            case .established:
                link.established = true
                link.stats.linksEstablished += 1
                let waiters = shared.withLock { s -> [CheckedContinuation<Bool, any Error>] in
                    guard var state = s.peers[peer] else {
                        s.peers[peer] = VerbsSharedState.Peer(phase: .established)
                        return []
                    }
                    let waiters = state.connectWaiters
                    state.phase = .established
                    state.connectWaiters.removeAll()
                    s.peers[peer] = state
                    return waiters
                }
                for w in waiters { w.resume(returning: true) }
                receiver?.peerConnected(peer)
                wake()
            case .close(let reason):
                close(peer, reason: reason, failed: false, receiver: receiver)
            case .restart(let reason):
                close(peer, reason: reason, failed: false, receiver: receiver, keepQueued: true)
                guard let trigger else { return }
                shared.withLock { s in
                    if s.peers[peer] == nil { s.peers[peer] = VerbsSharedState.Peer(phase: .connecting) }
                }
                let fresh = makeLink(peer)
                run(fresh.machine.receive(trigger, from: peer), for: fresh, receiver: receiver)
            }
        }
    }

    /// Tears a link down and tells everyone who cares.
    ///
    /// Senders waiting on it fail with `nodeUnreachable`; messages still queued for it are dropped
    /// (unless `keepQueued`, when a new connection will carry them); the receiver hears
    /// `peerDisconnected` if the link had been established.
    func close(_ peer: NodeID, reason: String, failed: Bool, receiver: (any TransportReceiver)?, keepQueued: Bool = false) {
        guard let link = links.removeValue(forKey: peer) else { return }
        let wasEstablished = link.isEstablished
        link.tearDown()
        closedStats.add(link.stats)
        closedStats.linksClosed += 1
        if failed { closedStats.linkFailures += 1 }
        if keepQueued {
            // Unsent frames go back to the front of the shared queue, in order.
            let unsent = Array(link.queue[link.queueHead...])
            shared.withLock { s in
                guard var state = s.peers[peer] else { return }
                state.phase = .connecting
                state.outbound = unsent + state.outbound
                s.peers[peer] = state
            }
        } else {
            failWaiters(peer, reason: reason)
        }
        if wasEstablished { receiver?.peerDisconnected(peer, reason: reason) }
    }

    /// Drops what is queued for `peer` and fails everyone waiting on it.
    func failWaiters(_ peer: NodeID, reason: String) {
        let error = ActorSystemError(.nodeUnreachable, "no RDMA link to \(peer): \(reason)")
        let waiters = shared.withLock { s -> [CheckedContinuation<Bool, any Error>] in
            guard let state = s.peers.removeValue(forKey: peer) else { return [] }
            return state.connectWaiters + state.spaceWaiters
        }
        for w in waiters { w.resume(throwing: error) }
    }
}

import DeepseekActors

// Shutting down: stop accepting, let established connections write what is queued for up to the
// grace period, close everything through the ring, then let the loop end.
extension RingLoop {
    func beginShutdown() {
        guard draining == nil else { return }
        let now = clock.now
        draining = (now + settings.shutdownGracePeriod, now + settings.shutdownGracePeriod + .seconds(2))
        _ = schedule(after: settings.shutdownGracePeriod, .drainCheck)
        _ = schedule(after: settings.shutdownGracePeriod + .seconds(2), .drainCheck)
        for peer in Array(peers.keys) {
            cancelTimer(peers[peer]?.reconnectTimer)
            peers[peer]?.reconnectTimer = nil
        }
        if let tag = acceptTag { submit(.cancel(target: tag), .cancel) } else { closeListener() }
        for conn in connections.values where !stillWriting(conn) {
            close(conn, reason: "the transport is shutting down", level: .debug)
        }
    }

    /// An established connection that still has frames to write during the grace period.
    func stillWriting(_ conn: Connection) -> Bool {
        guard conn.isEstablished, !conn.closing, let peer = conn.peer else { return false }
        return conn.sendInFlight || (peers[peer]?.sendConnection == conn.id && queues.hasQueued(for: peer))
    }

    /// Closes what has finished writing (everything once the grace period is over). Returns
    /// true when the loop may stop.
    func drainStep() -> Bool {
        guard let d = draining else { return false }
        let now = clock.now
        for conn in connections.values where !conn.closing && (now >= d.deadline || !stillWriting(conn)) {
            close(conn, reason: "the transport is shutting down", level: .debug)
        }
        if now >= d.hard {
            log(.warning, "shutdown: \(connections.count) connections had not closed in time; tearing the ring down")
            return true
        }
        return connections.isEmpty && !listenerOpen
    }

    /// Closes the listening socket through the ring; `listenerOpen` turns false when that is done.
    func closeListener() {
        guard listenerOpen, !listenerClosing else { return }
        listenerClosing = true
        if submit(.close(fd: listenFD), .closeListener) == nil {
            sys.closeNow(listenFD)
            listenerOpen = false
        }
    }
}

internal import CDeepseekURing
import DeepseekActors
import DeepseekCore
#if canImport(Glibc)
import Glibc
#endif

// Connection life: dialling, accepting, the handshake, closing, reconnecting and giving up.
extension RingLoop {
    func makeConnection(fd: Int32, direction: Connection.Direction, isTCP: Bool) -> Connection? {
        var nonce = [UInt8](repeating: 0, count: HandshakeStateMachine.nonceSize)
        let rc = nonce.withUnsafeMutableBytes { cdskur_random_bytes($0.baseAddress, $0.count) }
        guard rc == 0 else {
            log(.error, "no random bytes for a handshake nonce (\(errnoText(rc))); refusing the connection")
            return nil
        }
        let role: HandshakeStateMachine.Role
        if case .outbound(let peer) = direction { role = .initiator(expectedPeer: peer) } else { role = .acceptor }
        let handshake = HandshakeStateMachine(
            role: role, localNode: settings.localNode, secret: settings.clusterSecret, nonce: nonce)
        let conn = Connection(
            id: nextTag, fd: fd, direction: direction, isTCP: isTCP, handshake: handshake,
            maximumFrameSize: settings.maximumFrameSize, batchBytes: settings.sendBatchSize)
        nextTag += 1
        connections[conn.id] = conn
        // Bounds the connect and the handshake together: a peer that never answers is dropped.
        conn.handshakeTimer = schedule(after: settings.handshakeTimeout, .handshakeDeadline(conn.id))
        return conn
    }

    /// Frames are waiting for `peer`: write them, or make the connection they need.
    func flush(_ peer: NodeID) {
        if let conn = sendConnection(for: peer) {
            pumpSend(conn)
            return
        }
        let link = peers[peer] ?? PeerLink()
        if link.outbound != nil || link.reconnectTimer != nil || draining != nil { return }
        startConnect(peer)
    }

    /// The connection messages to `peer` go out on (`PeerLink.sendConnection`), choosing one if
    /// none is chosen yet; `nil` while none is established.
    func sendConnection(for peer: NodeID) -> Connection? {
        guard var link = peers[peer] else { return nil }
        if let id = link.sendConnection, let conn = connections[id], !conn.closing { return conn }
        let usable = { (id: UInt64) -> Connection? in
            guard let c = self.connections[id], c.isEstablished, !c.closing else { return nil }
            return c
        }
        guard let chosen = link.outbound.flatMap(usable) ?? link.inbound.sorted().lazy.compactMap(usable).first else { return nil }
        link.sendConnection = chosen.id
        peers[peer] = link
        return chosen
    }

    func startConnect(_ peer: NodeID) {
        guard draining == nil else { return }
        guard let address = queues.address(of: peer) else {
            giveUp(peer, reason: "no address is known for \(peer)", level: .warning)
            return
        }
        counters.connectAttempts += 1
        let fd = sys.makeSocket(family: address.family)
        guard fd >= 0, let conn = makeConnection(fd: fd, direction: .outbound(peer), isTCP: !address.isUnix) else {
            if fd >= 0 { sys.closeNow(fd) }
            peers[peer, default: PeerLink()].failedAttempts += 1
            scheduleReconnect(peer, reason: fd < 0 ? "socket() failed: \(errnoText(fd))" : "no handshake nonce")
            return
        }
        peers[peer, default: PeerLink()].outbound = conn.id
        let raw = UnsafeMutableRawBufferPointer.allocate(byteCount: address.storage.count, alignment: 16)
        raw.copyBytes(from: address.storage)
        conn.connectAddress = raw
        if submit(.connect(fd: fd, address: raw.baseAddress!, length: address.length), .connect(conn.id), for: conn) == nil {
            close(conn, reason: "could not queue the connect", level: .error)
        }
    }

    func connected(_ conn: Connection, _ result: Int32) {
        guard !conn.closing else { return }
        guard result >= 0 else {
            close(conn, reason: "connect failed: \(errnoText(result))", level: .info)
            return
        }
        conn.isConnected = true
        if conn.isTCP {
            _ = sys.setNoDelay(conn.fd)
            conn.isLoopback = sys.peerIsLoopback(conn.fd)
        }
        armRead(conn)
        apply(conn.handshake.start(), to: conn)
    }

    func armAccept() {
        acceptTag = submit(.accept(fd: listenFD), .accept)
    }

    func accepted(_ result: Int32) {
        acceptTag = nil
        if draining != nil {
            if result >= 0 { sys.closeNow(result) }
            closeListener()
            return
        }
        guard result >= 0 else {
            // EMFILE and friends: wait a little instead of spinning on the error.
            log(.warning, "accept failed: \(errnoText(result)); retrying shortly")
            _ = schedule(after: .milliseconds(20), .rearmAccept)
            return
        }
        counters.connectionsAccepted += 1
        let inbound = connections.values.count(where: { $0.direction == .inbound })
        if inbound >= settings.maximumInboundConnections {
            log(.warning, "refusing a connection: \(inbound) inbound connections are open (maximumInboundConnections)")
            sys.closeNow(result)
        } else if let conn = makeConnection(fd: result, direction: .inbound, isTCP: !listenIsUnix) {
            if conn.isTCP {
                _ = sys.setNoDelay(conn.fd)
                conn.isLoopback = sys.peerIsLoopback(conn.fd)
            }
            armRead(conn)
            apply(conn.handshake.start(), to: conn)
        } else {
            sys.closeNow(result)
        }
        armAccept()
    }

    /// Carries out what the handshake state machine decided.
    func apply(_ directives: [HandshakeStateMachine.Directive], to conn: Connection) {
        for d in directives {
            if conn.closing { return }
            switch d {
            case .send(let message):
                conn.control.append(Frame(kind: .handshake, body: message.wireBytes).encoded)
            case .established(let peer):
                established(conn, peer: peer)
            case .close(let reason):
                counters.handshakeFailures += 1
                let why = "handshake failed: \(reason)"
                // A reject is queued before the close: write it first, so the peer can log why.
                if conn.control.isEmpty { close(conn, reason: why, level: .warning) } else { conn.closeAfterFlush = why }
            }
        }
        pumpSend(conn)
    }

    private func established(_ conn: Connection, peer: NodeID) {
        conn.isEstablished = true
        conn.peer = peer
        cancelTimer(conn.handshakeTimer)
        conn.handshakeTimer = nil
        counters.connectionsEstablished += 1
        var link = peers[peer] ?? PeerLink()
        link.saidLeaving = false
        switch conn.direction {
        case .outbound: link.failedAttempts = 0
        case .inbound: link.inbound.insert(conn.id)
        }
        let report = !link.reportedConnected
        link.reportedConnected = true
        peers[peer] = link
        log(.debug, "\(conn.describe) established")
        if report {
            queues.setEstablished(peer, true)
            receiver?.peerConnected(peer)
        }
        // Messages may be waiting for the first established connection to this peer.
        if queues.hasQueued(for: peer), let send = sendConnection(for: peer), send !== conn { pumpSend(send) }
    }

    /// Starts closing: wakes every operation still waiting on the socket, then closes the fd
    /// through the ring once none is left.
    func close(_ conn: Connection, reason: String, level: URingLogLevel) {
        guard !conn.closing else { return }
        conn.closing = true
        conn.closeAfterFlush = nil
        cancelTimer(conn.handshakeTimer)
        conn.handshakeTimer = nil
        counters.connectionsClosed += 1
        log(level, "\(conn.describe) closed: \(reason)")
        conn.sendChain = []
        if let peer = conn.knownPeer, queues.withdrawDirect(peer, connection: conn.id) {
            // A sender is writing to the socket itself: keep the fd open until it is out.
            let tag = nextTag
            nextTag += 1
            conn.directWriterTag = tag
            conn.pending.insert(tag)
        }
        let waiting = conn.pending.filter { $0 != conn.directWriterTag }
        if conn.isConnected && !waiting.isEmpty { submit(.shutdown(fd: conn.fd), .shutdown(conn.id), for: conn) }
        for tag in waiting { submit(.cancel(target: tag), .cancel) }
        connectionLost(conn, reason: reason)
        finishClosing(conn)
    }

    func finishClosing(_ conn: Connection) {
        guard conn.closing, conn.pending.isEmpty, !conn.closeSubmitted else { return }
        conn.closeSubmitted = true
        if submit(.close(fd: conn.fd), .close(conn.id), for: conn) == nil {
            sys.closeNow(conn.fd)
            released(conn)
        }
    }

    /// The fd is closed: the connection's memory can go.
    func released(_ conn: Connection) {
        if let lease = conn.readLease { pool.release(lease) }
        conn.readLease = nil
        connections[conn.id] = nil
    }

    private func connectionLost(_ conn: Connection, reason: String) {
        counters.framesDropped += conn.framesInFlight
        conn.framesInFlight = 0
        guard let peer = conn.knownPeer else { return }
        var link = peers[peer] ?? PeerLink()
        if link.sendConnection == conn.id { link.sendConnection = nil }
        let retry: Bool
        switch conn.direction {
        case .outbound:
            guard link.outbound == conn.id else { return }
            link.outbound = nil
            if !conn.isEstablished { link.failedAttempts += 1 }
            // A connection the peer opened carries messages to it as well; no need to redial.
            retry = link.inbound.isEmpty
        case .inbound:
            guard conn.isEstablished, link.inbound.remove(conn.id) != nil else { return }
            // If this node has no other stream to the peer, dial to find out whether it is still
            // there (and to carry what is queued for it).
            retry = link.outbound == nil && link.inbound.isEmpty && link.reconnectTimer == nil
        }
        peers[peer] = link
        // What was queued goes out on another connection to the peer, if there is one.
        if queues.hasQueued(for: peer), let other = sendConnection(for: peer) { pumpSend(other) }
        guard draining == nil else { return }
        if link.saidLeaving {
            if link.outbound == nil && link.inbound.isEmpty { giveUp(peer, reason: "\(peer) left the cluster", level: .info) }
            return
        }
        if retry { scheduleReconnect(peer, reason: reason) }
    }

    func scheduleReconnect(_ peer: NodeID, reason: String) {
        var link = peers[peer] ?? PeerLink()
        guard link.reconnectTimer == nil, draining == nil else { return }
        guard queues.address(of: peer) != nil else {
            giveUp(peer, reason: "\(reason); no address is known to reconnect", level: .info)
            return
        }
        guard link.failedAttempts < settings.reconnectAttempts else {
            giveUp(peer, reason: "\(reason); gave up after \(link.failedAttempts) failed attempts", level: .warning)
            return
        }
        let delay = backoff(link.failedAttempts)
        link.reconnectTimer = schedule(after: delay, .reconnect(peer))
        peers[peer] = link
        counters.reconnectsScheduled += 1
        log(.info, "reconnecting to \(peer) in \(delay) (after \(link.failedAttempts) failed attempts): \(reason)")
    }

    /// `base · 2^attempts`, at most the configured maximum.
    func backoff(_ attempts: Int) -> Duration {
        var delay = settings.reconnectBackoffBase
        for _ in 0..<min(attempts, 40) where delay < settings.reconnectBackoffMaximum { delay *= 2 }
        return min(delay, settings.reconnectBackoffMaximum)
    }

    /// Stops trying to reach `peer`: drops its queue, fails its waiting senders, and tells the
    /// receiver (when it had been told the peer was there, or messages were lost).
    func giveUp(_ peer: NodeID, reason: String, level: URingLogLevel) {
        var link = peers[peer] ?? PeerLink()
        cancelTimer(link.reconnectTimer)
        link.reconnectTimer = nil
        link.failedAttempts = 0
        link.saidLeaving = false
        let dropped = queues.dropAll(for: peer, reason: reason)
        counters.framesDropped += dropped
        counters.peersGivenUp += 1
        let report = link.reportedConnected || dropped > 0
        link.reportedConnected = false
        peers[peer] = link
        log(level, "\(peer) is unreachable: \(reason); \(dropped) queued messages dropped")
        if report {
            queues.setEstablished(peer, false)
            receiver?.peerDisconnected(peer, reason: reason)
        }
    }
}

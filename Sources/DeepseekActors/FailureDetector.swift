/// Decides which peers are alive from the heartbeats they answer: events in, directives out.
///
/// Every `interval` the shell calls `tick(now:)`; the detector asks it to ping each peer. A peer
/// that has not been heard from for `suspicionTimeout` is suspected, and after `deathTimeout`
/// declared unreachable — once. Hearing from a suspected peer clears the suspicion. Time is
/// passed in, so the detector runs the same on real and virtual clocks.
public struct FailureDetector: Sendable {
    /// What the shell must do.
    public enum Directive: Sendable, Equatable {
        case ping(NodeID)
        case suspect(NodeID)
        case unreachable(NodeID)
        case recovered(NodeID)
    }

    /// How a peer looks from here.
    public enum Status: Sendable, Equatable {
        case alive, suspected, unreachable
    }

    public var suspicionTimeout: UInt64
    public var deathTimeout: UInt64
    private var lastHeard: [NodeID: UInt64] = [:]
    private var status: [NodeID: Status] = [:]

    /// - Parameters: timeouts in nanoseconds of silence.
    public init(suspicionTimeout: UInt64, deathTimeout: UInt64) {
        precondition(suspicionTimeout > 0 && deathTimeout >= suspicionTimeout, "need 0 < suspicion ≤ death timeout")
        self.suspicionTimeout = suspicionTimeout
        self.deathTimeout = deathTimeout
    }

    /// The peers being watched and their status.
    public var view: [NodeID: Status] { status }

    /// Starts watching `node`, counting it as heard from at `now`.
    public mutating func add(_ node: NodeID, now: UInt64) {
        lastHeard[node] = now
        status[node] = .alive
    }

    /// Stops watching `node` (it left on purpose).
    public mutating func remove(_ node: NodeID) {
        lastHeard[node] = nil
        status[node] = nil
    }

    /// Anything from `node` — a heartbeat answer or any message — proves it alive.
    public mutating func heard(from node: NodeID, now: UInt64) -> [Directive] {
        guard let s = status[node] else { return [] }
        lastHeard[node] = max(lastHeard[node] ?? 0, now)
        if s == .suspected {
            status[node] = .alive
            return [.recovered(node)]
        }
        return []
    }

    /// Periodic check: pings every live peer and reports the silent ones.
    public mutating func tick(now: UInt64) -> [Directive] {
        var out: [Directive] = []
        for node in status.keys.sorted() {
            guard let s = status[node], s != .unreachable else { continue }
            let silence = now &- (lastHeard[node] ?? now)
            if silence >= deathTimeout {
                status[node] = .unreachable
                out.append(.unreachable(node))
                continue
            }
            if silence >= suspicionTimeout && s == .alive {
                status[node] = .suspected
                out.append(.suspect(node))
            }
            out.append(.ping(node))
        }
        return out
    }
}

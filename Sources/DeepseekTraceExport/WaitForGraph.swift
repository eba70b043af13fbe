public import DeepseekTracing

/// Who waits on whom at one moment of a run: the tool for diagnosing hangs.
///
/// Every message sent at or before the moment whose handler has not finished by then is an
/// edge from its sender to its receiver ("the sender waits for the receiver to handle it").
/// Following the edges gives chains (A waits on B, which waits on C) ending at *silent* actors —
/// waited on, waiting on no one — and cycles (deadlocks).
///
/// Events it needs (see `TraceIndex`): `.send` on the sender's track and at least one of
/// `.receive`/`.handlerBegin` on the receiver's track, or a `"to"` argument on the send naming
/// the receiver's track; `.handlerEnd` marks the message done. A message with no receiving step
/// and no `"to"` has an unknown receiver and is listed as such.
public struct WaitForGraph: Sendable {
    /// How far a pending message got.
    public enum State: String, Sendable, Hashable {
        case inTransit = "in transit"
        case queued = "queued"
        case handling = "being handled"
    }

    /// One outstanding message.
    public struct Edge: Sendable, Hashable {
        public var waiter: String
        /// The receiver's label, or `nil` when no event says who it is.
        public var waitedOn: String?
        public var message: String
        public var flow: FlowID
        public var sent: UInt64
        public var state: State
        /// When the current state began (send, receive or handler start).
        public var since: UInt64
    }

    /// The moment the graph describes.
    public var moment: UInt64
    /// Outstanding messages, oldest first.
    public var edges: [Edge]
    /// Actors that are waited on and wait on no one: the place a hang stops.
    public var silentActors: [String]
    /// Actors waiting on each other in a ring.
    public var cycles: [[String]]

    /// The graph at `moment` (the end of the trace when `nil`).
    public init(_ events: [TraceEvent], at moment: UInt64? = nil) {
        self.init(index: TraceIndex(events), at: moment)
    }

    /// The graph at `moment` over an index built earlier.
    public init(index: TraceIndex, at moment: UInt64? = nil) {
        let now = moment ?? index.end
        self.moment = now
        var edges: [Edge] = []
        for message in index.messages {
            guard let send = message.send, send.time <= now else { continue }
            if let end = message.handlerEnd, end.time <= now { continue }
            var state = State.inTransit
            var since = send.time
            if let receive = message.receive, receive.time <= now {
                state = .queued
                since = receive.time
            }
            if let begin = message.handlerBegin, begin.time <= now {
                state = .handling
                since = begin.time
            }
            let receiver = message.receiver.map(index.label) ?? message.declaredReceiver.map { name in
                index.track(named: name).map(index.label) ?? name
            }
            edges.append(
                Edge(waiter: index.label(send.track), waitedOn: receiver, message: message.name, flow: message.id,
                     sent: send.time, state: state, since: since))
        }
        edges.sort { ($0.sent, $0.flow) < ($1.sent, $1.flow) }
        self.edges = edges
        let waiters = Set(edges.map(\.waiter))
        silentActors = Array(Set(edges.compactMap(\.waitedOn)).subtracting(waiters)).sorted()
        cycles = Self.cycles(edges)
    }

    /// The edges out of `actor`.
    public func waits(of actor: String) -> [Edge] { edges.filter { $0.waiter == actor } }

    static func cycles(_ edges: [Edge]) -> [[String]] {
        var next: [String: Set<String>] = [:]
        for edge in edges {
            if let target = edge.waitedOn, target != edge.waiter { next[edge.waiter, default: []].insert(target) }
        }
        var found = Set<[String]>()
        for start in next.keys.sorted() {
            var path: [String] = [start]
            var onPath: Set<String> = [start]
            func visit(_ node: String) {
                for target in (next[node] ?? []).sorted() {
                    if target == start {
                        // Rotate so the smallest name leads: each ring is reported once.
                        let low = path.indices.min { path[$0] < path[$1] }!
                        found.insert(Array(path[low...] + path[..<low]))
                    } else if !onPath.contains(target), target > start, path.count < 16 {
                        path.append(target)
                        onPath.insert(target)
                        visit(target)
                        onPath.remove(target)
                        path.removeLast()
                    }
                }
            }
            visit(start)
        }
        return found.sorted { $0.joined(separator: "\u{0}") < $1.joined(separator: "\u{0}") }
    }

    /// The graph as text, as `deepseek trace waits` prints it.
    public var text: String {
        var lines = ["Wait-for graph at \(formatDuration(moment)) (\(edges.count) outstanding messages)"]
        if edges.isEmpty {
            lines.append("  nothing outstanding: every message sent by then was handled")
            return lines.joined(separator: "\n") + "\n"
        }
        for edge in edges {
            let target = edge.waitedOn ?? "an unknown receiver (no receive or handler event, no \"to\" argument)"
            lines.append(
                "  \(edge.waiter) waits on \(target): \"\(edge.message)\" (\(edge.flow)) sent at \(formatDuration(edge.sent)), "
                    + "\(edge.state.rawValue) for \(formatDuration(moment - min(moment, edge.since)))")
        }
        lines.append("")
        if silentActors.isEmpty {
            lines.append("Silent actors: none")
        } else {
            lines.append("Silent actors (waited on, waiting on no one — where the hang stops):")
            for actor in silentActors {
                let pending = edges.filter { $0.waitedOn == actor }
                let states = Set(pending.map(\.state.rawValue)).sorted().joined(separator: ", ")
                lines.append("  \(actor): \(pending.count) message(s) not finished (\(states))")
            }
        }
        if cycles.isEmpty {
            lines.append("Cycles: none")
        } else {
            lines.append("Cycles (deadlock):")
            for cycle in cycles { lines.append("  " + (cycle + [cycle[0]]).joined(separator: " → ")) }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

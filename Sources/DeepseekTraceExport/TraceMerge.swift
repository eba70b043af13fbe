import DeepseekCore
public import DeepseekTracing

/// Merges traces recorded on different nodes, each with its own clock, into one timeline where
/// no message arrow points backwards.
///
/// Each input is one clock domain (normally one node's file). For every ordered pair of domains
/// the merge takes the smallest apparent one-way delay of the messages between them (a step of
/// a flow in one domain followed by the next step in the other). With messages both ways, the
/// clock offset is the NTP midpoint `(minDelay(a→b) − minDelay(b→a)) / 2`; with messages one
/// way only, the offset that makes the fastest message take no time (the most that causality
/// allows). Offsets are propagated from the reference domain over the pairs, then tightened
/// until every pair's constraint `offset(b) − offset(a) ≤ minDelay(a→b)` holds, which is
/// exactly "no flow goes backwards". Clock drift within a run is not modelled.
///
/// ```swift
/// let merged = TraceMerge.merge([node0Events, node1Events, node2Events])
/// assert(merged.backwardFlows.isEmpty)
/// ```
public enum TraceMerge {
    /// The merged trace and how it was aligned.
    public struct Result: Sendable {
        /// All events on the reference domain's clock, ordered by timestamp.
        public var events: [TraceEvent]
        /// Nanoseconds subtracted from each input's timestamps (before the final shift that keeps
        /// every timestamp non-negative).
        public var offsets: [Int64]
        /// Nanoseconds added to every timestamp after alignment so none is negative.
        public var shift: Int64
        /// Messages whose steps still go backwards in time (empty unless clocks drift).
        public var backwardFlows: [FlowID]
        /// Ordered pairs of inputs that exchanged messages, with the smallest apparent delay.
        public var minimumDelays: [Pair: Int64]
    }

    /// An ordered pair of input indices: messages from `from` to `to`.
    public struct Pair: Hashable, Sendable, Comparable {
        public var from: Int
        public var to: Int
        public static func < (a: Pair, b: Pair) -> Bool { (a.from, a.to) < (b.from, b.to) }
    }

    /// Aligns and merges `inputs`; input `reference` keeps its clock.
    public static func merge(_ inputs: [[TraceEvent]], reference: Int = 0) -> Result {
        precondition(inputs.isEmpty || inputs.indices.contains(reference), "TraceMerge reference \(reference) is not an input index")
        let delays = minimumDelays(inputs)
        var offsets = [Int64](repeating: 0, count: inputs.count)
        var known = Set<Int>()
        if !inputs.isEmpty {
            known.insert(reference)
            var queue = [reference]
            while let domain = queue.first {
                queue.removeFirst()
                for other in inputs.indices where !known.contains(other) {
                    let out = delays[Pair(from: domain, to: other)]
                    let back = delays[Pair(from: other, to: domain)]
                    guard out != nil || back != nil else { continue }
                    let difference: Int64  // offset(other) − offset(domain)
                    if let out, let back {
                        difference = (out - back) / 2
                    } else if let out {
                        difference = out
                    } else {
                        difference = -back!
                    }
                    offsets[other] = offsets[domain] + difference
                    known.insert(other)
                    queue.append(other)
                }
            }
        }
        // Tighten: offset(to) − offset(from) ≤ delay(from→to) for every pair (Bellman–Ford).
        let pairs = delays.keys.sorted()
        for _ in 0..<max(1, inputs.count * inputs.count) {
            var changed = false
            for pair in pairs {
                let limit = delays[pair]!
                if offsets[pair.to] - offsets[pair.from] > limit {
                    if pair.to != reference {
                        offsets[pair.to] = offsets[pair.from] + limit
                    } else {
                        offsets[pair.from] = offsets[pair.to] - limit
                    }
                    changed = true
                }
            }
            if !changed { break }
        }
        var minimum: Int64 = 0
        for (domain, events) in inputs.enumerated() {
            if let first = events.map(\.timestamp.nanoseconds).min() {
                minimum = min(minimum, Int64(first) - offsets[domain])
            }
        }
        let shift = -minimum
        var stamped: [(event: TraceEvent, domain: Int, index: Int)] = []
        for (domain, events) in inputs.enumerated() {
            for (index, event) in events.enumerated() {
                var moved = event
                moved.timestamp = Instant(nanoseconds: UInt64(Int64(event.timestamp.nanoseconds) - offsets[domain] + shift))
                stamped.append((moved, domain, index))
            }
        }
        stamped.sort { ($0.event.timestamp, $0.domain, $0.index) < ($1.event.timestamp, $1.domain, $1.index) }
        let events = stamped.map(\.event)
        return Result(events: events, offsets: offsets, shift: shift, backwardFlows: backwardFlows(in: events), minimumDelays: delays)
    }

    /// The smallest apparent delay of messages between each ordered pair of inputs.
    public static func minimumDelays(_ inputs: [[TraceEvent]]) -> [Pair: Int64] {
        var steps: [FlowID: [(rank: UInt8, domain: Int, time: Int64)]] = [:]
        for (domain, events) in inputs.enumerated() {
            for event in events {
                if case .flow(let id, let step) = event.kind {
                    steps[id, default: []].append((step.rawValue, domain, Int64(event.timestamp.nanoseconds)))
                }
            }
        }
        var delays: [Pair: Int64] = [:]
        for list in steps.values {
            let ordered = list.sorted { $0.rank < $1.rank }
            for (a, b) in zip(ordered, ordered.dropFirst()) where a.domain != b.domain {
                let pair = Pair(from: a.domain, to: b.domain)
                delays[pair] = min(delays[pair] ?? .max, b.time - a.time)
            }
        }
        return delays
    }

    /// Messages with a step earlier in time than the step before it (send ≤ receive ≤
    /// handler begin ≤ handler end must hold).
    public static func backwardFlows(in events: [TraceEvent]) -> [FlowID] {
        var steps: [FlowID: [(rank: UInt8, time: UInt64)]] = [:]
        for event in events {
            if case .flow(let id, let step) = event.kind { steps[id, default: []].append((step.rawValue, event.timestamp.nanoseconds)) }
        }
        var backward: [FlowID] = []
        for (id, list) in steps {
            let ordered = list.sorted { $0.rank < $1.rank }
            if zip(ordered, ordered.dropFirst()).contains(where: { $1.time < $0.time }) { backward.append(id) }
        }
        return backward.sorted()
    }
}

public import DeepseekTracing

/// What a run did, computed from its events: per-actor busy time, the critical path through
/// the message dependency graph, the slowest operators, message latencies, and how much
/// communication was not hidden behind computation.
///
/// ```swift
/// let summary = TraceSummary(try TraceReader.read(path: "run.json").events)
/// print(summary.text)
/// ```
public struct TraceSummary: Sendable {
    /// Busy time of one track (actor).
    public struct TrackUsage: Sendable, Hashable {
        public var track: TraceTrack
        /// Time covered by at least one slice on the track.
        public var busy: UInt64
        /// `busy` over the trace's duration.
        public var fraction: Double
        public var slices: Int
    }

    /// Time spent in slices of one name.
    public struct Operator: Sendable, Hashable {
        public var name: String
        public var count: Int
        public var total: UInt64
        public var maximum: UInt64
        public var mean: UInt64 { count == 0 ? 0 : total / UInt64(count) }
    }

    /// One bucket of the latency histogram: messages whose latency is below `upperBound`
    /// (and at least the previous bucket's bound).
    public struct Bucket: Sendable, Hashable {
        public var upperBound: UInt64
        public var count: Int
    }

    /// Computation against communication, summed over nodes.
    public struct Overlap: Sendable, Hashable {
        /// Time some slice computed (kernels, handlers, complete spans), per node, summed.
        public var compute: UInt64
        /// Time a transfer or an in-flight message was under way, per node, summed.
        public var communication: UInt64
        /// Communication time with no computation on the same node.
        public var exposedCommunication: UInt64
    }

    /// The trace's duration, first event to last end.
    public var duration: UInt64
    public var eventCount: Int
    public var messageCount: Int
    public var tracks: [TrackUsage]
    /// The critical path, earliest first.
    public var criticalPath: CriticalPath
    /// Operators by total time, longest first (at most `operatorLimit`).
    public var slowestOperators: [Operator]
    /// Send-to-receive latency (send-to-handler when a message has no receive step).
    public var latencyHistogram: [Bucket]
    /// Median and 99th percentile of the message latency.
    public var latencyMedian: UInt64
    public var latency99: UInt64
    public var overlap: Overlap

    /// How many operators `slowestOperators` keeps.
    public static let operatorLimit = 15

    /// Summarises `events`.
    public init(_ events: [TraceEvent]) {
        self.init(index: TraceIndex(events))
    }

    /// Summarises an index built earlier.
    public init(index: TraceIndex) {
        duration = index.end - index.start
        eventCount = index.eventCount
        messageCount = index.messages.count
        var perTrack: [[(UInt64, UInt64)]] = Array(repeating: [], count: index.tracks.count)
        var operators: [String: Operator] = [:]
        for slice in index.slices where slice.end > slice.start {
            perTrack[slice.track].append((slice.start, slice.end))
            var entry = operators[slice.name] ?? Operator(name: slice.name, count: 0, total: 0, maximum: 0)
            entry.count += 1
            entry.total += slice.duration
            entry.maximum = max(entry.maximum, slice.duration)
            operators[slice.name] = entry
        }
        let span = max(duration, 1)
        tracks = index.tracks.indices.map { track in
            let busy = TraceIndex.unionLength(perTrack[track])
            return TrackUsage(
                track: index.tracks[track], busy: busy, fraction: Double(busy) / Double(span), slices: perTrack[track].count)
        }
        slowestOperators = Array(
            operators.values.sorted { ($1.total, $0.name) < ($0.total, $1.name) }.prefix(Self.operatorLimit))
        var latencies: [UInt64] = []
        for message in index.messages {
            guard let send = message.send, let arrival = message.receive ?? message.handlerBegin else { continue }
            latencies.append(arrival.time >= send.time ? arrival.time - send.time : 0)
        }
        latencies.sort()
        latencyMedian = latencies.isEmpty ? 0 : latencies[latencies.count / 2]
        latency99 = latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        var buckets: [Bucket] = []
        var bound: UInt64 = 1_000
        var position = 0
        while position < latencies.count {
            var count = 0
            while position < latencies.count && latencies[position] < bound {
                count += 1
                position += 1
            }
            buckets.append(Bucket(upperBound: bound, count: count))
            bound *= 2
        }
        while buckets.first?.count == 0 { buckets.removeFirst() }
        latencyHistogram = buckets
        overlap = Self.overlap(index)
        criticalPath = CriticalPath(index)
    }

    static func overlap(_ index: TraceIndex) -> Overlap {
        var compute: [UInt32: [(UInt64, UInt64)]] = [:]
        var communication: [UInt32: [(UInt64, UInt64)]] = [:]
        for slice in index.slices where slice.end > slice.start && slice.depth == 0 || slice.kind == .transfer {
            let node = index.tracks[slice.track].node
            if slice.kind == .transfer {
                communication[node, default: []].append((slice.start, slice.end))
            } else if slice.category != TraceCategory.transport.name {
                compute[node, default: []].append((slice.start, slice.end))
            }
        }
        for message in index.messages {
            guard let send = message.send, let arrival = message.receive ?? message.handlerBegin, arrival.time > send.time else { continue }
            // The message is in flight on both ends; count it once, on the receiving node.
            communication[index.tracks[arrival.track].node, default: []].append((send.time, arrival.time))
        }
        var result = Overlap(compute: 0, communication: 0, exposedCommunication: 0)
        for node in Set(compute.keys).union(communication.keys) {
            let busy = compute[node] ?? []
            let comm = communication[node] ?? []
            let computeTime = TraceIndex.unionLength(busy)
            let commTime = TraceIndex.unionLength(comm)
            let both = TraceIndex.unionLength(busy + comm)
            result.compute += computeTime
            result.communication += commTime
            result.exposedCommunication += both - computeTime
        }
        return result
    }
}

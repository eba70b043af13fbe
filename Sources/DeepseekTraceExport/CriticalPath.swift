/// The chain of work and messages that decided when the run ended: walking back from the
/// slice that ended last, each step goes to whatever became ready last — the previous slice on
/// the same track, or, for a message handler, the slice that sent the message.
public struct CriticalPath: Sendable, Hashable {
    /// One step of the path, in time order.
    public struct Step: Sendable, Hashable {
        /// Work on a track, or a message between two tracks.
        public enum Kind: Sendable, Hashable { case work, message }
        public var kind: Kind
        /// The track label (for messages: `"sender → receiver"`).
        public var place: String
        public var name: String
        public var start: UInt64
        public var end: UInt64
    }

    /// The steps, earliest first.
    public var steps: [Step]
    /// From the start of the first step to the end of the last.
    public var length: UInt64 { (steps.last?.end ?? 0) - (steps.first?.start ?? 0) }
    /// Time spent in work steps on the path.
    public var work: UInt64 { steps.filter { $0.kind == .work }.reduce(0) { $0 + ($1.end - $1.start) } }

    /// Computes the critical path of an indexed trace.
    public init(_ index: TraceIndex) {
        // Top-level slices per track, by start; the path moves between these.
        var lanes: [[Int]] = Array(repeating: [], count: index.tracks.count)
        for (position, slice) in index.slices.enumerated() where slice.depth == 0 && slice.kind != .transfer {
            lanes[slice.track].append(position)
        }
        let byFlow = Dictionary(index.messages.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        guard var current = index.slices.indices.filter({ index.slices[$0].depth == 0 }).max(by: {
            (index.slices[$0].end, $1) < (index.slices[$1].end, $0)
        }) else {
            steps = []
            return
        }
        var reversed: [Step] = []
        var visited = Set<Int>()
        var cutoff = index.slices[current].end
        while visited.insert(current).inserted {
            let slice = index.slices[current]
            reversed.append(
                Step(kind: .work, place: index.label(slice.track), name: slice.name, start: slice.start,
                     end: min(max(cutoff, slice.start), slice.end)))
            // Candidate 1: the message this handler ran for.
            var viaMessage: (time: UInt64, track: Int, message: TraceIndex.Message)?
            if case .handler(let id) = slice.kind, let message = byFlow[id], let send = message.send, send.time <= slice.start {
                viaMessage = (send.time, send.track, message)
            }
            // Candidate 2: the previous top-level slice on the same track.
            let lane = lanes[slice.track]
            var previous: Int?
            if let position = lane.lastIndex(where: { index.slices[$0].end <= slice.start && $0 != current }) {
                previous = lane[position]
            }
            let previousEnd = previous.map { index.slices[$0].end }
            if let via = viaMessage, via.time >= (previousEnd ?? 0) {
                let arrival = via.message.receive?.time ?? slice.start
                reversed.append(
                    Step(kind: .message, place: "\(index.label(via.track)) → \(index.label(slice.track))",
                         name: via.message.name, start: via.time, end: max(via.time, min(arrival, slice.start))))
                let senderLane = lanes[via.track]
                let enclosing = senderLane.last { index.slices[$0].start <= via.time && index.slices[$0].end >= via.time }
                let before = senderLane.last { index.slices[$0].end <= via.time }
                guard let next = enclosing ?? before else { break }
                current = next
                cutoff = via.time
            } else if let previous {
                current = previous
                cutoff = index.slices[previous].end
            } else {
                break
            }
        }
        steps = reversed.reversed()
    }
}

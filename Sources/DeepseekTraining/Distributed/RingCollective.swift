/// Ring all-reduce, reduce-scatter and all-gather over a flat `Float` buffer, for one rank.
///
/// The buffer is cut into one chunk per ring member (`ChunkLayout`). With `n` members the
/// reduce-scatter takes `n − 1` steps: at step `k` member `p` sends chunk `p − k − 1` to its
/// successor and adds the chunk `p − k − 2` it receives from its predecessor into its own copy;
/// afterwards member `p` holds the complete sum of chunk `p`. The all-gather takes `n − 1` more
/// steps, forwarding each complete chunk around the ring. Each member sends and receives
/// `2(n − 1)/n` of the buffer — the bandwidth-optimal schedule.
///
/// Chunk `c` is summed in one fixed order, `x[c+1] + x[c+2] + … + x[c]` (ring order starting
/// after its owner), and only its owner computes it; everyone else receives those exact bits.
/// Replicas are therefore bit-identical whatever the timing. With a 16-bit `precision` values are
/// rounded before every send, and the owner rounds its own complete chunk too.
///
/// ```swift
/// var ring = RingCollective(.allReduce, members: [0, 1, 2, 3], position: 1, buffer: gradient, tag: 7)
/// var out = try ring.start()                  // send these
/// out = try ring.receive(message)             // for every message that arrives
/// if ring.isFinished { use(ring.buffer) }
/// ```
public struct RingCollective: CollectiveStateMachine {
    /// Which ring collective this is.
    public enum Kind: Sendable, Hashable {
        /// Every member ends with the sum of all buffers.
        case allReduce
        /// Member `p` ends with the sum of chunk `p` (`ownChunk`); the rest of its buffer is scratch.
        case reduceScatter
        /// Member `p` contributes chunk `p` of its buffer; every member ends with all chunks.
        case allGather
    }

    public let kind: Kind
    /// The group ranks in ring order.
    public let members: [Int]
    /// This rank's index in `members`.
    public let position: Int
    public let layout: ChunkLayout
    public let precision: WirePrecision
    public let tag: UInt64
    public let phase: UInt8
    /// The data: input before `start`, the result once finished (see `Kind`).
    public private(set) var buffer: [Float]

    let firstStep: Int
    let endStep: Int
    var nextStep: Int
    var started = false
    var early: [Int: CollectiveMessage] = [:]

    /// - Parameters:
    ///   - members: group ranks in ring order (this rank's successor is the next entry).
    ///   - layout: the chunking; balanced over `members.count` parts when `nil`.
    public init(
        _ kind: Kind, members: [Int], position: Int, buffer: [Float], layout: ChunkLayout? = nil, precision: WirePrecision = .fp32,
        tag: UInt64, phase: UInt8 = 0
    ) {
        precondition(!members.isEmpty && members.indices.contains(position), "RingCollective: position \(position) is not in a ring of \(members.count)")
        let layout = layout ?? ChunkLayout(count: buffer.count, parts: members.count)
        precondition(layout.parts == members.count && layout.count == buffer.count, "RingCollective: \(layout) does not fit \(members.count) members and \(buffer.count) values")
        self.kind = kind
        self.members = members
        self.position = position
        self.layout = layout
        self.precision = precision
        self.tag = tag
        self.phase = phase
        self.buffer = buffer
        let n = members.count
        switch kind {
        case .allReduce: (firstStep, endStep) = (0, 2 * (n - 1))
        case .reduceScatter: (firstStep, endStep) = (0, n - 1)
        case .allGather: (firstStep, endStep) = (n - 1, 2 * (n - 1))
        }
        nextStep = firstStep
    }

    var n: Int { members.count }
    public var isFinished: Bool { started && nextStep == endStep }
    public var awaitedRanks: [Int] { isFinished ? [] : [members[wrap(position - 1, n)]] }
    /// The chunk this member completes (reduce-scatter) or contributes (all-gather).
    public var ownChunk: Range<Int> { layout.range(position) }

    /// The chunk member `p` sends at step `k`; it receives chunk `sendChunk(k) − 1` at that step.
    func sendChunk(_ k: Int, of p: Int) -> Int { k < n - 1 ? wrap(p - k - 1, n) : wrap(p - (k - (n - 1)), n) }

    public mutating func start() throws(CollectiveError) -> [CollectiveDirective] {
        guard !started else { throw violation("started twice") }
        started = true
        var out: [CollectiveDirective] = []
        if firstStep == n - 1 { roundOwnChunk() }
        if firstStep < endStep { out.append(send(step: firstStep)) }
        try drain(into: &out)
        if isFinished {
            if kind == .allReduce && n == 1 { roundOwnChunk() }
            out.append(.finished)
        }
        return out
    }

    public mutating func receive(_ message: CollectiveMessage) throws(CollectiveError) -> [CollectiveDirective] {
        let k = Int(message.step)
        guard message.tag == tag, message.phase == phase else { throw violation("message for tag \(message.tag) phase \(message.phase)") }
        guard k >= firstStep && k < endStep else { throw violation("step \(k) is outside \(firstStep)..<\(endStep)") }
        let predecessor = members[wrap(position - 1, n)]
        guard Int(message.source) == predecessor else {
            throw violation("step \(k) came from rank \(message.source), expected the predecessor \(predecessor)", rank: Int(message.source))
        }
        guard k >= nextStep && early[k] == nil else { throw violation("step \(k) arrived twice", rank: predecessor) }
        early[k] = message
        guard started else { return [] }
        var out: [CollectiveDirective] = []
        try drain(into: &out)
        if isFinished { out.append(.finished) }
        return out
    }

    /// Applies every kept message whose turn has come, sending what each step leads to.
    mutating func drain(into out: inout [CollectiveDirective]) throws(CollectiveError) {
        while let message = early.removeValue(forKey: nextStep) {
            let k = nextStep
            let chunk = wrap(sendChunk(k, of: position) - 1, n)
            let range = layout.range(chunk)
            guard case .dense(let block, _) = message.payload, block.count == range.count else {
                throw violation("step \(k) carries \(message.payload.valueCount) values; chunk \(chunk) has \(range.count)", rank: Int(message.source))
            }
            let reducing = k < n - 1
            buffer.withUnsafeMutableBufferPointer { b in
                block.withUnsafeBufferPointer { incoming in
                    if reducing {
                        for i in 0..<range.count { b[range.lowerBound + i] = incoming[i] + b[range.lowerBound + i] }
                    } else {
                        for i in 0..<range.count { b[range.lowerBound + i] = incoming[i] }
                    }
                }
            }
            nextStep += 1
            if nextStep == n - 1 && kind == .allReduce { roundOwnChunk() }
            if nextStep < endStep { out.append(send(step: nextStep)) }
        }
    }

    /// The owner rounds its complete chunk before sharing it, so it keeps what the others get.
    mutating func roundOwnChunk() {
        guard precision != .fp32 else { return }
        let range = layout.range(position)
        let p = precision
        buffer.withUnsafeMutableBufferPointer { b in
            for i in range { b[i] = p.round(b[i]) }
        }
    }

    func send(step k: Int) -> CollectiveDirective {
        let range = layout.range(sendChunk(k, of: position))
        let p = precision
        let block = buffer.withUnsafeBufferPointer { b in
            FloatBlock(copying: UnsafeBufferPointer(rebasing: b[range]), rounding: p)
        }
        let message = CollectiveMessage(tag: tag, phase: phase, step: k, source: members[position], payload: .dense(block, precision: p))
        return .send(message, to: members[wrap(position + 1, n)])
    }

    func violation(_ what: String, rank: Int? = nil) -> CollectiveError {
        CollectiveError(.protocolViolation, "\(kind) #\(tag) on rank \(members[position]): \(what)", rank: rank)
    }
}

/// Binomial-tree broadcast of a buffer from a root, for one rank.
///
/// Relative to the root, member `p` receives from `p` with its highest bit cleared and forwards
/// to `p + 2ᵏ` for every `2ᵏ` above its highest bit — `⌈log₂ n⌉` rounds; the largest subtree is
/// served first. The root rounds the buffer to the wire precision, so all members hold its bits.
public struct TreeBroadcast: CollectiveStateMachine {
    public let members: [Int]
    public let position: Int
    public let root: Int
    public let precision: WirePrecision
    public let tag: UInt64
    public let phase: UInt8
    /// The root's buffer (the input on the root; the result everywhere once finished).
    public private(set) var buffer: [Float]?
    var started = false
    var early: CollectiveMessage?

    /// - Parameters:
    ///   - root: the position in `members` of the member whose buffer is broadcast.
    ///   - buffer: the data on the root; ignored elsewhere.
    public init(members: [Int], position: Int, root: Int, buffer: [Float]?, precision: WirePrecision = .fp32, tag: UInt64, phase: UInt8 = 0) {
        precondition(members.indices.contains(position) && members.indices.contains(root), "TreeBroadcast: position or root outside the group")
        precondition(position != root || buffer != nil, "TreeBroadcast: the root needs a buffer")
        self.members = members
        self.position = position
        self.root = root
        self.precision = precision
        self.tag = tag
        self.phase = phase
        if position == root, var b = buffer {
            precision.round(&b)
            self.buffer = b
        } else {
            self.buffer = nil
        }
    }

    var relative: Int { wrap(position - root, members.count) }
    public var isFinished: Bool { started && buffer != nil }
    public var awaitedRanks: [Int] { isFinished ? [] : [members[wrap(parent + root, members.count)]] }

    var parent: Int {
        let r = relative
        return r == 0 ? 0 : r - (1 << (Int.bitWidth - 1 - r.leadingZeroBitCount))
    }

    /// Relative positions of the children, largest subtree first.
    var children: [Int] {
        let r = relative
        var mask = r == 0 ? 1 : 1 << (Int.bitWidth - r.leadingZeroBitCount)
        var out: [Int] = []
        while r + mask < members.count {
            out.append(r + mask)
            mask <<= 1
        }
        return out.reversed()
    }

    public mutating func start() throws(CollectiveError) -> [CollectiveDirective] {
        guard !started else { throw CollectiveError(.protocolViolation, "broadcast #\(tag) started twice") }
        started = true
        if let m = early {
            early = nil
            return try receive(m)
        }
        return buffer == nil ? [] : forward()
    }

    public mutating func receive(_ message: CollectiveMessage) throws(CollectiveError) -> [CollectiveDirective] {
        let expected = members[wrap(parent + root, members.count)]
        guard relative != 0, message.tag == tag, message.step == 0, Int(message.source) == expected, buffer == nil, early == nil else {
            throw CollectiveError(
                .protocolViolation, "broadcast #\(tag) on rank \(members[position]): unexpected message from rank \(message.source) (expected one from \(expected))",
                rank: Int(message.source))
        }
        guard started else {
            early = message
            return []
        }
        guard case .dense(let block, _) = message.payload else {
            throw CollectiveError(.protocolViolation, "broadcast #\(tag): rank \(message.source) sent no values", rank: Int(message.source))
        }
        buffer = block.values
        return forward()
    }

    func forward() -> [CollectiveDirective] {
        guard let buffer else { return [] }
        let block = FloatBlock(buffer)
        var out: [CollectiveDirective] = children.map { child in
            .send(
                CollectiveMessage(tag: tag, phase: phase, step: 0, source: members[position], payload: .dense(block, precision: precision)),
                to: members[wrap(child + root, members.count)])
        }
        out.append(.finished)
        return out
    }
}

/// A dissemination barrier: in round `k` each member signals `p + 2ᵏ` and waits for `p − 2ᵏ`;
/// after `⌈log₂ n⌉` rounds every member has (transitively) heard from every other.
public struct DisseminationBarrier: CollectiveStateMachine {
    public let members: [Int]
    public let position: Int
    public let tag: UInt64
    var round = 0
    var started = false
    var early: Set<Int> = []

    public init(members: [Int], position: Int, tag: UInt64) {
        precondition(members.indices.contains(position), "DisseminationBarrier: position outside the group")
        self.members = members
        self.position = position
        self.tag = tag
    }

    var rounds: Int { members.count <= 1 ? 0 : Int.bitWidth - (members.count - 1).leadingZeroBitCount }
    public var isFinished: Bool { started && round == rounds }
    public var awaitedRanks: [Int] { isFinished ? [] : [members[wrap(position - (1 << round), members.count)]] }

    public mutating func start() throws(CollectiveError) -> [CollectiveDirective] {
        guard !started else { throw CollectiveError(.protocolViolation, "barrier #\(tag) started twice") }
        started = true
        if rounds == 0 { return [.finished] }
        return [signal()] + advance()
    }

    public mutating func receive(_ message: CollectiveMessage) throws(CollectiveError) -> [CollectiveDirective] {
        let k = Int(message.step)
        guard message.tag == tag, k < rounds, k >= round || !started, !early.contains(k),
            Int(message.source) == members[wrap(position - (1 << k), members.count)]
        else {
            throw CollectiveError(.protocolViolation, "barrier #\(tag) on rank \(members[position]): unexpected round \(k) from rank \(message.source)", rank: Int(message.source))
        }
        early.insert(k)
        return started ? advance() : []
    }

    mutating func advance() -> [CollectiveDirective] {
        var out: [CollectiveDirective] = []
        while early.remove(round) != nil {
            round += 1
            out.append(round < rounds ? signal() : .finished)
        }
        return out
    }

    func signal() -> CollectiveDirective {
        .send(
            CollectiveMessage(tag: tag, step: round, source: members[position], payload: .empty),
            to: members[wrap(position + (1 << round), members.count)])
    }
}

/// Ring all-gather of one sparse gradient per member (sizes differ), then their sum added in
/// member order — the same additions in the same order on every member, so sums are identical.
public struct SparseAllGather: CollectiveStateMachine {
    public let members: [Int]
    public let position: Int
    public let tag: UInt64
    public let phase: UInt8
    /// Each member's sparse gradient, by position (complete once finished).
    public private(set) var items: [SparseGradient?]
    var nextStep = 0
    var started = false
    var early: [Int: CollectiveMessage] = [:]

    public init(members: [Int], position: Int, local: SparseGradient, tag: UInt64, phase: UInt8 = 0) {
        precondition(members.indices.contains(position), "SparseAllGather: position outside the group")
        self.members = members
        self.position = position
        self.tag = tag
        self.phase = phase
        items = Array(repeating: nil, count: members.count)
        items[position] = local
    }

    var n: Int { members.count }
    public var isFinished: Bool { started && nextStep == n - 1 }
    public var awaitedRanks: [Int] { isFinished ? [] : [members[wrap(position - 1, n)]] }

    /// The dense sum of every member's gradient, added in member order.
    public var sum: [Float] {
        let count = items[position]!.count
        var dense = [Float](repeating: 0, count: count)
        for item in items { item?.add(into: &dense) }
        return dense
    }

    public mutating func start() throws(CollectiveError) -> [CollectiveDirective] {
        guard !started else { throw CollectiveError(.protocolViolation, "sparse all-gather #\(tag) started twice") }
        started = true
        var out: [CollectiveDirective] = n > 1 ? [send(step: 0)] : []
        try drain(into: &out)
        if isFinished { out.append(.finished) }
        return out
    }

    public mutating func receive(_ message: CollectiveMessage) throws(CollectiveError) -> [CollectiveDirective] {
        let k = Int(message.step)
        let predecessor = members[wrap(position - 1, n)]
        guard message.tag == tag, message.phase == phase, k >= nextStep, k < n - 1, early[k] == nil, Int(message.source) == predecessor else {
            throw CollectiveError(.protocolViolation, "sparse all-gather #\(tag) on rank \(members[position]): unexpected step \(k) from rank \(message.source)", rank: Int(message.source))
        }
        early[k] = message
        guard started else { return [] }
        var out: [CollectiveDirective] = []
        try drain(into: &out)
        if isFinished { out.append(.finished) }
        return out
    }

    mutating func drain(into out: inout [CollectiveDirective]) throws(CollectiveError) {
        let expectedCount = items[position]!.count
        while let m = early.removeValue(forKey: nextStep) {
            guard case .sparse(let s) = m.payload, s.count == expectedCount else {
                throw CollectiveError(.protocolViolation, "sparse all-gather #\(tag): rank \(m.source) sent a payload that is not a sparse gradient of \(expectedCount)", rank: Int(m.source))
            }
            items[wrap(position - nextStep - 1, n)] = s
            nextStep += 1
            if nextStep < n - 1 { out.append(send(step: nextStep)) }
        }
    }

    func send(step k: Int) -> CollectiveDirective {
        let item = items[wrap(position - k, n)]!
        return .send(CollectiveMessage(tag: tag, phase: phase, step: k, source: members[position], payload: .sparse(item)), to: members[wrap(position + 1, n)])
    }
}

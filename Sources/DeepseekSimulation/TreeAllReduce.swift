import DeepseekTraining

/// Binomial-tree all-reduce for one rank: a tree reduce to the first member, then the runtime's
/// `TreeBroadcast` of the sum (`⌈log₂ n⌉` rounds each way, the whole buffer on every hop).
///
/// The runtime has a tree broadcast but no tree reduce; this is the reduce half, written as a
/// `CollectiveStateMachine` in the same style (events in, directives out; children's
/// contributions are added in a fixed order, so every rank ends with the same bits). It lives in
/// the simulator so the ring / tree / hierarchical comparison runs three real state machines.
public struct TreeAllReduce: CollectiveStateMachine {
    public let members: [Int]
    public let position: Int
    public let tag: UInt64
    public private(set) var buffer: [Float]
    var pending: [Int: [Float]] = [:]
    var reduced = false
    var started = false
    var broadcast: TreeBroadcast?
    var earlyBroadcast: CollectiveMessage?

    public init(members: [Int], position: Int, buffer: [Float], tag: UInt64) {
        precondition(members.indices.contains(position), "TreeAllReduce: position outside the group")
        (self.members, self.position, self.buffer, self.tag) = (members, position, buffer, tag)
    }

    var n: Int { members.count }
    /// Relative positions of the children (root 0), largest subtree first, as `TreeBroadcast` has them.
    var children: [Int] {
        let r = position
        var mask = r == 0 ? 1 : 1 << (Int.bitWidth - r.leadingZeroBitCount)
        var out: [Int] = []
        while r + mask < n {
            out.append(r + mask)
            mask <<= 1
        }
        return out
    }
    var parent: Int { position == 0 ? 0 : position - (1 << (Int.bitWidth - 1 - position.leadingZeroBitCount)) }

    public var isFinished: Bool { broadcast?.isFinished ?? false }
    public var awaitedRanks: [Int] {
        if !reduced { return children.filter { pending[$0] == nil }.map { members[$0] } }
        return broadcast?.awaitedRanks ?? []
    }

    public mutating func start() throws(CollectiveError) -> [CollectiveDirective] {
        guard !started else { throw CollectiveError(.protocolViolation, "tree all-reduce #\(tag) started twice") }
        started = true
        return try advance()
    }

    public mutating func receive(_ message: CollectiveMessage) throws(CollectiveError) -> [CollectiveDirective] {
        guard message.tag == tag else { throw CollectiveError(.protocolViolation, "tree all-reduce #\(tag): message for tag \(message.tag)") }
        if message.phase == 1 {
            guard var b = broadcast else {
                earlyBroadcast = message
                return []
            }
            let out = try b.receive(message)
            broadcast = b
            return out
        }
        guard let child = members.firstIndex(of: Int(message.source)), children.contains(child), pending[child] == nil,
            case .dense(let block, _) = message.payload, block.count == buffer.count
        else {
            throw CollectiveError(.protocolViolation, "tree all-reduce #\(tag) on rank \(members[position]): unexpected reduce message from rank \(message.source)", rank: Int(message.source))
        }
        pending[child] = block.values
        return started ? try advance() : []
    }

    mutating func advance() throws(CollectiveError) -> [CollectiveDirective] {
        guard !reduced, children.allSatisfy({ pending[$0] != nil }) else { return [] }
        for c in children.reversed() {
            let incoming = pending[c]!
            for i in buffer.indices { buffer[i] += incoming[i] }
        }
        pending = [:]
        reduced = true
        var out: [CollectiveDirective] = []
        if position != 0 {
            out.append(.send(CollectiveMessage(tag: tag, phase: 0, step: 0, source: members[position], payload: .dense(FloatBlock(buffer), precision: .fp32)), to: members[parent]))
        }
        var b = TreeBroadcast(members: members, position: position, root: 0, buffer: position == 0 ? buffer : nil, tag: tag, phase: 1)
        out += try b.start()
        if let m = earlyBroadcast {
            earlyBroadcast = nil
            out += try b.receive(m)
        }
        broadcast = b
        if let result = b.buffer, b.isFinished { buffer = result }
        return out
    }
}

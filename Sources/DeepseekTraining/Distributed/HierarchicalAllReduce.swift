/// All-reduce in two levels: within each node's devices first, then across nodes.
///
/// Group ranks are numbered node-major (`rank = node × devicesPerNode + local`). Three phases,
/// each a `RingCollective`:
/// 1. reduce-scatter among the devices of a node (fast links): local device `l` ends with the
///    node's sum of chunk `l`;
/// 2. all-reduce of chunk `l` among the devices with the same `l` on every node (slow links
///    carry only `1/devicesPerNode` of the buffer per device);
/// 3. all-gather among the devices of a node.
/// Every phase has a fixed reduction order and owner-computed results, so all ranks end with
/// identical bits.
public struct HierarchicalAllReduce: CollectiveStateMachine {
    public let rank: Int
    public let devicesPerNode: Int
    public let nodes: Int
    public let precision: WirePrecision
    public let tag: UInt64
    /// The input before start; the sum once finished.
    public private(set) var buffer: [Float]
    var phase: UInt8 = 0
    var ring: RingCollective?
    var early: [UInt8: [CollectiveMessage]] = [:]
    var started = false
    let intraLayout: ChunkLayout

    /// - Parameter worldSize: must be a multiple of `devicesPerNode`.
    public init(rank: Int, worldSize: Int, devicesPerNode: Int, buffer: [Float], precision: WirePrecision = .fp32, tag: UInt64) {
        precondition(devicesPerNode >= 1 && worldSize % devicesPerNode == 0, "HierarchicalAllReduce: \(worldSize) ranks do not split into nodes of \(devicesPerNode)")
        precondition(rank >= 0 && rank < worldSize, "HierarchicalAllReduce: rank \(rank) outside \(worldSize)")
        self.rank = rank
        self.devicesPerNode = devicesPerNode
        self.nodes = worldSize / devicesPerNode
        self.precision = precision
        self.tag = tag
        self.buffer = buffer
        self.intraLayout = ChunkLayout(count: buffer.count, parts: devicesPerNode)
    }

    var node: Int { rank / devicesPerNode }
    var local: Int { rank % devicesPerNode }
    var intraMembers: [Int] { (0..<devicesPerNode).map { node * devicesPerNode + $0 } }
    var interMembers: [Int] { (0..<nodes).map { $0 * devicesPerNode + local } }

    public var isFinished: Bool { started && phase == 3 }
    public var awaitedRanks: [Int] { ring?.awaitedRanks ?? [] }

    public mutating func start() throws(CollectiveError) -> [CollectiveDirective] {
        guard !started else { throw CollectiveError(.protocolViolation, "hierarchical all-reduce #\(tag) started twice") }
        started = true
        return try begin(RingCollective(.reduceScatter, members: intraMembers, position: local, buffer: buffer, layout: intraLayout, precision: precision, tag: tag, phase: 0))
    }

    public mutating func receive(_ message: CollectiveMessage) throws(CollectiveError) -> [CollectiveDirective] {
        guard message.tag == tag, message.phase < 3 else {
            throw CollectiveError(.protocolViolation, "hierarchical all-reduce #\(tag): message for phase \(message.phase)", rank: Int(message.source))
        }
        guard started, message.phase == phase, var current = ring else {
            guard !started || message.phase >= phase else {
                throw CollectiveError(.protocolViolation, "hierarchical all-reduce #\(tag): late message for finished phase \(message.phase)", rank: Int(message.source))
            }
            early[message.phase, default: []].append(message)
            return []
        }
        let out = try current.receive(message)
        ring = current
        return try advance(out)
    }

    /// Starts `next`, feeds it the messages that came early, and moves on when it finishes.
    mutating func begin(_ next: RingCollective) throws(CollectiveError) -> [CollectiveDirective] {
        var machine = next
        var out = try machine.start()
        for m in early.removeValue(forKey: phase) ?? [] { out += try machine.receive(m) }
        ring = machine
        return try advance(out)
    }

    mutating func advance(_ directives: [CollectiveDirective]) throws(CollectiveError) -> [CollectiveDirective] {
        var out = directives.filter { if case .finished = $0 { false } else { true } }
        guard let finished = ring, finished.isFinished else { return out }
        let own = intraLayout.range(local)
        switch phase {
        case 0:
            buffer = finished.buffer
            phase = 1
            out += try begin(RingCollective(.allReduce, members: interMembers, position: node, buffer: Array(buffer[own]), precision: precision, tag: tag, phase: 1))
        case 1:
            buffer.replaceSubrange(own, with: finished.buffer)
            phase = 2
            out += try begin(RingCollective(.allGather, members: intraMembers, position: local, buffer: buffer, layout: intraLayout, precision: precision, tag: tag, phase: 2))
        default:
            buffer = finished.buffer
            phase = 3
            ring = nil
            out.append(.finished)
        }
        return out
    }
}

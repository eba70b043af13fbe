import DeepseekTraining

/// One of the runtime's collective state machines, for one member of a simulated group.
enum MemberMachine {
    case ring(RingCollective)
    case hierarchical(HierarchicalAllReduce)
    case tree(TreeAllReduce)
    case sparse(SparseAllGather)

    mutating func start() throws(CollectiveError) -> [CollectiveDirective] {
        switch self {
        case .ring(var m): defer { self = .ring(m) }; return try m.start()
        case .hierarchical(var m): defer { self = .hierarchical(m) }; return try m.start()
        case .tree(var m): defer { self = .tree(m) }; return try m.start()
        case .sparse(var m): defer { self = .sparse(m) }; return try m.start()
        }
    }

    mutating func receive(_ message: CollectiveMessage) throws(CollectiveError) -> [CollectiveDirective] {
        switch self {
        case .ring(var m): defer { self = .ring(m) }; return try m.receive(message)
        case .hierarchical(var m): defer { self = .hierarchical(m) }; return try m.receive(message)
        case .tree(var m): defer { self = .tree(m) }; return try m.receive(message)
        case .sparse(var m): defer { self = .sparse(m) }; return try m.receive(message)
        }
    }

    var awaitedRanks: [Int] {
        switch self {
        case .ring(let m): m.awaitedRanks
        case .hierarchical(let m): m.awaitedRanks
        case .tree(let m): m.awaitedRanks
        case .sparse(let m): m.awaitedRanks
        }
    }
}

/// What a simulated collective does.
enum CollectiveOperation: String {
    case allReduce = "all-reduce"
    case reduceScatter = "reduce-scatter"
    case allGather = "all-gather"
    case sparseAllGather = "sparse all-gather"
}

/// A collective over a group of simulated devices, driven by the runtime's state machines.
///
/// The machines run on tiny buffers — one value per ring chunk — which gives the exact message
/// pattern of the real operation; each message's size on the simulated wire is its value count
/// times `bytesPerValue`, the real buffer's bytes divided by the tiny buffer's length. (The state
/// machines need `[Float]` buffers; real-sized ones of a 175B-parameter model would need
/// terabytes.)
struct CollectiveInstance {
    var name: String
    var operation: CollectiveOperation
    /// Device of each group rank.
    var devices: [Int]
    var machines: [MemberMachine]
    var bytesPerValue: Double
    /// The real payload in bytes (per rank) and the layer or bucket it belongs to.
    var payloadBytes: Double
    var bucket: Int
    var started: [Bool]
    var finishedAt: [Double?]
    var startedAt: [Double?]
    var finishedCount = 0
    var rankOfDevice: [Int: Int]
    /// Issued in order on each member's collective stream (`false`: started as soon as the
    /// member's compute ends, beside the stream, as the runtime's loss all-reduce is).
    var streamed = true

    init(name: String, operation: CollectiveOperation, algorithm: CollectiveAlgorithm, devices: [Int], devicesPerNode: Int, payloadBytes: Double, sparseBytes: Double?, bucket: Int, tag: UInt64) {
        let n = devices.count
        self.name = name
        self.operation = operation
        self.devices = devices
        self.payloadBytes = payloadBytes
        self.bucket = bucket
        started = Array(repeating: false, count: n)
        finishedAt = Array(repeating: nil, count: n)
        startedAt = Array(repeating: nil, count: n)
        rankOfDevice = Dictionary(uniqueKeysWithValues: devices.enumerated().map { ($1, $0) })
        let members = Array(0..<n)
        let tiny = [Float](repeating: 0, count: n)
        if let sparseBytes {
            bytesPerValue = sparseBytes
            let local = SparseGradient(count: 1, indices: [0], values: [0])
            machines = members.map { .sparse(SparseAllGather(members: members, position: $0, local: local, tag: tag)) }
            return
        }
        bytesPerValue = payloadBytes / Double(n)
        switch (operation, algorithm) {
        case (.reduceScatter, _):
            machines = members.map { .ring(RingCollective(.reduceScatter, members: members, position: $0, buffer: tiny, tag: tag)) }
        case (.allGather, _):
            machines = members.map { .ring(RingCollective(.allGather, members: members, position: $0, buffer: tiny, tag: tag)) }
        case (_, .hierarchical):
            // Group members per node, when the group is node-major and uniform; else a flat ring.
            let nodes = devices.map { $0 / devicesPerNode }
            let perNode = nodes.prefix { $0 == nodes[0] }.count
            let uniform = n % perNode == 0 && (0..<n).allSatisfy { nodes[$0] == nodes[($0 / perNode) * perNode] } && Set(nodes).count == n / perNode
            if uniform && perNode > 1 && perNode < n {
                machines = members.map { .hierarchical(HierarchicalAllReduce(rank: $0, worldSize: n, devicesPerNode: perNode, buffer: tiny, tag: tag)) }
            } else {
                machines = members.map { .ring(RingCollective(.allReduce, members: members, position: $0, buffer: tiny, tag: tag)) }
            }
        case (_, .tree):
            bytesPerValue = payloadBytes
            machines = members.map { .tree(TreeAllReduce(members: members, position: $0, buffer: [0], tag: tag)) }
        default:
            machines = members.map { .ring(RingCollective(.allReduce, members: members, position: $0, buffer: tiny, tag: tag)) }
        }
    }

    var isFinished: Bool { finishedCount == devices.count }
}

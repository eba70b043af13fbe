import DeepseekCore
import DeepseekTraining
import DeepseekTracing

/// One training iteration of a model on a simulated cluster, on virtual time.
///
/// Each pipeline stage of each data-parallel replica is a lane: the devices of one
/// tensor-parallel group, which run the same layers in lockstep. A lane runs its 1F1B program
/// layer by layer (each layer's time is the roofline sum of its graph nodes, split over the
/// tensor-parallel group, plus Megatron's two all-reduces per layer and pass), sends activations
/// and gradients to the neighbouring stages over the simulated network, and during the last
/// microbatch's backward pass hands each gradient bucket to the data-parallel collectives as
/// soon as its layers are done — so reduction overlaps the rest of the backward pass, and only
/// what is left when the lane's compute ends is exposed. Collectives are the runtime's state
/// machines, one per member device; their messages travel through `SimulatedTransport`.
///
/// ```swift
/// let result = try ClusterSimulation(configuration).run()
/// print(result.iterationSeconds, result.mfu)
/// ```
public final class ClusterSimulation {
    struct Lane {
        var stage: Int
        var replica: Int
        var devices: [Int]
        var layers: Range<Int>
        var program: [(forward: Bool, microbatch: Int)]
        var pc = 0
        var cursor = 0
        var running = false
        var waitingSince: Double? = 0
        var compute = 0.0
        var tensorComm = 0.0
        var pipelineWait = 0.0
        var computeEnd: Double?
        var optimizerStart: Double?
        var optimizerDone = false
        var end: Double?
        var crashAt: Double
        var crashed = false
        /// With shared cores: device spans of the running segment still computing, and when the
        /// segment (or the optimizer step) started.
        var pendingSpans = 0
        var segmentStart = 0.0
        var segmentName = ""
        var optimizerWall: Double?
    }

    static let kindLaneStep: UInt32 = 10, kindOptimizerDone: UInt32 = 11, kindCollectiveStart: UInt32 = 12

    public let configuration: ClusterConfiguration
    var queue: EventQueue
    let transport: SimulatedTransport
    var lanes: [Lane] = []
    var layerTimes: [(forward: Double, backward: Double)] = []
    var tensorAllReduceSeconds = 0.0
    var tensorSeconds: [Double] = []
    var zeroGatherSeconds: [Double] = []
    var p2pBytes = 0.0
    var received: [[Int]] = []  // [lane][microbatch * 2 + direction] arrivals
    var buckets: [[[Int]]] = []  // [stage] → buckets → layers (backward order)
    var bucketOfLayer: [Int] = []
    var collectives: [CollectiveInstance] = []
    var collectivesOfLane: [[Int]] = []
    var streams: [[Int]] = []  // per device: collective ids in issue order
    var streamHead: [Int] = []
    var ready: [Set<Int>] = []  // per device: collectives whose data is ready
    var inflight: [(instance: Int, message: CollectiveMessage)?] = []
    var freeInflight: [Int] = []
    var events: [TraceEvent] = []
    var flowSequence: UInt64 = 0
    var tracedMessages = 0
    /// Per source device: where the last message on each of its network rows ended (messages
    /// in flight at the same time go on rows of their own, as a timeline's slices may not overlap).
    var messageRowEnds: [Int: [UInt64]] = [:]
    var protocolErrors: [String] = []

    public init(_ configuration: ClusterConfiguration) throws(SimulationError) {
        try configuration.validate()
        self.configuration = configuration
        queue = EventQueue(seed: configuration.seed)
        transport = SimulatedTransport(network: NetworkModel(configuration.topology, computeParallelism: configuration.device.parallelism), faults: configuration.faults, seed: configuration.seed)
        setUp()
    }

    var layout: ParallelLayout { configuration.layout }
    var scale: Double { configuration.precision.bytes / 4 }

    /// The device of tensor rank `t` in stage `s` of replica `d`: tensor groups are consecutive
    /// devices (inside a node), replicas next, stages outermost.
    func device(replica d: Int, stage s: Int, tensor t: Int) -> Int { ((s * layout.dataParallel) + d) * layout.tensorParallel + t }
    func laneIndex(replica d: Int, stage s: Int) -> Int { s * layout.dataParallel + d }

    func setUp() {
        let c = configuration
        let (dp, tp, pp, m) = (layout.dataParallel, layout.tensorParallel, layout.pipelineParallel, layout.microbatches)
        layerTimes = c.workload.layerSeconds(on: c.device, precision: c.precision, ways: tp)
        let layerCount = c.workload.layers.count
        if tp > 1 {
            // Megatron's all-reduces carry the layer's output (the residual stream); memoised per size.
            var memo: [Double: Double] = [:]
            tensorSeconds = c.workload.layers.map { layer in
                let bytes = layer.boundaryBytes * self.scale
                guard bytes > 0 else { return 0 }
                if let t = memo[bytes] { return t }
                let t = Self.idleCollectiveSeconds(topology: c.topology, devices: Array(0..<tp), bytes: bytes, operation: .allReduce)
                memo[bytes] = t
                return t
            }
            tensorAllReduceSeconds = tensorSeconds.max() ?? 0
        }
        for s in 0..<pp {
            let layers = (s * layerCount / pp)..<((s + 1) * layerCount / pp)
            let warm = min(pp - s - 1, m)
            var program: [(Bool, Int)] = (0..<warm).map { (true, $0) }
            for i in 0..<(m - warm) { program += [(true, warm + i), (false, i)] }
            program += ((m - warm)..<m).map { (false, $0) }
            // Buckets: layers in backward order, merged until the bucket reaches the cap.
            var stageBuckets: [[Int]] = []
            var bytes = 0.0
            for layer in layers.reversed() {
                let g = Double(c.workload.layers[layer].parameters) * c.precision.bytes / Double(tp)
                if stageBuckets.isEmpty || bytes >= c.bucketBytes { stageBuckets.append([]); bytes = 0 }
                stageBuckets[stageBuckets.count - 1].append(layer)
                bytes += g
            }
            buckets.append(stageBuckets)
            for d in 0..<dp {
                let devices = (0..<tp).map { device(replica: d, stage: s, tensor: $0) }
                let crash = devices.map { c.faults.crashTime(of: c.topology.node(of: $0)) ?? .infinity }.min() ?? .infinity
                lanes.append(Lane(stage: s, replica: d, devices: devices, layers: layers, program: program.map { (forward: $0.0, microbatch: $0.1) }, crashAt: crash))
            }
        }
        lanes.sort { laneIndex(replica: $0.replica, stage: $0.stage) < laneIndex(replica: $1.replica, stage: $1.stage) }
        bucketOfLayer = [Int](repeating: -1, count: layerCount)
        for stageBuckets in buckets { for (b, layers) in stageBuckets.enumerated() { for l in layers { bucketOfLayer[l] = b } } }
        received = Array(repeating: Array(repeating: 0, count: 2 * m), count: lanes.count)
        collectivesOfLane = Array(repeating: [], count: lanes.count)
        streams = Array(repeating: [], count: c.topology.deviceCount)
        streamHead = Array(repeating: 0, count: c.topology.deviceCount)
        ready = Array(repeating: [], count: c.topology.deviceCount)
        if layout.zeroStage == 3 {
            zeroGatherSeconds = c.workload.layers.map { layer in
                dp > 1 ? Self.idleCollectiveSeconds(topology: c.topology, devices: (0..<dp).map { self.device(replica: $0, stage: 0, tensor: 0) }, bytes: Double(layer.parameters) * c.precision.bytes / Double(tp), operation: .allGather) : 0
            }
        }
        guard dp > 1 else { return }
        // Data-parallel collectives, in the order each device issues them.
        var tag: UInt64 = 1
        // The runtime's trainer averages the loss over the replicas every step: a one-value
        // all-reduce among the last stage's replicas, started beside the gradient collectives.
        for t in 0..<tp {
            let group = (0..<dp).map { device(replica: $0, stage: pp - 1, tensor: t) }
            add(CollectiveInstance(
                name: "loss all-reduce tensor \(t)", operation: .allReduce, algorithm: c.algorithm, devices: group, devicesPerNode: c.topology.devicesPerNode,
                payloadBytes: 4 * Double(dp), sparseBytes: nil, bucket: -1, tag: tag), stage: pp - 1, streamed: false)
            tag += 1
        }
        for s in 0..<pp {
            for t in 0..<tp {
                let group = (0..<dp).map { device(replica: $0, stage: s, tensor: t) }
                for (b, layers) in buckets[s].enumerated() {
                    let params = Double(layers.reduce(0) { $0 + c.workload.layers[$1].parameters }) / Double(tp)
                    let bytes = params * c.precision.bytes
                    var sparse: Double?
                    if case .topK(let density, _, _, _, _) = c.compression {
                        let k = (params * density).rounded(.up)
                        let gap = UInt64(max(1, (1 / density).rounded()))
                        sparse = k * (c.precision.bytes + Double((64 - gap.leadingZeroBitCount + 6) / 7))
                    }
                    // The runtime's DistributedOptimizer keeps the whole gradient at stage 1 and
                    // all-reduces it (each rank then updates its shard); stages 2 and 3 reduce-scatter.
                    let op: CollectiveOperation = sparse != nil ? .sparseAllGather : (layout.zeroStage >= 2 ? .reduceScatter : .allReduce)
                    add(CollectiveInstance(
                        name: "\(op.rawValue) stage \(s) tensor \(t) bucket \(b) (\(c.workload.layers[layers[0]].name)…)", operation: op, algorithm: c.algorithm,
                        devices: group, devicesPerNode: c.topology.devicesPerNode, payloadBytes: bytes, sparseBytes: sparse, bucket: b, tag: tag), stage: s)
                    tag += 1
                }
                if layout.zeroStage >= 1 && sparse(c.compression) == false {
                    for (b, layers) in buckets[s].enumerated() {
                        let bytes = Double(layers.reduce(0) { $0 + c.workload.layers[$1].parameters }) / Double(tp) * c.precision.bytes
                        add(CollectiveInstance(
                            name: "parameter all-gather stage \(s) tensor \(t) bucket \(b)", operation: .allGather, algorithm: c.algorithm, devices: group,
                            devicesPerNode: c.topology.devicesPerNode, payloadBytes: bytes, sparseBytes: nil, bucket: b, tag: tag), stage: s)
                        tag += 1
                    }
                }
            }
        }
    }

    func sparse(_ c: GradientCompression) -> Bool { if case .topK = c { true } else { false } }

    func add(_ instance: CollectiveInstance, stage s: Int, streamed: Bool = true) {
        let id = collectives.count
        var instance = instance
        instance.streamed = streamed
        collectives.append(instance)
        for device in instance.devices {
            if streamed { streams[device].append(id) }
            collectivesOfLane[laneIndex(replica: (device / layout.tensorParallel) % layout.dataParallel, stage: s)].append(id)
        }
    }

    /// Seconds a collective takes alone on an idle copy of the topology: the runtime's state
    /// machines over a private transport (used for tensor-parallel and ZeRO-3 gathers, which
    /// block compute and run on links the rest of the step leaves idle).
    static func idleCollectiveSeconds(topology: ClusterTopology, devices: [Int], bytes: Double, operation: CollectiveOperation) -> Double {
        collective(topology: topology, devices: devices, bytes: bytes, operation: operation, algorithm: .ring).seconds
    }

    /// What one collective alone on a topology costs.
    public struct CollectiveTiming: Sendable, Hashable {
        public var seconds: Double
        public var messages: Int
        public var events: Int
        public var bytesOnWire: Double
    }

    /// Runs one all-reduce of `bytes` per device among `devices` with `algorithm` on an idle
    /// `topology`: the runtime's state machines, one per device, over `SimulatedTransport`.
    public static func allReduce(topology: ClusterTopology, devices: [Int], bytes: Double, algorithm: CollectiveAlgorithm, faults: FaultSchedule = FaultSchedule(), seed: UInt64 = 0) -> CollectiveTiming {
        collective(topology: topology, devices: devices, bytes: bytes, operation: .allReduce, algorithm: algorithm, faults: faults, seed: seed)
    }

    static func collective(
        topology: ClusterTopology, devices: [Int], bytes: Double, operation: CollectiveOperation, algorithm: CollectiveAlgorithm, faults: FaultSchedule = FaultSchedule(), seed: UInt64 = 0
    ) -> CollectiveTiming {
        var queue = EventQueue(seed: seed)
        let transport = SimulatedTransport(network: NetworkModel(topology), faults: faults, seed: seed)
        var instance = CollectiveInstance(
            name: "alone", operation: operation, algorithm: algorithm, devices: devices, devicesPerNode: topology.devicesPerNode, payloadBytes: bytes, sparseBytes: nil, bucket: 0, tag: 0)
        var pending: [CollectiveMessage?] = []
        var free: [Int] = []
        func emit(_ directives: [CollectiveDirective], from rank: Int) {
            for d in directives {
                if case .send(let m, let to) = d {
                    let slot: Int
                    if let f = free.popLast() { pending[f] = m; slot = f } else { pending.append(m); slot = pending.count - 1 }
                    transport.send(from: devices[rank], to: devices[to], bytes: Double(m.payload.valueCount) * instance.bytesPerValue, token: slot, queue: &queue)
                }
            }
        }
        for r in devices.indices { emit((try? instance.machines[r].start()) ?? [], from: r) }
        var last = 0.0
        while let e = queue.pop() {
            guard let delivered = transport.handle(e, queue: &queue) else { continue }
            last = queue.now
            let m = pending[delivered.token]!
            pending[delivered.token] = nil
            free.append(delivered.token)
            let to = instance.rankOfDevice[delivered.destination]!
            emit((try? instance.machines[to].receive(m)) ?? [], from: to)
        }
        return CollectiveTiming(seconds: last, messages: transport.statistics.messages, events: queue.processed, bytesOnWire: transport.statistics.bytes)
    }
}

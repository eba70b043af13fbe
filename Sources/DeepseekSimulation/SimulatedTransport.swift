/// A flow-level network on virtual time: every message is a flow over the links of its path,
/// flows share each link's bandwidth max-min fairly, and a message arrives one path latency
/// after its last byte left.
///
/// When a flow starts or ends, the rates of the flows it shares links with (transitively) are
/// recomputed by progressive filling: the most constrained link fixes the rate of its flows,
/// their bandwidth is taken from their other links, and so on. Only that connected component is
/// touched, so independent traffic (a ring's disjoint hops) costs O(1) per message.
///
/// Faults come from a `FaultSchedule` and the seeded generator of the owning simulation.
public final class SimulatedTransport {
    /// Totals over the run.
    public struct Statistics: Sendable, Hashable {
        public var messages = 0
        public var delivered = 0
        public var bytes = 0.0
        public var dropped = 0
        public var delayed = 0
        public var lost = 0
        public var heldByPartition = 0
    }

    /// A message: who sent it to whom, its size, the owner's token and when it was sent.
    public struct Message: Sendable, Hashable {
        public var source: Int
        public var destination: Int
        public var bytes: Double
        public var token: Int
        public var sentAt: Double
        /// A compute span on a node's shared cores (`compute(on:seconds:token:queue:)`), not a message.
        public var isCompute = false
    }

    public let network: NetworkModel
    public var faults: FaultSchedule
    public private(set) var statistics = Statistics()
    /// Bytes carried per link (core-seconds on processor resources).
    public var linkBytes: [Double] { sharing.linkBytes }
    /// The flows and their fair rates.
    let sharing: FlowSharing
    var messages: [Message] = []
    var freeMessages: [Int] = []
    var paths: [Int: (links: [Int32], latency: Double)] = [:]
    var random: SplitMix

    /// Event kinds this transport owns in the shared queue.
    static let kindStart: UInt32 = 1, kindDone: UInt32 = 2, kindDeliver: UInt32 = 3

    public init(network: NetworkModel, faults: FaultSchedule = FaultSchedule(), seed: UInt64) {
        self.network = network
        self.faults = faults
        sharing = FlowSharing(capacities: network.links.map(\.capacity))
        random = SplitMix(seed: seed &+ 0x5EED)
    }

    func path(_ a: Int, _ b: Int) -> (links: [Int32], latency: Double) {
        let key = a &* 1_048_576 &+ b
        if let p = paths[key] { return p }
        let p = network.path(from: a, to: b)
        paths[key] = p
        return p
    }

    /// Sends `bytes` from device `source` to device `destination`; `token` comes back on delivery.
    public func send(from source: Int, to destination: Int, bytes: Double, token: Int, queue: inout EventQueue) {
        statistics.messages += 1
        statistics.bytes += bytes
        let now = queue.now
        let m = Message(source: source, destination: destination, bytes: bytes, token: token, sentAt: now)
        let id: Int
        if let free = freeMessages.popLast() { messages[free] = m; id = free } else { messages.append(m); id = messages.count - 1 }
        var start = now
        if !faults.isEmpty {
            let t = network.topology
            let (na, nb) = (t.node(of: source), t.node(of: destination))
            if let c = faults.crashTime(of: na), c <= now { return lose(id) }
            guard let cross = faults.crossingTime(na, nb, at: now) else { return lose(id) }
            if cross > now { statistics.heldByPartition += 1 }
            start = cross
            while faults.dropProbability > 0 && random.nextUnit() < faults.dropProbability {
                statistics.dropped += 1
                start += faults.retransmitTimeout
            }
            if faults.delayProbability > 0 && random.nextUnit() < faults.delayProbability {
                statistics.delayed += 1
                start += faults.delaySeconds
            }
            if faults.reorderJitter > 0 { start += random.nextUnit() * faults.reorderJitter }
        }
        if start > now { queue.schedule(at: start, kind: Self.kindStart, id) } else { startFlow(id, queue: &queue) }
    }

    /// Runs `seconds` of one core's work for `device` on its node's shared cores (a topology
    /// with `coresPerNode`): the span shares the cores max-min fairly with the node's other
    /// spans and CPU-bound messages, and comes back from `handle` as a message with
    /// `isCompute` set and `token`. Not counted as traffic.
    public func compute(on device: Int, seconds: Double, token: Int, queue: inout EventQueue) {
        let m = Message(source: device, destination: device, bytes: 0, token: token, sentAt: queue.now, isCompute: true)
        let id: Int
        if let free = freeMessages.popLast() { messages[free] = m; id = free } else { messages.append(m); id = messages.count - 1 }
        guard let links = network.computePath(device: device), seconds > 0 else {
            queue.schedule(at: queue.now + max(0, seconds), kind: Self.kindDeliver, id)
            return
        }
        sharing.add(path: links, work: seconds * network.computeParallelism, latency: 0, message: id, queue: &queue)
    }

    func lose(_ message: Int) {
        statistics.lost += 1
        freeMessages.append(message)
    }

    /// Handles one of the transport's own events; returns the message it delivered, if any.
    public func handle(_ e: EventQueue.Entry, queue: inout EventQueue) -> Message? {
        switch e.kind {
        case Self.kindStart:
            startFlow(e.a, queue: &queue)
            return nil
        case Self.kindDone:
            sharing.finish(e.a, version: UInt32(truncatingIfNeeded: e.b), deliver: Self.kindDeliver, queue: &queue)
            return nil
        default:
            let m = messages[e.a]
            freeMessages.append(e.a)
            if m.isCompute { return m }
            if !faults.crashes.isEmpty, let c = faults.crashTime(of: network.topology.node(of: m.destination)), c <= queue.now {
                statistics.lost += 1
                return nil
            }
            statistics.delivered += 1
            return m
        }
    }

    func startFlow(_ message: Int, queue: inout EventQueue) {
        let m = messages[message]
        let p = path(m.source, m.destination)
        if m.bytes <= 0 || p.links.isEmpty {
            queue.schedule(at: queue.now + p.latency, kind: Self.kindDeliver, message)
            return
        }
        var latency = p.latency
        let kind = network.linkKind(from: m.source, to: m.destination)
        if kind.cpuBound, let contended = kind.contendedLatency, let (cpu, cores) = network.cores(of: network.topology.node(of: m.destination)),
            sharing.flowCount(on: cpu) >= cores
        {
            // The receiver's node has no idle core: it waits for the scheduler to give it one.
            latency += max(0, contended - kind.latency)
        }
        sharing.add(path: p.links, work: network.work(bytes: m.bytes, from: m.source, to: m.destination), latency: latency, message: message, queue: &queue)
    }
}

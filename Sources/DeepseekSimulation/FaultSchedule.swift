/// Faults the simulated network and nodes suffer, drawn from the simulation's seed.
///
/// Message faults are drawn per message from the seeded generator, so the same seed gives the
/// same faults. A dropped message is retransmitted after `retransmitTimeout` (the transports are
/// reliable; a drop costs time, not data). A node crash is permanent: messages to or from the
/// node are lost and whoever waits on it stalls until the failure detector's timeout declares it
/// dead, which ends the iteration with a failure the report names.
public struct FaultSchedule: Sendable, Hashable {
    /// Nodes cut off from the rest between two virtual times.
    public struct Partition: Sendable, Hashable {
        public var nodes: [Int]
        public var start: Double
        public var end: Double
        public init(nodes: [Int], start: Double, end: Double) { (self.nodes, self.start, self.end) = (nodes, start, end) }
    }
    /// A node that stops at a virtual time.
    public struct Crash: Sendable, Hashable {
        public var node: Int
        public var at: Double
        public init(node: Int, at: Double) { (self.node, self.at) = (node, at) }
    }

    /// Probability that a message is lost in flight (then retransmitted).
    public var dropProbability: Double = 0
    public var retransmitTimeout: Double = 0.2
    /// Probability that a message is held back by `delaySeconds`.
    public var delayProbability: Double = 0
    public var delaySeconds: Double = 0
    /// Uniform extra latency in [0, jitter) per message: later messages may overtake earlier ones.
    public var reorderJitter: Double = 0
    public var partitions: [Partition] = []
    public var crashes: [Crash] = []
    /// How long a rank waits on a silent peer before the failure detector declares it dead.
    public var failureTimeout: Double = 1.0

    public init() {}

    public var isEmpty: Bool {
        dropProbability == 0 && delayProbability == 0 && reorderJitter == 0 && partitions.isEmpty && crashes.isEmpty
    }

    /// The time `node` crashes, if it does.
    func crashTime(of node: Int) -> Double? { crashes.filter { $0.node == node }.map(\.at).min() }

    /// When a message between nodes `a` and `b` sent at `time` can first cross (nil: never).
    func crossingTime(_ a: Int, _ b: Int, at time: Double) -> Double? {
        var t = time
        var moved = true
        while moved {
            moved = false
            for p in partitions where t >= p.start && t < p.end && (p.nodes.contains(a) != p.nodes.contains(b)) {
                guard p.end.isFinite else { return nil }
                t = p.end
                moved = true
            }
        }
        return t
    }
}

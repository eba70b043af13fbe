/// What the scheduler asks its shell to do. The shell carries each directive out and reports back
/// with `Scheduler.completed(node:on:)` or `Scheduler.transferred(value:to:)`.
///
/// Processes are cluster nodes, so their directives print as `node 0`, `node 1`; graph nodes print
/// as `n12` and values as `%4`. The text is stable: snapshot tests compare it.
public enum SchedulerDirective: Hashable, Sendable, CustomStringConvertible {
    /// Run graph node `node` on `device`; its inputs are already in the device's process. Several
    /// runs for one device (when more than one may be outstanding) run in the order issued.
    case run(node: Int, device: DeviceID)
    /// Copy value `value` from process `from` to process `to`; report `transferred(value:to:)`.
    case send(value: Int, from: Int, to: Int)
    /// Release process `process`'s copy of `value`: every consumer there has finished and no other
    /// process still needs it sent from here.
    case free(value: Int, process: Int)
    /// Every node has run; no further directive will follow.
    case finished

    public var description: String {
        switch self {
        case .run(let node, let device): "run n\(node) on \(device)"
        case .send(let value, let from, let to): "send %\(value) from node \(from) to node \(to)"
        case .free(let value, let process): "free %\(value) on node \(process)"
        case .finished: "finished"
        }
    }
}

/// Knobs of the scheduler state machine.
public struct SchedulerSettings: Sendable, Hashable {
    /// How many nodes a device may have dispatched and not yet completed.
    ///
    /// With 1 (the default), ready work stays unbound until a device is free to start it, so an
    /// idle device always takes work a busy one would otherwise have run. A larger value hides
    /// dispatch latency, but a dispatched node is bound: the device runs its runs in order and
    /// the scheduler never takes one back, because the device may already have started it.
    public var maxOutstandingPerDevice: Int
    /// Whether a graph input's copy in its home process is freed after its last use. Off by
    /// default: inputs and parameters belong to the caller, who reuses them across runs. Copies
    /// sent to other processes are always freed.
    public var freesGraphInputs: Bool

    public init(maxOutstandingPerDevice: Int = 1, freesGraphInputs: Bool = false) {
        precondition(maxOutstandingPerDevice >= 1, "SchedulerSettings: maxOutstandingPerDevice must be ≥ 1, got \(maxOutstandingPerDevice)")
        self.maxOutstandingPerDevice = maxOutstandingPerDevice
        self.freesGraphInputs = freesGraphInputs
    }
}

/// A max-heap of ready nodes by critical-path rank; equal ranks pop the lower node index first,
/// so the schedule never depends on insertion order.
struct RankedHeap: Sendable {
    private var ranks: [Double] = []
    private var nodes: [Int] = []

    var isEmpty: Bool { nodes.isEmpty }
    var count: Int { nodes.count }
    var top: (rank: Double, node: Int)? { nodes.isEmpty ? nil : (ranks[0], nodes[0]) }

    @inline(__always)
    private func above(_ i: Int, _ j: Int) -> Bool {
        ranks[i] > ranks[j] || (ranks[i] == ranks[j] && nodes[i] < nodes[j])
    }

    private mutating func swapAt(_ i: Int, _ j: Int) {
        ranks.swapAt(i, j)
        nodes.swapAt(i, j)
    }

    mutating func push(_ node: Int, rank: Double) {
        ranks.append(rank)
        nodes.append(node)
        var i = nodes.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard above(i, parent) else { break }
            swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Int {
        let node = nodes[0]
        let last = nodes.count - 1
        swapAt(0, last)
        ranks.removeLast()
        nodes.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var best = i
            if l < nodes.count && above(l, best) { best = l }
            if r < nodes.count && above(r, best) { best = r }
            if best == i { break }
            swapAt(i, best)
            i = best
        }
        return node
    }
}

/// Formats seconds with six decimals (microseconds) without Foundation, for stable text.
func formatSeconds(_ seconds: Double) -> String {
    let micros = Int((seconds * 1_000_000).rounded())
    let sign = micros < 0 ? "-" : ""
    let magnitude = abs(micros)
    let fraction = String(magnitude % 1_000_000)
    return "\(sign)\(magnitude / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
}

/// Drives a `Scheduler` on virtual time against its own cost table: the deterministic stand-in for
/// a runtime, used by tests and to estimate a schedule's makespan.
///
/// Each device runs the nodes dispatched to it one at a time, in order, each taking exactly its
/// cost-table estimate; a send takes `transferLatencySeconds + bytes · transferSecondsPerByte`,
/// and transfers do not contend with each other. Events due at the same instant are delivered in
/// the order they were scheduled, so two runs of the same problem give the same log.
///
/// ```swift
/// let result = SchedulerSimulation(try PreparedProblem(problem)).run()
/// print(result.makespanSeconds, result.report)
/// ```
public struct SchedulerSimulation: Sendable {
    /// One directive and the virtual time it was issued.
    public struct Entry: Sendable, Hashable, CustomStringConvertible {
        public var seconds: Double
        public var directive: SchedulerDirective
        public var description: String { "\(formatSeconds(seconds)) \(directive)" }
    }

    /// The outcome of a simulated run.
    public struct Result: Sendable {
        /// Every directive, in issue order, with its virtual time.
        public var log: [Entry]
        /// Virtual seconds from start to the last completion: the estimated makespan.
        public var makespanSeconds: Double
        /// Per-device busy time, op counts and utilisation, with the makespan filled in.
        public var report: SchedulerReport

        /// The directives without times.
        public var directives: [SchedulerDirective] { log.map(\.directive) }
        /// Busy time over makespan per device, indexed by device (0 for an empty graph).
        public var utilisation: [Double] { report.devices.map { $0.utilisation ?? 0 } }
        /// The log as text, one `seconds directive` line per entry.
        public var transcript: String { log.map(\.description).joined(separator: "\n") }
    }

    public let prepared: PreparedProblem
    public let settings: SchedulerSettings

    public init(_ prepared: PreparedProblem, settings: SchedulerSettings = SchedulerSettings()) {
        self.prepared = prepared
        self.settings = settings
    }

    /// Runs the schedule to `.finished` and returns its log and report.
    ///
    /// - Complexity: O((nodes + edges) · log(nodes)) plus the scheduler's own work.
    public func run() -> Result {
        var state = SimulationState(prepared, settings)
        return state.run()
    }
}

/// The mutable part of a simulation: the scheduler, the event queue and the device queues.
private struct SimulationState {
    let prepared: PreparedProblem
    var scheduler: Scheduler
    var now = 0.0
    var events = EventQueue()
    var log: [SchedulerSimulation.Entry] = []
    var buffer: [SchedulerDirective] = []
    var finished = false
    var lastCompletion = 0.0
    /// Nodes dispatched to each device and not yet started, in order; the head runs first.
    var queues: [[Int]]
    var queueHeads: [Int]
    var running: [Int]

    init(_ prepared: PreparedProblem, _ settings: SchedulerSettings) {
        self.prepared = prepared
        scheduler = Scheduler(prepared, settings: settings)
        let devices = prepared.deviceProcess.count
        queues = [[Int]](repeating: [], count: devices)
        queueHeads = [Int](repeating: 0, count: devices)
        running = [Int](repeating: -1, count: devices)
        log.reserveCapacity(prepared.nodeCount * 2 + 1)
    }

    mutating func run() -> SchedulerSimulation.Result {
        scheduler.start(into: &buffer)
        carryOut()
        while let event = events.pop() {
            now = event.time
            if event.kind == EventQueue.completion {
                let d = event.a
                let node = running[d]
                running[d] = -1
                lastCompletion = now
                scheduler.completed(node: node, on: DeviceID(d), into: &buffer)
                carryOut()
                startNext(d)
            } else {
                scheduler.transferred(value: event.a, to: event.b, into: &buffer)
                carryOut()
            }
        }
        precondition(finished, "SchedulerSimulation: events ran out before the scheduler finished")
        var report = scheduler.report
        report.makespanSeconds = lastCompletion
        for i in report.devices.indices {
            report.devices[i].utilisation = lastCompletion > 0 ? report.devices[i].busySeconds / lastCompletion : 0
        }
        return SchedulerSimulation.Result(log: log, makespanSeconds: lastCompletion, report: report)
    }

    mutating func carryOut() {
        for directive in buffer {
            log.append(SchedulerSimulation.Entry(seconds: now, directive: directive))
            switch directive {
            case .run(let node, let device):
                queues[device.index].append(node)
                startNext(device.index)
            case .send(let value, _, let to):
                let seconds = prepared.problem.transferSeconds(byteCount: prepared.byteCount[value])
                events.push(time: now + seconds, kind: EventQueue.arrival, a: value, b: to)
            case .free:
                break
            case .finished:
                finished = true
            }
        }
        buffer.removeAll(keepingCapacity: true)
    }

    mutating func startNext(_ d: Int) {
        guard running[d] < 0, queueHeads[d] < queues[d].count else { return }
        let node = queues[d][queueHeads[d]]
        queueHeads[d] += 1
        running[d] = node
        let cost = prepared.cost[node * prepared.kindCount + prepared.deviceKind[d]]
        events.push(time: now + cost, kind: EventQueue.completion, a: d, b: node)
    }
}

/// A min-heap of simulation events by (time, order of scheduling).
private struct EventQueue {
    static let completion = 0
    static let arrival = 1

    struct Event {
        var time: Double
        var sequence: Int
        var kind: Int
        /// Device for a completion, value for an arrival.
        var a: Int
        /// Node for a completion, destination process for an arrival.
        var b: Int
    }

    private var heap: [Event] = []
    private var nextSequence = 0

    private func before(_ x: Event, _ y: Event) -> Bool {
        x.time < y.time || (x.time == y.time && x.sequence < y.sequence)
    }

    mutating func push(time: Double, kind: Int, a: Int, b: Int) {
        heap.append(Event(time: time, sequence: nextSequence, kind: kind, a: a, b: b))
        nextSequence += 1
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard before(heap[i], heap[parent]) else { break }
            heap.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> Event? {
        guard !heap.isEmpty else { return nil }
        let first = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var i = 0
            while true {
                let l = 2 * i + 1
                let r = l + 1
                var best = i
                if l < heap.count && before(heap[l], heap[best]) { best = l }
                if r < heap.count && before(heap[r], heap[best]) { best = r }
                if best == i { break }
                heap.swapAt(i, best)
                i = best
            }
        }
        return first
    }
}

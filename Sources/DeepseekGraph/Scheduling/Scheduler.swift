/// The graph engine's scheduler: a deterministic state machine that turns events (a node finished,
/// a tensor arrived) into directives (run, send, free, finished). It does no I/O and reads no
/// clock, so a runtime shell, the simulator and tests all drive the same code.
///
/// Scheduling is Kahn's algorithm with a ranked ready set. A node becomes ready when every node
/// producing its inputs has completed. Ready nodes wait, unbound, in heaps ordered by
/// critical-path rank (ties: lower node index). Whenever a device has a free slot it takes the
/// highest-ranked ready node it can run; when several free devices can run that node, the one
/// with the earliest estimated finish wins: its queued work + the node's cost on its kind + the
/// transfer time of inputs not yet in its process (ties: lower device index). Because a node is
/// bound only when dispatched, an idle device takes work that a busy device of the same kind
/// would otherwise have run — load balances itself with no per-device queues to steal from.
///
/// A node placed in a process that lacks some of its inputs is first bound to that process: the
/// scheduler issues a `send` per missing input, and the node becomes runnable there — on any
/// free device of that process allowed to run it — once every `transferred` has arrived. A copy
/// of a value is freed once no consumer in its process remains and no consumer anywhere is
/// still unplaced; a graph output keeps the copy where it was produced, and a graph input the
/// copy in its home process (it belongs to the caller).
///
/// ```swift
/// var scheduler = Scheduler(try PreparedProblem(problem))
/// var directives = scheduler.start()
/// // … carry out directives; as devices finish:
/// directives = scheduler.completed(node: 3, on: DeviceID(0))
/// ```
///
/// Events that contradict the directives issued (completing a node that is not running on that
/// device, a transfer that was never sent) are programming errors in the shell and trap.
public struct Scheduler: Sendable {
    /// The validated problem being scheduled.
    public let prepared: PreparedProblem
    public let settings: SchedulerSettings

    enum NodeState: UInt8 {
        case waiting, ready, staging, staged, running, done
    }

    // Copy flags per (value, process).
    static let present: UInt8 = 1
    static let inFlight: UInt8 = 2
    static let freed: UInt8 = 4

    var nodeState: [NodeState]
    var remainingInputs: [Int]
    /// Inputs still in flight to the node's bound process (one per input edge).
    var pendingTransfers: [Int]
    var boundProcess: [Int]
    var assignedDevice: [Int]

    /// Tables over (value, process), indexed `v * processCount + p`.
    var copyFlags: [UInt8]
    /// Consumer edges bound to the process and not yet completed.
    var boundUses: [Int]
    /// Sends of the value out of the process still in flight.
    var outgoingSends: [Int]
    /// The process a value in flight to this process comes from.
    var sendSource: [Int]
    /// Consumer edges of each value whose node has not yet been bound to a process.
    var unboundUses: [Int]

    var outstanding: [Int]
    var queuedSeconds: [Double]
    var busySeconds: [Double]
    var nodesRun: [Int]

    var heaps: [RankedHeap]
    /// Devices of each class with a free slot.
    var classFreeDevices: [Int]
    /// Scratch for `dispatch`: classes whose top node could not be placed this round.
    var blocked: [Bool]
    /// Nodes bound to each process that wait for transfers or for a device there.
    var waitingBound: [Int]
    /// The most nodes that may wait in each process: its device slots.
    let waitingBudget: [Int]

    var completedCount = 0
    var started = false
    /// Whether `.finished` has been issued.
    public private(set) var isFinished = false
    var sendCount = 0
    var bytesSent = 0
    var freeCount = 0

    /// A scheduler for `prepared`, before `start()`.
    public init(_ prepared: PreparedProblem, settings: SchedulerSettings = SchedulerSettings()) {
        self.prepared = prepared
        self.settings = settings
        let nodes = prepared.nodeCount
        let cells = prepared.valueCount * prepared.processCount
        let devices = prepared.deviceProcess.count
        nodeState = [NodeState](repeating: .waiting, count: nodes)
        remainingInputs = prepared.inDegree
        pendingTransfers = [Int](repeating: 0, count: nodes)
        boundProcess = [Int](repeating: -1, count: nodes)
        assignedDevice = [Int](repeating: -1, count: nodes)
        copyFlags = [UInt8](repeating: 0, count: cells)
        boundUses = [Int](repeating: 0, count: cells)
        outgoingSends = [Int](repeating: 0, count: cells)
        sendSource = [Int](repeating: -1, count: cells)
        unboundUses = (0..<prepared.valueCount).map { prepared.consumerStart[$0 + 1] - prepared.consumerStart[$0] }
        outstanding = [Int](repeating: 0, count: devices)
        queuedSeconds = [Double](repeating: 0, count: devices)
        busySeconds = [Double](repeating: 0, count: devices)
        nodesRun = [Int](repeating: 0, count: devices)
        heaps = [RankedHeap](repeating: RankedHeap(), count: prepared.classDevices.count)
        classFreeDevices = prepared.classDevices.map(\.count)
        blocked = [Bool](repeating: false, count: prepared.classDevices.count)
        waitingBound = [Int](repeating: 0, count: prepared.processCount)
        var budget = [Int](repeating: 0, count: prepared.processCount)
        for process in prepared.deviceProcess { budget[process] += settings.maxOutstandingPerDevice }
        waitingBudget = budget
    }

    /// Validates `problem` and creates a scheduler for it.
    public init(_ problem: SchedulingProblem, settings: SchedulerSettings = SchedulerSettings()) throws(SchedulingError) {
        self.init(try PreparedProblem(problem), settings: settings)
    }

    // MARK: Events

    /// Begins the run: graph inputs are in their home processes and nodes without produced
    /// inputs are ready. Call once.
    public mutating func start() -> [SchedulerDirective] {
        var out: [SchedulerDirective] = []
        start(into: &out)
        return out
    }

    /// `start()`, appending directives to `out` instead of allocating an array.
    public mutating func start(into out: inout [SchedulerDirective]) {
        precondition(!started, "Scheduler.start() called twice")
        started = true
        let p = prepared
        for v in 0..<p.valueCount where p.producer[v] < 0 {
            copyFlags[v * p.processCount + p.homeProcess[v]] = Self.present
        }
        for v in 0..<p.valueCount where p.producer[v] < 0 { maybeFree(v, p.homeProcess[v], &out) }
        for n in 0..<p.nodeCount where remainingInputs[n] == 0 { makeReady(n) }
        dispatch(&out)
        finishIfDone(&out)
    }

    /// A device finished a node it was told to run; its outputs now live in the device's process.
    public mutating func completed(node: Int, on device: DeviceID) -> [SchedulerDirective] {
        var out: [SchedulerDirective] = []
        completed(node: node, on: device, into: &out)
        return out
    }

    /// `completed(node:on:)`, appending directives to `out`.
    public mutating func completed(node n: Int, on device: DeviceID, into out: inout [SchedulerDirective]) {
        precondition(
            n >= 0 && n < prepared.nodeCount && nodeState[n] == .running && assignedDevice[n] == device.index,
            "Scheduler: completed(node: \(n), on: \(device)) but n\(n) is not running on \(device)")
        let p = prepared
        let d = device.index
        let process = p.deviceProcess[d]
        nodeState[n] = .done
        completedCount += 1
        releaseSlot(d, cost: p.cost[n * p.kindCount + p.deviceKind[d]])

        for i in p.inputStart[n]..<p.inputStart[n + 1] {
            boundUses[p.inputList[i] * p.processCount + process] -= 1
        }
        for i in p.inputStart[n]..<p.inputStart[n + 1] { maybeFree(p.inputList[i], process, &out) }
        for o in p.outputStart[n]..<p.outputStart[n + 1] {
            let v = p.outputList[o]
            copyFlags[v * p.processCount + process] = Self.present
            maybeFree(v, process, &out)
            for c in p.consumerStart[v]..<p.consumerStart[v + 1] {
                let consumer = p.consumerList[c]
                remainingInputs[consumer] -= 1
                if remainingInputs[consumer] == 0 { makeReady(consumer) }
            }
        }
        dispatch(&out)
        finishIfDone(&out)
    }

    /// A value sent by a `.send` directive has arrived in process `process`.
    public mutating func transferred(value: Int, to process: Int) -> [SchedulerDirective] {
        var out: [SchedulerDirective] = []
        transferred(value: value, to: process, into: &out)
        return out
    }

    /// `transferred(value:to:)`, appending directives to `out`.
    public mutating func transferred(value v: Int, to process: Int, into out: inout [SchedulerDirective]) {
        let p = prepared
        precondition(
            v >= 0 && v < p.valueCount && process >= 0 && process < p.processCount
                && copyFlags[v * p.processCount + process] & Self.inFlight != 0,
            "Scheduler: transferred(value: \(v), to: \(process)) but %\(v) was not sent to node \(process)")
        let cell = v * p.processCount + process
        copyFlags[cell] = Self.present
        let source = sendSource[cell]
        sendSource[cell] = -1
        outgoingSends[v * p.processCount + source] -= 1
        maybeFree(v, source, &out)
        for c in p.consumerStart[v]..<p.consumerStart[v + 1] {
            let consumer = p.consumerList[c]
            guard nodeState[consumer] == .staging && boundProcess[consumer] == process else { continue }
            pendingTransfers[consumer] -= 1
            if pendingTransfers[consumer] == 0 {
                nodeState[consumer] = .staged
                let cls = p.restrictedClass[p.nodeClass[consumer] * p.processCount + process]
                heaps[cls].push(consumer, rank: p.ranks[consumer])
            }
        }
        dispatch(&out)
    }

    // MARK: Queries

    /// The device a node was dispatched to, or nil while it is not yet dispatched.
    public func device(of node: Int) -> DeviceID? {
        assignedDevice[node] >= 0 ? DeviceID(assignedDevice[node]) : nil
    }

    /// Nodes dispatched to `device` and not yet completed.
    public func outstanding(on device: DeviceID) -> Int { outstanding[device.index] }

    /// Nodes that have completed.
    public var completedNodes: Int { completedCount }

    // MARK: Internals

    mutating func makeReady(_ n: Int) {
        nodeState[n] = .ready
        heaps[prepared.nodeClass[n]].push(n, rank: prepared.ranks[n])
    }

    mutating func finishIfDone(_ out: inout [SchedulerDirective]) {
        if !isFinished && completedCount == prepared.nodeCount {
            isFinished = true
            out.append(.finished)
        }
    }

    /// Frees process `process`'s copy of `v` if nothing can still need it: no consumer bound there,
    /// no consumer still unplaced (it might be placed there, or need this copy as a source), and
    /// no send out of it in flight. A graph output keeps the copy where it was produced, and a
    /// graph input the copy in its home process (unless `freesGraphInputs`); copies sent
    /// elsewhere are freed like any other.
    mutating func maybeFree(_ v: Int, _ process: Int, _ out: inout [SchedulerDirective]) {
        let p = prepared
        let cell = v * p.processCount + process
        guard copyFlags[cell] & Self.present != 0, unboundUses[v] == 0, boundUses[cell] == 0,
            outgoingSends[cell] == 0
        else { return }
        let producer = p.producer[v]
        if producer < 0 {
            if process == p.homeProcess[v] && (p.isGraphOutput[v] || !settings.freesGraphInputs) { return }
        } else if p.isGraphOutput[v] && process == p.deviceProcess[assignedDevice[producer]] {
            return
        }
        copyFlags[cell] = Self.freed
        freeCount += 1
        out.append(.free(value: v, process: process))
    }

    mutating func takeSlot(_ d: Int, cost: Double) {
        outstanding[d] += 1
        queuedSeconds[d] += cost
        if outstanding[d] == settings.maxOutstandingPerDevice {
            for c in prepared.deviceClasses[d] { classFreeDevices[c] -= 1 }
        }
    }

    mutating func releaseSlot(_ d: Int, cost: Double) {
        if outstanding[d] == settings.maxOutstandingPerDevice {
            for c in prepared.deviceClasses[d] { classFreeDevices[c] += 1 }
        }
        outstanding[d] -= 1
        // Subtraction drifts in floating point; an empty device has exactly nothing queued.
        queuedSeconds[d] = outstanding[d] == 0 ? 0 : max(0, queuedSeconds[d] - cost)
    }
}

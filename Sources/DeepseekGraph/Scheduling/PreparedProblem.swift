/// A scheduling problem that has been validated, flattened into index-addressed tables and ranked
/// by critical path, ready to drive any number of `Scheduler`s.
///
/// Preparing does every check that can fail — unknown indices, cycles, ops no device can run,
/// contradictory pins, bad numbers — so a problem that prepares can always be scheduled to the
/// end. Preparing costs time linear in nodes + edges (times devices); cache it by the problem's
/// `structuralHash` in a `PlanCache` when the same graph is scheduled again.
///
/// ```swift
/// let prepared = try PreparedProblem(problem)
/// var scheduler = Scheduler(prepared)
/// let directives = scheduler.start()
/// ```
public struct PreparedProblem: Sendable {
    /// The problem as given.
    public let problem: SchedulingProblem
    /// Critical-path rank of each node: the estimated seconds of the longest path from the start
    /// of the node to the end of the graph, each node priced on its cheapest allowed device kind.
    public let ranks: [Double]
    /// A topological order of the nodes (Kahn's algorithm, ties by node index).
    public let topologicalOrder: [Int]
    /// The longest rank: a lower bound on the makespan with unlimited devices.
    public let criticalPathSeconds: Double
    /// One more than the highest process rank of any device or graph input.
    public let processCount: Int
    /// The devices `node` may run on (its op is supported there and its pins allow them).
    public func allowedDevices(of node: Int) -> [DeviceID] {
        classDevices[nodeClass[node]].map(DeviceID.init)
    }

    // Flattened tables. Every hot-path lookup in the scheduler is an array index.
    let nodeCount: Int
    let valueCount: Int
    let kindCount: Int
    /// Device kind names, in first-appearance order in the device table.
    let kindNames: [String]
    let deviceKind: [Int]
    let deviceProcess: [Int]
    /// Seconds of node `n` on kind `k` at `n * kindCount + k`; `.infinity` when unsupported.
    let cost: [Double]
    let minCost: [Double]
    let inputStart: [Int]
    let inputList: [Int]
    let outputStart: [Int]
    let outputList: [Int]
    /// Consumers of value `v` are `consumerList[consumerStart[v]..<consumerStart[v + 1]]`, one entry
    /// per input edge (a node reading a value twice appears twice).
    let consumerStart: [Int]
    let consumerList: [Int]
    /// The producing node of each value, or -1 for a graph input.
    let producer: [Int]
    let byteCount: [Int]
    let homeProcess: [Int]
    let isGraphOutput: [Bool]
    /// Input edges of each node whose value is produced by another node (Kahn in-degree).
    let inDegree: [Int]
    /// Placement classes: nodes with the same set of allowed devices share a class (and a ready
    /// heap in the scheduler). Classes past `baseClassCount` are base classes restricted to one
    /// process, used for nodes already bound to a process.
    let nodeClass: [Int]
    let classDevices: [[Int]]
    let baseClassCount: Int
    /// `restrictedClass[c * processCount + p]`: base class `c` limited to devices of process `p`,
    /// or -1 when it has none there.
    let restrictedClass: [Int]
    let deviceClasses: [[Int]]

    /// Validates `problem` and computes its critical-path ranks.
    ///
    /// - Parameters:
    ///   - includeTransfersInRanks: whether an edge between two nodes that can only run in
    ///     different processes adds its transfer estimate to the path length.
    ///   - outputsFirst: rank every node that writes a graph output — and every node whose
    ///     results feed only one such node — above all others, so outputs are produced as soon
    ///     as they can be (a training graph's gradients while backward still runs, in the order
    ///     backward reaches them) instead of when nothing on the critical path is left.
    /// - Throws: `SchedulingError` naming the first node, value or device that is wrong.
    /// - Complexity: O((nodes + edges) · devices).
    public init(_ problem: SchedulingProblem, includeTransfersInRanks: Bool = true, outputsFirst: Bool = false) throws(SchedulingError) {
        self.problem = problem
        let nodes = problem.nodes
        let values = problem.values
        let devices = problem.devices
        nodeCount = nodes.count
        valueCount = values.count

        try Self.validateNumbers(problem)

        // Devices and kinds.
        var kindIndex: [String: Int] = [:]
        var kindNames: [String] = []
        var deviceKind: [Int] = []
        deviceKind.reserveCapacity(devices.count)
        var maxProcess = 0
        for device in devices {
            if let k = kindIndex[device.kind] {
                deviceKind.append(k)
            } else {
                kindIndex[device.kind] = kindNames.count
                deviceKind.append(kindNames.count)
                kindNames.append(device.kind)
            }
            maxProcess = max(maxProcess, device.process)
        }
        for value in values where value.producer == nil { maxProcess = max(maxProcess, value.homeProcess) }
        self.kindNames = kindNames
        self.kindCount = kindNames.count
        self.deviceKind = deviceKind
        self.deviceProcess = devices.map(\.process)
        self.processCount = maxProcess + 1

        // Edges: CSR inputs and outputs, producers, consumers.
        let edges = try Self.buildEdges(problem)
        inputStart = edges.inputStart
        inputList = edges.inputList
        outputStart = edges.outputStart
        outputList = edges.outputList
        consumerStart = edges.consumerStart
        consumerList = edges.consumerList
        producer = edges.producer
        inDegree = edges.inDegree
        byteCount = values.map(\.byteCount)
        homeProcess = values.map { $0.producer == nil ? $0.homeProcess : 0 }
        isGraphOutput = values.map(\.isGraphOutput)

        if !nodes.isEmpty && devices.isEmpty {
            throw SchedulingError(
                .noDevices, "the problem has \(nodes.count) nodes but no devices; add at least one device that can run them")
        }

        // Costs, flattened per kind.
        var cost = [Double](repeating: .infinity, count: nodes.count * kindNames.count)
        for (k, kind) in kindNames.enumerated() {
            let column = problem.costs.column(for: kind)
            for n in 0..<min(column.count, nodes.count) {
                guard let seconds = column[n] else { continue }
                guard seconds.isFinite, seconds >= 0 else {
                    throw SchedulingError(
                        .invalidArgument,
                        "\(Self.describe(n, nodes)) has cost \(seconds) s on \(kind) devices; a cost is a finite number of seconds ≥ 0 (leave it out if \(kind) lacks the op)"
                    )
                }
                cost[n * kindNames.count + k] = seconds
            }
        }
        self.cost = cost

        // Allowed devices, interned into placement classes.
        let placement = try Self.buildClasses(problem, kindNames: kindNames, deviceKind: deviceKind, cost: cost, processCount: maxProcess + 1)
        nodeClass = placement.nodeClass
        classDevices = placement.classDevices
        baseClassCount = placement.baseClassCount
        restrictedClass = placement.restrictedClass
        deviceClasses = placement.deviceClasses

        var minCost = [Double](repeating: 0, count: nodes.count)
        for n in 0..<nodes.count {
            var best = Double.infinity
            for d in placement.classDevices[placement.nodeClass[n]] {
                best = min(best, cost[n * kindNames.count + deviceKind[d]])
            }
            minCost[n] = best
        }
        self.minCost = minCost

        topologicalOrder = try Self.topologicalOrder(problem, edges)

        // Ranks, in reverse topological order. An edge adds its transfer only when both ends are
        // forced into different processes; otherwise placement can keep them together.
        var forcedProcess = [Int](repeating: -1, count: nodes.count)
        let deviceProcess = self.deviceProcess
        if includeTransfersInRanks && processCount > 1 {
            for n in 0..<nodes.count {
                let allowed = placement.classDevices[placement.nodeClass[n]]
                let p = deviceProcess[allowed[0]]
                if allowed.allSatisfy({ deviceProcess[$0] == p }) { forcedProcess[n] = p }
            }
        }
        var ranks = [Double](repeating: 0, count: nodes.count)
        var longest = 0.0
        for n in topologicalOrder.reversed() {
            var tail = 0.0
            for o in outputStart[n]..<outputStart[n + 1] {
                let v = outputList[o]
                for c in consumerStart[v]..<consumerStart[v + 1] {
                    let consumer = consumerList[c]
                    var edge = ranks[consumer]
                    if forcedProcess[n] >= 0 && forcedProcess[consumer] >= 0 && forcedProcess[n] != forcedProcess[consumer] {
                        edge += problem.transferSeconds(byteCount: byteCount[v])
                    }
                    tail = max(tail, edge)
                }
            }
            ranks[n] = minCost[n] + tail
            longest = max(longest, ranks[n])
        }
        if outputsFirst { Self.rankOutputsFirst(&ranks, above: longest, topologicalOrder, outputStart, outputList, consumerStart, consumerList, isGraphOutput) }
        self.ranks = ranks
        criticalPathSeconds = longest
    }

    /// Lifts the rank of output writers and their private feeders by `above` (the longest rank),
    /// keeping their order among themselves.
    static func rankOutputsFirst(
        _ ranks: inout [Double], above: Double, _ order: [Int], _ outputStart: [Int], _ outputList: [Int], _ consumerStart: [Int], _ consumerList: [Int],
        _ isGraphOutput: [Bool]
    ) {
        var lifted = [Bool](repeating: false, count: ranks.count)
        for n in order.reversed() {
            var writesOutput = false
            var only = -1  // the one consumer node, -2 when there are several
            for o in outputStart[n]..<outputStart[n + 1] {
                let v = outputList[o]
                if isGraphOutput[v] { writesOutput = true }
                for c in consumerStart[v]..<consumerStart[v + 1] where only != consumerList[c] { only = only == -1 ? consumerList[c] : -2 }
            }
            lifted[n] = writesOutput || (only >= 0 && lifted[only])
        }
        for n in ranks.indices where lifted[n] { ranks[n] += above }
    }

    /// The estimated seconds of `node` on `device`, or nil when the device's kind lacks the op.
    public func cost(of node: Int, on device: DeviceID) -> Double? {
        let seconds = cost[node * kindCount + deviceKind[device.index]]
        return seconds.isFinite ? seconds : nil
    }

    /// `n3 "name" (op)`, the way messages name a node.
    static func describe(_ n: Int, _ nodes: [SchedulingProblem.Node]) -> String {
        "n\(n) \"\(nodes[n].name)\" (\(nodes[n].op))"
    }
}

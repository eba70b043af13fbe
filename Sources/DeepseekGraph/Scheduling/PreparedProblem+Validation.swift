extension PreparedProblem {
    struct Edges {
        var inputStart: [Int]
        var inputList: [Int]
        var outputStart: [Int]
        var outputList: [Int]
        var consumerStart: [Int]
        var consumerList: [Int]
        var producer: [Int]
        var inDegree: [Int]
    }

    struct Placement {
        var nodeClass: [Int]
        var classDevices: [[Int]]
        var baseClassCount: Int
        var restrictedClass: [Int]
        var deviceClasses: [[Int]]
    }

    /// Rejects negative sizes, ranks and prices before anything is built from them.
    static func validateNumbers(_ problem: SchedulingProblem) throws(SchedulingError) {
        for (name, price) in [
            ("transferSecondsPerByte", problem.transferSecondsPerByte),
            ("transferLatencySeconds", problem.transferLatencySeconds),
        ] where !(price.isFinite && price >= 0) {
            throw SchedulingError(.invalidArgument, "\(name) is \(price); transfer prices are finite numbers ≥ 0")
        }
        for (d, device) in problem.devices.enumerated() where device.process < 0 {
            throw SchedulingError(
                .invalidArgument, "device \(d) (\(device.kind)) has process rank \(device.process); ranks are ≥ 0")
        }
        for (v, value) in problem.values.enumerated() {
            if value.byteCount < 0 {
                throw SchedulingError(.invalidArgument, "value %\(v) has byte count \(value.byteCount); sizes are ≥ 0")
            }
            if value.producer == nil && value.homeProcess < 0 {
                throw SchedulingError(
                    .invalidArgument, "graph input %\(v) is held by process \(value.homeProcess); ranks are ≥ 0")
            }
        }
    }

    /// Builds the CSR edge tables, checking every index and that each value has one writer.
    static func buildEdges(_ problem: SchedulingProblem) throws(SchedulingError) -> Edges {
        let nodes = problem.nodes
        let values = problem.values
        var edges = Edges(
            inputStart: [0], inputList: [], outputStart: [0], outputList: [],
            consumerStart: [], consumerList: [], producer: [Int](repeating: -1, count: values.count),
            inDegree: [Int](repeating: 0, count: nodes.count))
        edges.inputStart.reserveCapacity(nodes.count + 1)
        edges.outputStart.reserveCapacity(nodes.count + 1)
        var consumerCount = [Int](repeating: 0, count: values.count + 1)
        for (n, node) in nodes.enumerated() {
            for v in node.inputs {
                guard v >= 0 && v < values.count else {
                    throw SchedulingError(
                        .unknownValue,
                        "\(describe(n, nodes)) reads %\(v), but the problem has \(values.count) values (%0…%\(values.count - 1)); add the value or fix the node's inputs"
                    )
                }
                edges.inputList.append(v)
                consumerCount[v + 1] += 1
            }
            edges.inputStart.append(edges.inputList.count)
            for v in node.outputs {
                guard v >= 0 && v < values.count else {
                    throw SchedulingError(
                        .unknownValue,
                        "\(describe(n, nodes)) writes %\(v), but the problem has \(values.count) values (%0…%\(values.count - 1)); add the value or fix the node's outputs"
                    )
                }
                if edges.producer[v] >= 0 {
                    throw SchedulingError(
                        .inconsistentProducer,
                        "%\(v) is written by both \(describe(edges.producer[v], nodes)) and \(describe(n, nodes)); each value has exactly one writer"
                    )
                }
                guard values[v].producer == n else {
                    let recorded = values[v].producer.map { "n\($0)" } ?? "no producer (a graph input)"
                    throw SchedulingError(
                        .inconsistentProducer,
                        "\(describe(n, nodes)) writes %\(v), but the value records \(recorded); set the value's producer to n\(n)"
                    )
                }
                edges.producer[v] = n
                edges.outputList.append(v)
            }
            edges.outputStart.append(edges.outputList.count)
        }
        for (v, value) in values.enumerated() {
            if let p = value.producer, edges.producer[v] != p {
                let where_ = p >= 0 && p < nodes.count ? describe(p, nodes) : "n\(p), which does not exist"
                throw SchedulingError(
                    .inconsistentProducer,
                    "%\(v) records producer \(where_), but that node does not list it among its outputs; add it to the node's outputs or clear the producer"
                )
            }
        }
        // Prefix sums, then fill consumers in node order so each list is sorted by node.
        for v in 0..<values.count { consumerCount[v + 1] += consumerCount[v] }
        edges.consumerStart = consumerCount
        var cursor = consumerCount
        edges.consumerList = [Int](repeating: 0, count: edges.inputList.count)
        for n in 0..<nodes.count {
            for i in edges.inputStart[n]..<edges.inputStart[n + 1] {
                let v = edges.inputList[i]
                edges.consumerList[cursor[v]] = n
                cursor[v] += 1
                if edges.producer[v] >= 0 { edges.inDegree[n] += 1 }
            }
        }
        return edges
    }

    /// Computes each node's allowed devices and interns equal sets into placement classes.
    static func buildClasses(
        _ problem: SchedulingProblem, kindNames: [String], deviceKind: [Int], cost: [Double], processCount: Int
    ) throws(SchedulingError) -> Placement {
        let nodes = problem.nodes
        let devices = problem.devices
        let kindCount = kindNames.count
        var classID: [[Int]: Int] = [:]
        var classDevices: [[Int]] = []
        var nodeClass = [Int](repeating: 0, count: nodes.count)
        var allowed: [Int] = []
        allowed.reserveCapacity(devices.count)
        for (n, node) in nodes.enumerated() {
            allowed.removeAll(keepingCapacity: true)
            if let pin = node.pinnedDevice {
                guard pin.index >= 0 && pin.index < devices.count else {
                    throw SchedulingError(
                        .unknownDevice,
                        "\(describe(n, nodes)) is pinned to device \(pin.index), but the problem has \(devices.count) devices; pin it to device 0…\(devices.count - 1) or remove the pin"
                    )
                }
                let device = devices[pin.index]
                guard cost[n * kindCount + deviceKind[pin.index]].isFinite else {
                    throw SchedulingError(
                        .pinnedDeviceLacksOp,
                        "\(describe(n, nodes)) is pinned to device \(pin.index) (\(device.kind)), which lacks \(node.op) (no cost entry); pin it to a device of a kind that has the op or add an estimate for \(device.kind)"
                    )
                }
                if let process = node.pinnedProcess, process != device.process {
                    throw SchedulingError(
                        .pinnedDeviceLacksOp,
                        "\(describe(n, nodes)) is pinned to device \(pin.index) in process \(device.process) and also to process \(process); remove one of the pins"
                    )
                }
                if let kind = node.pinnedKind, kind != device.kind {
                    throw SchedulingError(
                        .pinnedDeviceLacksOp,
                        "\(describe(n, nodes)) is pinned to device \(pin.index) (\(device.kind)) and also to kind \(kind); remove one of the pins"
                    )
                }
                allowed.append(pin.index)
            } else {
                for d in 0..<devices.count where cost[n * kindCount + deviceKind[d]].isFinite {
                    if let process = node.pinnedProcess, devices[d].process != process { continue }
                    if let kind = node.pinnedKind, devices[d].kind != kind { continue }
                    allowed.append(d)
                }
                if allowed.isEmpty { throw unsupported(n, problem, kindNames: kindNames, cost: cost) }
            }
            if let c = classID[allowed] {
                nodeClass[n] = c
            } else {
                classID[allowed] = classDevices.count
                nodeClass[n] = classDevices.count
                classDevices.append(allowed)
            }
        }
        // Base classes restricted to one process, for nodes bound to a process before a device.
        // They are interned apart from the base classes even when the device sets are equal, so
        // bound nodes never queue behind unbound ones that are waiting for room to be placed.
        let baseClassCount = classDevices.count
        var restrictedID: [[Int]: Int] = [:]
        var restrictedClass = [Int](repeating: -1, count: baseClassCount * processCount)
        for c in 0..<baseClassCount {
            for p in 0..<processCount {
                let subset = classDevices[c].filter { devices[$0].process == p }
                guard !subset.isEmpty else { continue }
                if let existing = restrictedID[subset] {
                    restrictedClass[c * processCount + p] = existing
                } else {
                    restrictedID[subset] = classDevices.count
                    restrictedClass[c * processCount + p] = classDevices.count
                    classDevices.append(subset)
                }
            }
        }
        var deviceClasses = [[Int]](repeating: [], count: devices.count)
        for (c, members) in classDevices.enumerated() {
            for d in members { deviceClasses[d].append(c) }
        }
        return Placement(
            nodeClass: nodeClass, classDevices: classDevices, baseClassCount: baseClassCount,
            restrictedClass: restrictedClass, deviceClasses: deviceClasses)
    }

    /// Explains why no device can run node `n`: which kinds lack the op, and which pins excluded the rest.
    static func unsupported(_ n: Int, _ problem: SchedulingProblem, kindNames: [String], cost: [Double]) -> SchedulingError {
        let node = problem.nodes[n]
        let supporting = kindNames.indices.filter { cost[n * kindNames.count + $0].isFinite }.map { kindNames[$0] }
        var pins: [String] = []
        if let process = node.pinnedProcess { pins.append("process \(process)") }
        if let kind = node.pinnedKind { pins.append("kind \(kind)") }
        let available = kindNames.joined(separator: ", ")
        if supporting.isEmpty {
            return SchedulingError(
                .unsupportedOp,
                "\(describe(n, problem.nodes)) cannot run on any device: the cost table has no entry for it on device kinds \(available); add an estimate for one of these kinds or a device of a kind that has \(node.op)"
            )
        }
        return SchedulingError(
            .unsupportedOp,
            "\(describe(n, problem.nodes)) cannot run on any device: it runs on \(supporting.joined(separator: ", ")) (device kinds: \(available)), but it is pinned to \(pins.joined(separator: " and ")), which has no such device; change the pin or add a device there"
        )
    }

    /// Kahn's algorithm over the node graph; on a cycle, names the nodes on one cycle in order.
    static func topologicalOrder(_ problem: SchedulingProblem, _ edges: Edges) throws(SchedulingError) -> [Int] {
        let nodeCount = problem.nodes.count
        var remaining = edges.inDegree
        var order: [Int] = []
        order.reserveCapacity(nodeCount)
        for n in 0..<nodeCount where remaining[n] == 0 { order.append(n) }
        var head = 0
        while head < order.count {
            let n = order[head]
            head += 1
            for o in edges.outputStart[n]..<edges.outputStart[n + 1] {
                let v = edges.outputList[o]
                for c in edges.consumerStart[v]..<edges.consumerStart[v + 1] {
                    let consumer = edges.consumerList[c]
                    remaining[consumer] -= 1
                    if remaining[consumer] == 0 { order.append(consumer) }
                }
            }
        }
        guard order.count < nodeCount else { return order }

        // Every node left has an unfinished producer; walking producers backwards from one of them
        // must revisit a node, and the stretch between the two visits is a cycle.
        var position = [Int](repeating: -1, count: nodeCount)
        var path: [Int] = []
        var n = (0..<nodeCount).first { remaining[$0] > 0 }!
        while position[n] < 0 {
            position[n] = path.count
            path.append(n)
            var next = -1
            for i in edges.inputStart[n]..<edges.inputStart[n + 1] {
                let p = edges.producer[edges.inputList[i]]
                if p >= 0 && remaining[p] > 0 {
                    next = p
                    break
                }
            }
            n = next
        }
        let cycle = [n] + path[(position[n] + 1)...].reversed() + [n]
        let names = cycle.map { describe($0, problem.nodes) }.joined(separator: " → ")
        throw SchedulingError(
            .cycle,
            "the graph has a cycle: \(names); a node cannot depend on its own output, so break the cycle (\(nodeCount - order.count) nodes cannot be ordered)"
        )
    }
}

/// What a schedule did, per device: estimated busy time, how many nodes of each op ran there,
/// and the traffic between processes.
///
/// Busy time is the sum of cost-table estimates of the nodes a device ran, so the state machine
/// can report it without a clock. `makespanSeconds` and utilisation are known only when the
/// schedule was driven on virtual time by `SchedulerSimulation`.
public struct SchedulerReport: Sendable, Hashable, CustomStringConvertible {
    /// One device's share of the work.
    public struct DeviceUsage: Sendable, Hashable {
        public var device: DeviceID
        public var kind: String
        public var process: Int
        /// Estimated seconds of the nodes this device ran.
        public var busySeconds: Double
        /// Nodes this device ran.
        public var nodesRun: Int
        /// Nodes this device ran, by op label.
        public var opCounts: [String: Int]
        /// `busySeconds / makespanSeconds`, when the makespan is known.
        public var utilisation: Double?
    }

    public var devices: [DeviceUsage]
    /// Nodes run so far, over all devices.
    public var nodesRun: Int
    /// `.send` directives issued and the bytes they move.
    public var sends: Int
    public var bytesSent: Int
    /// `.free` directives issued.
    public var frees: Int
    /// The critical path of the problem: a lower bound on the makespan.
    public var criticalPathSeconds: Double
    /// The time from start to the last completion, when driven on virtual time.
    public var makespanSeconds: Double?

    /// A small fixed-format table, one line per device.
    public var description: String {
        var lines: [String] = []
        var head = "nodes \(nodesRun), sends \(sends) (\(bytesSent) bytes), frees \(frees), critical path \(formatSeconds(criticalPathSeconds)) s"
        if let makespanSeconds { head += ", makespan \(formatSeconds(makespanSeconds)) s" }
        lines.append(head)
        for usage in devices {
            var line = "\(usage.device) (\(usage.kind), node \(usage.process)): busy \(formatSeconds(usage.busySeconds)) s"
            if let utilisation = usage.utilisation {
                line += " (\(Int((utilisation * 100).rounded()))%)"
            }
            let ops = usage.opCounts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }
            line += ", \(usage.nodesRun) nodes" + (ops.isEmpty ? "" : ": " + ops.joined(separator: ", "))
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

extension Scheduler {
    /// The work done so far, per device. The makespan is unknown to the state machine (nil).
    public var report: SchedulerReport {
        let p = prepared
        var opCounts = [[String: Int]](repeating: [:], count: p.deviceProcess.count)
        for n in 0..<p.nodeCount where assignedDevice[n] >= 0 {
            opCounts[assignedDevice[n]][p.problem.nodes[n].op, default: 0] += 1
        }
        let devices = p.deviceProcess.indices.map { d in
            SchedulerReport.DeviceUsage(
                device: DeviceID(d), kind: p.kindNames[p.deviceKind[d]], process: p.deviceProcess[d],
                busySeconds: busySeconds[d], nodesRun: nodesRun[d], opCounts: opCounts[d], utilisation: nil)
        }
        return SchedulerReport(
            devices: devices, nodesRun: nodesRun.reduce(0, +), sends: sendCount, bytesSent: bytesSent,
            frees: freeCount, criticalPathSeconds: p.criticalPathSeconds, makespanSeconds: nil)
    }
}

import DeepseekCore
public import DeepseekTracing

/// What one simulated iteration measured.
public struct SimulationResult: Sendable {
    /// One device's time, split by what it was doing.
    public struct DeviceUsage: Sendable, Hashable {
        public var device: Int
        public var stage: Int
        public var replica: Int
        /// Seconds of kernels (forward, backward, optimizer).
        public var compute: Double
        /// Seconds compute waited on tensor-parallel (and ZeRO-3) collectives.
        public var blockingCommunication: Double
        /// Seconds waiting for activations or gradients from other pipeline stages (the bubble).
        public var pipelineWait: Double
        /// Seconds data-parallel collectives were active on this device.
        public var collectiveActive: Double
        /// Seconds between the end of compute and the optimizer (and after it, for ZeRO gathers): communication not hidden.
        public var exposedCommunication: Double
        public var finished: Bool
    }

    /// One collective operation over its group.
    public struct CollectiveRecord: Sendable, Hashable {
        public var name: String
        public var operation: String
        public var members: Int
        public var payloadBytes: Double
        public var start: Double
        public var end: Double
        /// The part of [start, end] after the members' compute had ended.
        public var exposed: Double
        public var finished: Bool
    }

    /// One link's traffic.
    public struct LinkUsage: Sendable, Hashable {
        public var name: String
        /// Bytes carried, or core-seconds of work for a processor resource (`isProcessor`).
        public var bytes: Double
        public var utilisation: Double
        /// A node's shared cores or a device's core, not a wire.
        public var isProcessor = false
    }

    public var completed: Bool
    /// What failed, in words, when the iteration did not complete.
    public var failures: [String]
    public var iterationSeconds: Double
    public var devices: [DeviceUsage]
    public var collectives: [CollectiveRecord]
    public var links: [LinkUsage]
    public var transport: SimulatedTransport.Statistics
    /// Events the discrete-event loop processed.
    public var events: Int
    public var wallSeconds: Double
    /// FLOPs of the model per iteration (all replicas, all microbatches).
    public var modelFlops: Double
    public var samples: Double
    public var tokens: Double
    public var peakFlopsPerDevice: Double
    public var tensorAllReduceSeconds: Double
    public var pipelineBytes: Double
    /// The slowest lane's timeline, as (phase, seconds) in order: the iteration's critical path.
    public var criticalPath: [(String, Double)]
    public var trace: [TraceEvent]
    public var modelName: String

    public var samplesPerSecond: Double { completed && iterationSeconds > 0 ? samples / iterationSeconds : 0 }
    public var tokensPerSecond: Double { completed && iterationSeconds > 0 ? tokens / iterationSeconds : 0 }
    /// Achieved model FLOP/s per device.
    public var flopsPerDevice: Double { iterationSeconds > 0 ? modelFlops / Double(max(devices.count, 1)) / iterationSeconds : 0 }
    /// Model FLOPs utilisation: achieved over peak.
    public var mfu: Double { peakFlopsPerDevice > 0 ? flopsPerDevice / peakFlopsPerDevice : 0 }
    public var computeSeconds: Double { devices.map(\.compute).max() ?? 0 }
    public var exposedCommunicationSeconds: Double { devices.map { $0.exposedCommunication + $0.blockingCommunication }.max() ?? 0 }
}

extension ClusterSimulation {
    func makeResult(wallSeconds: Double) -> SimulationResult {
        let c = configuration
        let end = lanes.compactMap(\.end).max() ?? queue.now
        let completed = lanes.allSatisfy { $0.end != nil } && protocolErrors.isEmpty
        var failures = protocolErrors
        if !completed {
            for crash in c.faults.crashes.sorted(by: { ($0.at, $0.node) < ($1.at, $1.node) }) where crash.at <= queue.now {
                let devices = (0..<c.topology.devicesPerNode).map { crash.node * c.topology.devicesPerNode + $0 }
                failures.append("node \(crash.node) (devices \(devices.first!)–\(devices.last!)) crashed at \(format(crash.at)) s")
            }
            for (i, col) in collectives.enumerated() where !col.isFinished && col.started.contains(true) {
                let waiting = col.machines.indices.filter { col.started[$0] && col.finishedAt[$0] == nil }
                let dead = Set(c.faults.crashes.filter { $0.at <= queue.now }.map(\.node))
                // Devices on crashed nodes first: they are the ones nobody will hear from again.
                let awaited = Set(waiting.flatMap { col.machines[$0].awaitedRanks }).map { col.devices[$0] }
                    .sorted { (dead.contains(c.topology.node(of: $0)) ? 0 : 1, $0) < (dead.contains(c.topology.node(of: $1)) ? 0 : 1, $1) }
                failures.append("\(col.name) (#\(i)) stalled: \(waiting.count) of \(col.devices.count) members waiting on devices \(awaited.prefix(8).map(String.init).joined(separator: ", "))\(awaited.count > 8 ? "…" : "")")
                if failures.count > 12 { break }
            }
            let stuck = lanes.filter { $0.end == nil }.count
            failures.append("\(stuck) of \(lanes.count) pipeline lanes did not finish; the failure detector declares the iteration failed at \(format(queue.now + c.faults.failureTimeout)) s")
        }
        var devices: [SimulationResult.DeviceUsage] = []
        for lane in lanes {
            let exposed = lane.computeEnd.map { ce in (lane.optimizerStart ?? end) - ce + max(0, (lane.end ?? end) - (lane.optimizerStart ?? end) - optimizerSecondsFor(lane)) } ?? 0
            for d in lane.devices {
                var active = 0.0
                for id in collectivesOfLane[laneOf(device: d)] {
                    if let r = collectives[id].rankOfDevice[d], let s = collectives[id].startedAt[r] { active += (collectives[id].finishedAt[r] ?? end) - s }
                }
                devices.append(.init(
                    device: d, stage: lane.stage, replica: lane.replica, compute: lane.compute, blockingCommunication: lane.tensorComm, pipelineWait: lane.pipelineWait,
                    collectiveActive: active, exposedCommunication: max(0, exposed), finished: lane.end != nil))
            }
        }
        devices.sort { $0.device < $1.device }
        let records = collectives.map { col -> SimulationResult.CollectiveRecord in
            let start = col.startedAt.compactMap { $0 }.min() ?? 0
            let stop = col.finishedAt.compactMap { $0 }.max() ?? end
            let computeEnd = col.devices.compactMap { lanes[laneOf(device: $0)].computeEnd }.max() ?? stop
            return .init(
                name: col.name, operation: col.operation.rawValue, members: col.devices.count, payloadBytes: col.payloadBytes, start: start, end: stop,
                exposed: max(0, stop - max(start, computeEnd)), finished: col.isFinished)
        }
        let links = transport.network.links.enumerated().compactMap { i, link -> SimulationResult.LinkUsage? in
            let bytes = transport.linkBytes[i]
            return bytes > 0 ? .init(name: link.name, bytes: bytes, utilisation: end > 0 ? bytes / (link.capacity * end) : 0, isProcessor: transport.network.isProcessor(i)) : nil
        }
        let w = c.workload
        let microbatches = Double(layout.microbatches * layout.dataParallel)
        let slowest = lanes.max { ($0.end ?? .infinity, $0.stage) < ($1.end ?? .infinity, $1.stage) }
        var path: [(String, Double)] = []
        if let s = slowest {
            let opt = optimizerSecondsFor(s)
            path = [
                ("forward + backward compute (stage \(s.stage), replica \(s.replica))", s.compute - opt), ("tensor-parallel / ZeRO-3 collectives", s.tensorComm),
                ("pipeline bubble and waits", s.pipelineWait), ("exposed gradient communication", (s.optimizerStart ?? end) - (s.computeEnd ?? end)),
                ("optimizer step", s.optimizerStart == nil ? 0 : opt), ("parameter all-gather after the step", max(0, (s.end ?? end) - (s.optimizerStart ?? end) - opt)),
            ]
        }
        var trace = events
        if c.trace {
            let indexed = trace.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }
            trace = indexed.map(\.element)
        }
        return SimulationResult(
            completed: completed, failures: failures, iterationSeconds: end, devices: devices, collectives: records, links: links, transport: transport.statistics,
            events: queue.processed, wallSeconds: wallSeconds, modelFlops: w.trainingFlops * microbatches, samples: Double(w.batch) * microbatches,
            tokens: Double(w.batch * w.tokensPerSample) * microbatches, peakFlopsPerDevice: c.device.peak(c.precision), tensorAllReduceSeconds: tensorAllReduceSeconds,
            pipelineBytes: p2pBytes, criticalPath: path, trace: trace, modelName: w.model)
    }

    func optimizerSecondsFor(_ lane: Lane) -> Double {
        guard let i = lanes.firstIndex(where: { $0.stage == lane.stage && $0.replica == lane.replica }) else { return 0 }
        return lanes[i].optimizerWall ?? optimizerSeconds(i)
    }

    func format(_ seconds: Double) -> String { fixed(seconds, 6) }

    // MARK: Timeline

    func instant(_ seconds: Double) -> Instant { Instant(nanoseconds: UInt64(max(0, seconds * 1e9).rounded())) }

    /// A span's length as its rounded end minus its rounded start, so spans that follow each
    /// other on a track meet exactly instead of overlapping by a rounded nanosecond.
    func nanoseconds(_ start: Double, _ seconds: Double) -> UInt64 {
        let (from, to) = (instant(start).nanoseconds, instant(start + max(0, seconds)).nanoseconds)
        return to >= from ? to - from : 0
    }

    func span(lane l: Int, name: String, start: Double, seconds: Double, category: TraceCategory) {
        let lane = lanes[l]
        let track = TraceTrack(node: UInt32(configuration.topology.node(of: lane.devices[0])), thread: UInt64(lane.devices[0]), name: "stage \(lane.stage) replica \(lane.replica) compute")
        events.append(TraceEvent(timestamp: instant(start), track: track, category: category, name: name, kind: .complete(duration: nanoseconds(start, seconds))))
    }

    func span(device: Int, name: String, start: Double, seconds: Double) {
        let track = TraceTrack(node: UInt32(configuration.topology.node(of: device)), thread: 1_000_000 + UInt64(device), name: "device \(device) collectives")
        events.append(TraceEvent(timestamp: instant(start), track: track, category: .training, name: name, kind: .complete(duration: nanoseconds(start, seconds))))
    }

    func traceMessage(_ m: SimulatedTransport.Message) {
        tracedMessages += 1
        flowSequence += 1
        let t = configuration.topology
        // Messages are traced as they arrive, so in order of their ends: a row whose last
        // message ended by this one's start holds none that overlaps it.
        let (start, duration) = (instant(m.sentAt).nanoseconds, nanoseconds(m.sentAt, queue.now - m.sentAt))
        var rows = messageRowEnds[m.source, default: []]
        let row = rows.firstIndex { $0 <= start } ?? rows.count
        if row == rows.count { rows.append(0) }
        rows[row] = start + duration
        messageRowEnds[m.source] = rows
        let track = TraceTrack(
            node: UInt32(t.node(of: m.source)), thread: 2_000_000 + UInt64(m.source) + UInt64(row) * 10_000_000,
            name: "device \(m.source) network\(row > 0 ? " (\(row + 1))" : "")")
        let transfer = TraceTransfer(
            duration: duration, bytes: Int64(m.bytes), source: UInt32(t.node(of: m.source)), destination: UInt32(t.node(of: m.destination)),
            flow: FlowID(rawValue: flowSequence))
        events.append(TraceEvent(timestamp: instant(m.sentAt), track: track, category: .transport, name: "message \(m.source)→\(m.destination)", kind: .transfer(transfer)))
    }
}

import DeepseekCore
import DeepseekTraining
import DeepseekTracing

extension ClusterSimulation {
    /// Runs the iteration to its end (or until nothing can move after a fault) and measures it.
    public func run() -> SimulationResult {
        let wallStart = ContinuousClock.now
        for l in lanes.indices { step(l) }
        while let e = queue.pop() {
            switch e.kind {
            case ClusterSimulation.kindLaneStep: segmentDone(e.a)
            case ClusterSimulation.kindOptimizerDone: optimizerDone(e.a)
            case ClusterSimulation.kindCollectiveStart: markReady(e.a, device: e.b)
            default:
                guard let m = transport.handle(e, queue: &queue) else { continue }
                if m.isCompute { computeDone(m.token) } else { deliver(m) }
            }
        }
        let wall = ContinuousClock.now - wallStart
        return makeResult(wallSeconds: Double(wall.components.seconds) + Double(wall.components.attoseconds) * 1e-18)
    }

    func laneOf(device: Int) -> Int {
        let tp = layout.tensorParallel, dp = layout.dataParallel
        return laneIndex(replica: (device / tp) % dp, stage: device / (tp * dp))
    }

    func currentLayer(_ lane: Lane) -> Int {
        lane.program[lane.pc].forward ? lane.layers.lowerBound + lane.cursor : lane.layers.upperBound - 1 - lane.cursor
    }

    func step(_ l: Int) {
        guard !lanes[l].running, lanes[l].end == nil, !lanes[l].crashed else { return }
        let now = queue.now
        if now >= lanes[l].crashAt { lanes[l].crashed = true; return }
        guard lanes[l].pc < lanes[l].program.count else {
            if lanes[l].computeEnd == nil {
                lanes[l].computeEnd = now
                // Collectives outside the stream (the loss all-reduce) start as compute ends.
                for id in collectivesOfLane[l] where !collectives[id].streamed {
                    for device in lanes[l].devices { if let rank = collectives[id].rankOfDevice[device], !collectives[id].started[rank] { start(id, rank: rank) } }
                }
            }
            tryOptimizer(l)
            return
        }
        let op = lanes[l].program[lanes[l].pc]
        if lanes[l].cursor == 0 {
            let s = lanes[l].stage
            let arrived = op.forward
                ? (s == 0 || received[l][op.microbatch * 2] >= layout.tensorParallel)
                : (s == layout.pipelineParallel - 1 || received[l][op.microbatch * 2 + 1] >= layout.tensorParallel)
            guard arrived else {
                if lanes[l].waitingSince == nil { lanes[l].waitingSince = now }
                return
            }
            if let w = lanes[l].waitingSince { lanes[l].pipelineWait += now - w; lanes[l].waitingSince = nil }
        }
        let layer = currentLayer(lanes[l])
        var compute = op.forward ? layerTimes[layer].forward : layerTimes[layer].backward
        // The runtime's fixed cost of a step (tracing the graph, looking up its plan, reading the
        // loss back) comes before the first layer of the first microbatch.
        let first = lanes[l].pc == 0 && lanes[l].cursor == 0
        if first { compute += configuration.device.stepOverhead }
        let blocking = (tensorSeconds.isEmpty ? 0 : 2 * tensorSeconds[layer]) + (zeroGatherSeconds.isEmpty ? 0 : zeroGatherSeconds[layer])
        lanes[l].tensorComm += blocking
        lanes[l].running = true
        let name = "\(first && configuration.device.stepOverhead > 0 ? "step start + " : "")\(op.forward ? "forward" : "backward") \(configuration.workload.layers[layer].name) mb\(op.microbatch)"
        if sharesCores {
            // Each device's span is work on its node's shared cores; the segment ends when all
            // of the lane's devices are done, however long sharing stretches them.
            lanes[l].pendingSpans = lanes[l].devices.count
            (lanes[l].segmentStart, lanes[l].segmentName) = (now, name)
            for d in lanes[l].devices { transport.compute(on: d, seconds: compute + blocking, token: Self.computeToken(Self.kindLaneStep, l), queue: &queue) }
            return
        }
        lanes[l].compute += compute
        if configuration.trace { span(lane: l, name: name, start: now, seconds: compute + blocking, category: .kernel) }
        queue.schedule(at: now + compute + blocking, kind: ClusterSimulation.kindLaneStep, l)
    }

    /// Whether devices share their node's cores (`ClusterTopology.coresPerNode`).
    var sharesCores: Bool { configuration.topology.coresPerNode != nil }

    static func computeToken(_ kind: UInt32, _ lane: Int) -> Int { Int(kind) << 40 | lane }

    /// One device's span of shared-core work is done: the lane's segment or optimizer step ends
    /// with its last device.
    func computeDone(_ token: Int) {
        let (kind, l) = (UInt32(token >> 40), token & (1 << 40 - 1))
        lanes[l].pendingSpans -= 1
        guard lanes[l].pendingSpans == 0 else { return }
        let seconds = queue.now - lanes[l].segmentStart
        if kind == ClusterSimulation.kindLaneStep {
            lanes[l].compute += seconds
            if configuration.trace { span(lane: l, name: lanes[l].segmentName, start: lanes[l].segmentStart, seconds: seconds, category: .kernel) }
            segmentDone(l)
        } else {
            lanes[l].optimizerWall = seconds
            if configuration.trace { span(lane: l, name: "optimizer step", start: lanes[l].segmentStart, seconds: seconds, category: .training) }
            optimizerDone(l)
        }
    }

    func segmentDone(_ l: Int) {
        lanes[l].running = false
        if queue.now >= lanes[l].crashAt { lanes[l].crashed = true; return }
        let op = lanes[l].program[lanes[l].pc]
        let layer = currentLayer(lanes[l])
        let s = lanes[l].stage
        if !op.forward && op.microbatch == layout.microbatches - 1 {
            let b = bucketOfLayer[layer]
            if b >= 0 && buckets[s][b].last == layer { bucketReady(l, bucket: b) }
        }
        lanes[l].cursor += 1
        if lanes[l].cursor == lanes[l].layers.count {
            lanes[l].cursor = 0
            lanes[l].pc += 1
            let d = lanes[l].replica
            let boundary = configuration.workload.layers[op.forward ? lanes[l].layers.upperBound - 1 : lanes[l].layers.lowerBound].boundaryBytes * scale
            let bytes = max(boundary, 1) / Double(layout.tensorParallel)
            if op.forward && s < layout.pipelineParallel - 1 {
                sendPoint(from: l, to: laneIndex(replica: d, stage: s + 1), microbatch: op.microbatch, direction: 0, bytes: bytes)
            } else if !op.forward && s > 0 {
                sendPoint(from: l, to: laneIndex(replica: d, stage: s - 1), microbatch: op.microbatch, direction: 1, bytes: bytes)
            }
        }
        step(l)
    }

    func sendPoint(from l: Int, to target: Int, microbatch: Int, direction: Int, bytes: Double) {
        let token = -(1 + (target * layout.microbatches + microbatch) * 2 + direction)
        for t in 0..<layout.tensorParallel {
            p2pBytes += bytes
            transport.send(from: lanes[l].devices[t], to: lanes[target].devices[t], bytes: bytes, token: token, queue: &queue)
        }
    }

    func bucketReady(_ l: Int, bucket b: Int) {
        var selection = 0.0
        if case .topK = configuration.compression {
            // Top-k selection reads the bucket's gradient and residual and writes the residual back.
            let values = Double(buckets[lanes[l].stage][b].reduce(0) { $0 + configuration.workload.layers[$1].parameters }) / Double(layout.tensorParallel)
            selection = configuration.device.seconds(flops: values * 4, bytes: values * 12, precision: .fp32)
        }
        for id in collectivesOfLane[l] where collectives[id].bucket == b && collectives[id].operation != .allGather {
            for device in lanes[l].devices where collectives[id].rankOfDevice[device] != nil {
                queue.schedule(at: queue.now + selection, kind: ClusterSimulation.kindCollectiveStart, id, device)
            }
        }
    }

    func markReady(_ id: Int, device: Int) {
        guard queue.now < lanes[laneOf(device: device)].crashAt else { return }
        ready[device].insert(id)
        pump(device)
    }

    /// Starts the device's next collectives in issue order, one at a time (a collective stream).
    func pump(_ device: Int) {
        while streamHead[device] < streams[device].count {
            let id = streams[device][streamHead[device]]
            let rank = collectives[id].rankOfDevice[device]!
            if collectives[id].started[rank] {
                guard collectives[id].finishedAt[rank] != nil else { return }
                streamHead[device] += 1
                continue
            }
            guard ready[device].contains(id) else { return }
            guard start(id, rank: rank) else { return }
        }
    }

    /// Starts member `rank` of collective `id`; `false` after a protocol error.
    @discardableResult
    func start(_ id: Int, rank: Int) -> Bool {
        collectives[id].started[rank] = true
        collectives[id].startedAt[rank] = queue.now
        do {
            let out = try collectives[id].machines[rank].start()
            emit(out, instance: id, rank: rank)
            return true
        } catch {
            protocolErrors.append("\(collectives[id].name): \(error)")
            return false
        }
    }

    func emit(_ directives: [CollectiveDirective], instance id: Int, rank: Int) {
        let from = collectives[id].devices[rank]
        for d in directives {
            switch d {
            case .send(let m, let to):
                let slot: Int
                if let free = freeInflight.popLast() { inflight[free] = (id, m); slot = free } else { inflight.append((id, m)); slot = inflight.count - 1 }
                let bytes = Double(m.payload.valueCount) * collectives[id].bytesPerValue
                transport.send(from: from, to: collectives[id].devices[to], bytes: bytes, token: slot, queue: &queue)
            case .finished:
                collectives[id].finishedAt[rank] = queue.now
                collectives[id].finishedCount += 1
                if configuration.trace, let start = collectives[id].startedAt[rank] {
                    span(device: from, name: collectives[id].name, start: start, seconds: queue.now - start)
                }
                let l = laneOf(device: from)
                tryOptimizer(l)
                tryEnd(l)
                pump(from)
            }
        }
    }

    func deliver(_ m: SimulatedTransport.Message) {
        if configuration.trace && tracedMessages < configuration.traceMessageLimit { traceMessage(m) }
        if m.token < 0 {
            let code = -(m.token + 1)
            let direction = code % 2, rest = code / 2
            let (target, microbatch) = (rest / layout.microbatches, rest % layout.microbatches)
            received[target][microbatch * 2 + direction] += 1
            step(target)
            return
        }
        guard let (id, message) = inflight[m.token] else { return }
        inflight[m.token] = nil
        freeInflight.append(m.token)
        guard queue.now < lanes[laneOf(device: m.destination)].crashAt, let rank = collectives[id].rankOfDevice[m.destination] else { return }
        do {
            let out = try collectives[id].machines[rank].receive(message)
            if collectives[id].started[rank] || !out.isEmpty { emit(out, instance: id, rank: rank) }
        } catch {
            protocolErrors.append("\(collectives[id].name): \(error)")
        }
    }

    func lanePending(_ l: Int, parameterGathers: Bool) -> Bool {
        for id in collectivesOfLane[l] where (collectives[id].operation == .allGather) == parameterGathers {
            for device in lanes[l].devices {
                if let r = collectives[id].rankOfDevice[device], collectives[id].finishedAt[r] == nil { return true }
            }
        }
        return false
    }

    func optimizerSeconds(_ l: Int) -> Double {
        let params = Double(lanes[l].layers.reduce(0) { $0 + configuration.workload.layers[$1].parameters }) / Double(layout.tensorParallel)
        let shard = layout.zeroStage >= 1 ? params / Double(layout.dataParallel) : params
        // A measured profile times the runtime's own step path (flatten the gradients, update the
        // shard, write the gathered parameters back).
        return configuration.device.optimizerSeconds(parameters: params, shard: shard)
    }

    func tryOptimizer(_ l: Int) {
        guard lanes[l].computeEnd != nil, lanes[l].optimizerStart == nil, !lanes[l].crashed, !lanePending(l, parameterGathers: false) else { return }
        guard queue.now < lanes[l].crashAt else { lanes[l].crashed = true; return }
        lanes[l].optimizerStart = queue.now
        let seconds = optimizerSeconds(l)
        if sharesCores {
            lanes[l].pendingSpans = lanes[l].devices.count
            lanes[l].segmentStart = queue.now
            for d in lanes[l].devices { transport.compute(on: d, seconds: seconds, token: Self.computeToken(Self.kindOptimizerDone, l), queue: &queue) }
            return
        }
        if configuration.trace { span(lane: l, name: "optimizer step", start: queue.now, seconds: seconds, category: .training) }
        queue.schedule(at: queue.now + seconds, kind: ClusterSimulation.kindOptimizerDone, l)
    }

    func optimizerDone(_ l: Int) {
        guard queue.now < lanes[l].crashAt else { lanes[l].crashed = true; return }
        lanes[l].compute += lanes[l].optimizerWall ?? optimizerSeconds(l)
        for id in collectivesOfLane[l] where collectives[id].operation == .allGather {
            for device in lanes[l].devices where collectives[id].rankOfDevice[device] != nil { markReady(id, device: device) }
        }
        lanes[l].optimizerDone = true
        tryEnd(l)
    }

    func tryEnd(_ l: Int) {
        guard lanes[l].end == nil, lanes[l].optimizerDone, !lanePending(l, parameterGathers: true) else { return }
        lanes[l].end = queue.now
    }
}

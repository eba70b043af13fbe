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
                if let m = transport.handle(e, queue: &queue) { deliver(m) }
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
            if lanes[l].computeEnd == nil { lanes[l].computeEnd = now }
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
        let compute = op.forward ? layerTimes[layer].forward : layerTimes[layer].backward
        let blocking = (tensorSeconds.isEmpty ? 0 : 2 * tensorSeconds[layer]) + (zeroGatherSeconds.isEmpty ? 0 : zeroGatherSeconds[layer])
        lanes[l].compute += compute
        lanes[l].tensorComm += blocking
        lanes[l].running = true
        if configuration.trace {
            span(lane: l, name: "\(op.forward ? "forward" : "backward") \(configuration.workload.layers[layer].name) mb\(op.microbatch)", start: now, seconds: compute + blocking, category: .kernel)
        }
        queue.schedule(at: now + compute + blocking, kind: ClusterSimulation.kindLaneStep, l)
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
            collectives[id].started[rank] = true
            collectives[id].startedAt[rank] = queue.now
            do {
                let out = try collectives[id].machines[rank].start()
                emit(out, instance: id, rank: rank)
            } catch {
                protocolErrors.append("\(collectives[id].name): \(error)")
                return
            }
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
        // Mixed-precision Adam streams about 28 bytes per parameter (fp32 master, m, v in and out; 16-bit gradient and weight).
        return configuration.device.seconds(flops: shard * 10, bytes: shard * 28, precision: .fp32)
    }

    func tryOptimizer(_ l: Int) {
        guard lanes[l].computeEnd != nil, lanes[l].optimizerStart == nil, !lanes[l].crashed, !lanePending(l, parameterGathers: false) else { return }
        guard queue.now < lanes[l].crashAt else { lanes[l].crashed = true; return }
        lanes[l].optimizerStart = queue.now
        let seconds = optimizerSeconds(l)
        if configuration.trace { span(lane: l, name: "optimizer step", start: queue.now, seconds: seconds, category: .training) }
        queue.schedule(at: queue.now + seconds, kind: ClusterSimulation.kindOptimizerDone, l)
    }

    func optimizerDone(_ l: Int) {
        guard queue.now < lanes[l].crashAt else { lanes[l].crashed = true; return }
        lanes[l].compute += optimizerSeconds(l)
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

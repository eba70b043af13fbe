extension Scheduler {
    /// Hands ready work to devices with free slots until no free device can run any ready node.
    ///
    /// Each round picks the highest-ranked node at the top of any class heap that still has a free
    /// device, then the free device of that class with the earliest estimated finish. A device in
    /// a process that lacks some of the node's inputs is a candidate only while fewer nodes wait
    /// for transfers into that process than it has device slots; when no device qualifies, that
    /// class is skipped until room opens up. Work per round is O(classes + devices · inputs);
    /// classes are few (one per distinct allowed-device set), so this stays cheap on large graphs.
    mutating func dispatch(_ out: inout [SchedulerDirective]) {
        let p = prepared
        let classCount = heaps.count
        // Classes whose top node found no device this call; cleared when room opens up.
        var anyBlocked = false
        while true {
            var bestClass = -1
            var bestRank = 0.0
            var bestNode = 0
            for c in 0..<classCount where classFreeDevices[c] > 0 && !blocked[c] {
                guard let top = heaps[c].top else { continue }
                if bestClass < 0 || top.rank > bestRank || (top.rank == bestRank && top.node < bestNode) {
                    bestClass = c
                    bestRank = top.rank
                    bestNode = top.node
                }
            }
            guard bestClass >= 0 else { break }
            let n = bestNode
            let unbound = nodeState[n] == .ready

            var device = -1
            var bestFinish = Double.infinity
            for d in p.classDevices[bestClass] where outstanding[d] < settings.maxOutstandingPerDevice {
                var finish = queuedSeconds[d] + p.cost[n * p.kindCount + p.deviceKind[d]]
                if unbound {
                    let process = p.deviceProcess[d]
                    let (missing, seconds) = missingInputs(n, process)
                    // A node that would wait for transfers binds to the process early; cap how
                    // many wait there so one idle device does not claim all the ready work.
                    if missing > 0 && waitingBound[process] >= waitingBudget[process] { continue }
                    finish += seconds
                }
                if device < 0 || finish < bestFinish {
                    device = d
                    bestFinish = finish
                }
            }
            guard device >= 0 else {
                blocked[bestClass] = true
                anyBlocked = true
                continue
            }
            _ = heaps[bestClass].pop()

            if unbound {
                bind(n, to: p.deviceProcess[device], &out)
                if pendingTransfers[n] > 0 {
                    nodeState[n] = .staging
                    waitingBound[p.deviceProcess[device]] += 1
                    continue
                }
            } else {
                waitingBound[p.deviceProcess[device]] -= 1
                if anyBlocked {
                    for c in 0..<classCount { blocked[c] = false }
                    anyBlocked = false
                }
            }
            run(n, on: device, &out)
        }
        if anyBlocked {
            for c in 0..<classCount { blocked[c] = false }
        }
    }

    /// How many of `n`'s input edges are not yet in `process`, and the estimated seconds to bring
    /// those that are neither there nor on their way.
    func missingInputs(_ n: Int, _ process: Int) -> (count: Int, seconds: Double) {
        let p = prepared
        var count = 0
        var seconds = 0.0
        for i in p.inputStart[n]..<p.inputStart[n + 1] {
            let v = p.inputList[i]
            let flags = copyFlags[v * p.processCount + process]
            if flags & Self.present != 0 { continue }
            count += 1
            if flags & Self.inFlight == 0 { seconds += p.problem.transferSeconds(byteCount: p.byteCount[v]) }
        }
        return (count, seconds)
    }

    /// Places node `n` in `process`: its input copies there are reserved, missing inputs are sent,
    /// and copies elsewhere whose last unplaced consumer this was may now be freed.
    mutating func bind(_ n: Int, to process: Int, _ out: inout [SchedulerDirective]) {
        let p = prepared
        boundProcess[n] = process
        var pending = 0
        for i in p.inputStart[n]..<p.inputStart[n + 1] {
            let v = p.inputList[i]
            let cell = v * p.processCount + process
            boundUses[cell] += 1
            unboundUses[v] -= 1
            let flags = copyFlags[cell]
            if flags & Self.present != 0 { continue }
            pending += 1
            if flags & Self.inFlight != 0 { continue }
            // Send from the lowest-ranked process holding a copy. One exists: no copy is freed
            // while a consumer is unplaced, and this node was unplaced until now.
            var source = -1
            for q in 0..<p.processCount where copyFlags[v * p.processCount + q] & Self.present != 0 {
                source = q
                break
            }
            precondition(source >= 0, "Scheduler: %\(v) has no live copy to send to node \(process)")
            copyFlags[cell] = Self.inFlight
            sendSource[cell] = source
            outgoingSends[v * p.processCount + source] += 1
            sendCount += 1
            bytesSent += p.byteCount[v]
            out.append(.send(value: v, from: source, to: process))
        }
        pendingTransfers[n] = pending
        for i in p.inputStart[n]..<p.inputStart[n + 1] {
            let v = p.inputList[i]
            guard unboundUses[v] == 0 else { continue }
            for q in 0..<p.processCount where q != process { maybeFree(v, q, &out) }
        }
    }

    mutating func run(_ n: Int, on d: Int, _ out: inout [SchedulerDirective]) {
        let p = prepared
        let cost = p.cost[n * p.kindCount + p.deviceKind[d]]
        nodeState[n] = .running
        assignedDevice[n] = d
        takeSlot(d, cost: cost)
        busySeconds[d] += cost
        nodesRun[d] += 1
        out.append(.run(node: n, device: DeviceID(d)))
    }
}

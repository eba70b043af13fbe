/// The flows of a `SimulatedTransport` and their max-min fair rates on the links they cross.
///
/// Recomputing rates is the simulator's inner loop (a GPT-3 iteration on 1024 devices runs
/// about a million recomputations touching some 28 million flows), so the state lives in
/// buffers this class allocates and owns: the loops read and write them through pointers
/// loaded once per call, without the bounds, uniqueness and dynamic exclusivity checks that a
/// class's stored arrays cost on every element. Buffers grow by doubling and are reused, so once
/// grown, starting and finishing a flow allocates nothing.
///
/// Every result depends only on the order of operations, which is fixed: the component is
/// discovered breadth-first from the seed links in the order flows joined each link, the most
/// constrained link is the first in discovery order among those with the smallest share, and
/// new completion events are scheduled in discovery order. So the same calls give the same
/// rates, bit for bit, and the same sequence of events.
final class FlowSharing {
    /// One flow. Its links are `links[id * stride ..< id * stride + linkCount]`.
    struct Flow {
        /// Work still to do (bytes, or core-seconds on processors) as of `updated`.
        var remaining: Double
        var rate: Double
        var updated: Double
        /// Bumped whenever the flow's completion event is superseded.
        var version: UInt32
        var linkCount: Int32
        var latency: Double
        var message: Int
        /// What the flow puts on each of its links in all.
        var total: Double
    }

    /// One link: its capacity, the flows on it, and recomputation scratch.
    struct Link {
        var capacity: Double
        /// Capacity not yet given to frozen flows, while filling.
        var left = 0.0
        /// Flows on the link without a rate yet, while filling.
        var unfrozen: Int32 = 0
        /// `epoch` of the last recomputation that reached the link.
        var mark: UInt32 = 0
        /// The flows on the link, in the order they joined (a finished flow's place goes to
        /// the link's last flow): `count` of `room` allocated.
        var count: Int32 = 0
        var room: Int32 = 0
        var flows: UnsafeMutablePointer<Int32>?
    }

    /// The per-flow buffers, together so that a call loads them with one access.
    struct Slots {
        /// Flow slots allocated and in use (free ones included).
        var room = 0, total = 0
        var flows: UnsafeMutablePointer<Flow> = .allocate(capacity: 0)
        /// Per flow slot: `epoch` of the last recomputation that included it.
        var mark: UnsafeMutablePointer<UInt32> = .allocate(capacity: 0)
        /// Per flow slot: the rate progressive filling gave it (-1: none yet).
        var newRate: UnsafeMutablePointer<Double> = .allocate(capacity: 0)
        /// Links of every flow slot, `stride` entries per slot.
        var links: UnsafeMutablePointer<Int32> = .allocate(capacity: 0)
        var stride = 4
        /// The component's flows in discovery order (room for every flow slot).
        var component: UnsafeMutablePointer<Int32> = .allocate(capacity: 0)

        func path(_ f: Int) -> UnsafeMutablePointer<Int32> { links + f * stride }
    }

    let linkTotal: Int
    let link: UnsafeMutablePointer<Link>
    /// Work carried per link by finished flows.
    private(set) var linkBytes: [Double]
    var slots = Slots()
    var freeFlows: [Int32] = []
    /// Recomputation scratch: marks are compared against `epoch` instead of cleared.
    var epoch: UInt32 = 0
    /// The component's links in discovery order, and those still open while filling.
    let componentLinks: UnsafeMutablePointer<Int32>
    let open: UnsafeMutablePointer<Int32>

    init(capacities: [Double]) {
        linkTotal = capacities.count
        link = .allocate(capacity: linkTotal)
        for (i, c) in capacities.enumerated() { (link + i).initialize(to: Link(capacity: c)) }
        linkBytes = [Double](repeating: 0, count: linkTotal)
        componentLinks = .allocate(capacity: linkTotal)
        open = .allocate(capacity: linkTotal)
    }

    deinit {
        for i in 0..<linkTotal { link[i].flows?.deallocate() }
        link.deinitialize(count: linkTotal)
        link.deallocate()
        componentLinks.deallocate()
        open.deallocate()
        slots.flows.deallocate()
        slots.mark.deallocate()
        slots.newRate.deallocate()
        slots.links.deallocate()
        slots.component.deallocate()
    }

    /// Flows on `link` now.
    func flowCount(on l: Int) -> Int { Int(link[l].count) }

    /// Starts a flow of `work` over `path` (non-empty) and recomputes the rates it affects.
    func add(path: [Int32], work: Double, latency: Double, message: Int, queue: inout EventQueue) {
        if path.count > slots.stride { widen(to: path.count) }
        var flow = Flow(remaining: work, rate: 0, updated: queue.now, version: 0, linkCount: Int32(path.count), latency: latency, message: message, total: work)
        let f: Int
        if let free = freeFlows.popLast() {
            f = Int(free)
            flow.version = slots.flows[f].version &+ 1
        } else {
            if slots.total == slots.room { grow() }
            f = slots.total
            slots.total += 1
        }
        let s = slots
        s.flows[f] = flow
        s.mark[f] = 0
        let base = s.path(f)
        for (k, l) in path.enumerated() {
            base[k] = l
            append(Int32(f), to: Int(l))
        }
        rebalance(seeds: base, count: path.count, queue: &queue)
    }

    /// Ends flow `id` if `version` is still its current one: counts its work on its links,
    /// schedules its delivery one latency later and recomputes the rates it affects.
    func finish(_ id: Int, version: UInt32, deliver kind: UInt32, queue: inout EventQueue) {
        let s = slots
        let flow = s.flows[id]
        guard flow.version == version else { return }
        let path = s.path(id)
        linkBytes.withUnsafeMutableBufferPointer { linkBytes in
            for k in 0..<Int(flow.linkCount) {
                let l = Int(path[k])
                remove(Int32(id), from: l)
                linkBytes[l] += flow.total
            }
        }
        s.flows[id].version &+= 1
        s.flows[id].rate = 0
        freeFlows.append(Int32(id))
        queue.schedule(at: queue.now + flow.latency, kind: kind, flow.message)
        // The slot's links stay in place until the slot is reused by a later `add`.
        rebalance(seeds: path, count: Int(flow.linkCount), queue: &queue)
    }

    func append(_ f: Int32, to l: Int) {
        if link[l].count == link[l].room {
            let room = max(4, Int(link[l].room) * 2)
            let wider = UnsafeMutablePointer<Int32>.allocate(capacity: room)
            if let old = link[l].flows {
                wider.update(from: old, count: Int(link[l].count))
                old.deallocate()
            }
            (link[l].flows, link[l].room) = (wider, Int32(room))
        }
        link[l].flows![Int(link[l].count)] = f
        link[l].count += 1
    }

    func remove(_ f: Int32, from l: Int) {
        guard let on = link[l].flows, link[l].count > 0 else { return }
        let last = Int(link[l].count) - 1
        for j in 0...last where on[j] == f {
            on[j] = on[last]
            link[l].count -= 1
            return
        }
    }

    /// Doubles the room for flow slots.
    func grow() {
        var s = slots
        let room = max(64, s.room * 2)
        func regrow<T>(_ p: inout UnsafeMutablePointer<T>, _ old: Int, _ new: Int) {
            let q = UnsafeMutablePointer<T>.allocate(capacity: new)
            q.update(from: p, count: old)
            p.deallocate()
            p = q
        }
        regrow(&s.flows, s.total, room)
        regrow(&s.mark, s.total, room)
        regrow(&s.newRate, s.total, room)
        regrow(&s.links, s.total * s.stride, room * s.stride)
        s.component.deallocate()
        s.component = .allocate(capacity: room)
        s.room = room
        slots = s
    }

    /// Re-lays the link table with room for `count` links per flow slot (a ring's long paths).
    func widen(to count: Int) {
        var s = slots
        let wider = UnsafeMutablePointer<Int32>.allocate(capacity: s.room * count)
        for f in 0..<s.total { (wider + f * count).update(from: s.path(f), count: Int(s.flows[f].linkCount)) }
        s.links.deallocate()
        (s.links, s.stride) = (wider, count)
        slots = s
    }

    /// Recomputes max-min fair rates in the component reachable from the `count` links at
    /// `seeds`, bringing every flow of it up to now and scheduling a completion event for each
    /// flow whose rate changed.
    func rebalance(seeds: UnsafeMutablePointer<Int32>, count: Int, queue: inout EventQueue) {
        let now = queue.now
        epoch &+= 1
        let epoch = epoch
        let s = slots
        let (link, componentLinks, flows, flowMark, newRate, componentFlows) = (link, componentLinks, s.flows, s.mark, s.newRate, s.component)
        var linkCount = 0, flowCount = 0
        for k in 0..<count {
            let l = seeds[k]
            guard link[Int(l)].mark != epoch else { continue }
            link[Int(l)].mark = epoch
            componentLinks[linkCount] = l
            linkCount += 1
        }
        // Breadth-first over links → flows → links.
        var i = 0
        while i < linkCount {
            let on = link[Int(componentLinks[i])]
            for j in 0..<Int(on.count) {
                let f = Int(on.flows![j])
                guard flowMark[f] != epoch else { continue }
                flowMark[f] = epoch
                newRate[f] = -1
                componentFlows[flowCount] = Int32(f)
                flowCount += 1
                let path = s.path(f)
                for k in 0..<Int(flows[f].linkCount) {
                    let l = path[k]
                    guard link[Int(l)].mark != epoch else { continue }
                    link[Int(l)].mark = epoch
                    componentLinks[linkCount] = l
                    linkCount += 1
                }
            }
            i += 1
        }
        if flowCount == 0 { return }
        // Bring every flow's remaining work up to now at its old rate.
        for k in 0..<flowCount {
            let f = Int(componentFlows[k])
            flows[f].remaining = max(0, flows[f].remaining - flows[f].rate * (now - flows[f].updated))
            flows[f].updated = now
        }
        fill(links: linkCount, flows: flowCount, s)
        for k in 0..<flowCount {
            let f = Int(componentFlows[k])
            let rate = max(newRate[f], 1e-9)
            if rate == flows[f].rate { continue }
            flows[f].rate = rate
            flows[f].version &+= 1
            queue.schedule(at: now + flows[f].remaining / rate, kind: SimulatedTransport.kindDone, f, Int(flows[f].version))
        }
    }

    /// Progressive filling over the component just discovered: the link with the smallest fair
    /// share (the first in discovery order on a tie) fixes that share as the rate of its
    /// unfrozen flows, which leave their other links with that much less capacity; repeat until
    /// every flow has a rate.
    func fill(links linkCount: Int, flows flowCount: Int, _ s: Slots) {
        let (link, componentLinks, open, flows, newRate) = (link, componentLinks, open, s.flows, s.newRate)
        var openCount = 0
        for k in 0..<linkCount {
            let l = Int(componentLinks[k])
            link[l].left = link[l].capacity
            link[l].unfrozen = link[l].count
            open[openCount] = Int32(l)
            openCount += 1
        }
        var remainingFlows = flowCount
        while remainingFlows > 0 {
            var best = Double.infinity
            var bestLink = -1
            // Links whose flows are all frozen never take part again: drop them, keeping order.
            var kept = 0
            for j in 0..<openCount {
                let l = Int(open[j])
                let unfrozen = link[l].unfrozen
                guard unfrozen > 0 else { continue }
                open[kept] = Int32(l)
                kept += 1
                let share = link[l].left / Double(unfrozen)
                if share < best { (best, bestLink) = (share, l) }
            }
            openCount = kept
            guard bestLink >= 0 else { break }
            let on = link[bestLink]
            for j in 0..<Int(on.count) {
                let f = Int(on.flows![j])
                guard newRate[f] < 0 else { continue }
                newRate[f] = best
                remainingFlows -= 1
                let path = s.path(f)
                for k in 0..<Int(flows[f].linkCount) {
                    let l = Int(path[k])
                    link[l].left -= best
                    link[l].unfrozen -= 1
                }
            }
        }
    }
}

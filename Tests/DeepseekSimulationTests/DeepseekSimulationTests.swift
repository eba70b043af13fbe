import DeepseekModels
import DeepseekTraining
import Testing

@testable import DeepseekSimulation

@Suite struct NetworkClosedFormTests {
    /// 2(N−1)/N·S/B + 2(N−1)·α for a ring all-reduce on links of bandwidth B and latency α.
    static func ringFormula(n: Int, bytes s: Double, link: LinkKind) -> Double {
        let n = Double(n)
        return 2 * (n - 1) / n * s / link.bandwidth + 2 * (n - 1) * link.latency
    }

    @Test(arguments: [2, 4, 8, 16, 64])
    func ringAllReduceMatchesTheClosedForm(devices n: Int) {
        let link = LinkKind.roce100
        let topology = ClusterTopology(nodes: n, devicesPerNode: 1, intraNode: .nvlink3, interNode: link)
        for bytes in [1e3, 1e6, 256e6] {
            let t = ClusterSimulation.allReduce(topology: topology, devices: Array(0..<n), bytes: bytes, algorithm: .ring)
            let expected = Self.ringFormula(n: n, bytes: bytes, link: link)
            #expect(abs(t.seconds - expected) / expected < 0.05, "n=\(n) S=\(bytes): simulated \(t.seconds) s, formula \(expected) s")
            #expect(t.messages == 2 * (n - 1) * n)
        }
    }

    @Test func flowsSharingALinkSplitItsBandwidthFairly() {
        // Two devices of one node send to two devices of another over one shared NIC.
        let topology = ClusterTopology(nodes: 2, devicesPerNode: 2, intraNode: .nvlink3, interNode: .infinibandHDR)
        var queue = EventQueue(seed: 1)
        let transport = SimulatedTransport(network: NetworkModel(topology), seed: 1)
        transport.send(from: 0, to: 2, bytes: 25e6, token: 0, queue: &queue)
        transport.send(from: 1, to: 3, bytes: 25e6, token: 1, queue: &queue)
        var arrivals: [Double] = []
        while let e = queue.pop() { if transport.handle(e, queue: &queue) != nil { arrivals.append(queue.now) } }
        // 50 MB over one 25 GB/s NIC: 2 ms each, both finish together.
        #expect(arrivals.count == 2)
        for a in arrivals { #expect(abs(a - (2e-3 + LinkKind.infinibandHDR.latency)) < 1e-9) }
    }

    @Test func hierarchicalAndTreeAllReducesComplete() {
        let topology = ClusterTopology(nodes: 4, devicesPerNode: 4, intraNode: .nvlink3, interNode: .infinibandHDR)
        let ring = ClusterSimulation.allReduce(topology: topology, devices: Array(0..<16), bytes: 64e6, algorithm: .ring)
        let hierarchical = ClusterSimulation.allReduce(topology: topology, devices: Array(0..<16), bytes: 64e6, algorithm: .hierarchical)
        let tree = ClusterSimulation.allReduce(topology: topology, devices: Array(0..<16), bytes: 64e6, algorithm: .tree)
        #expect(ring.seconds > 0 && hierarchical.seconds > 0 && tree.seconds > 0)
        // Large buffers: the hierarchical all-reduce moves 1/4 of the data across nodes per device.
        #expect(hierarchical.seconds < ring.seconds)
        // A tree sends the whole buffer on every hop: slower than the ring for large buffers.
        #expect(tree.seconds > ring.seconds)
    }

    @Test func sameSeedGivesTheSameEventOrderAndAnotherSeedMayNot() {
        var a = EventQueue(seed: 7), b = EventQueue(seed: 7), c = EventQueue(seed: 8)
        for i in 0..<50 {
            a.schedule(at: 1, kind: 0, i)
            b.schedule(at: 1, kind: 0, i)
            c.schedule(at: 1, kind: 0, i)
        }
        let order = { (q: inout EventQueue) -> [Int] in var out: [Int] = []; while let e = q.pop() { out.append(e.a) }; return out }
        let (x, y, z) = (order(&a), order(&b), order(&c))
        #expect(x == y)
        #expect(x != z)
    }

    @Test func eventsPopInTimeThenTieThenInsertionOrder() {
        // Interleaved schedules and pops, many at equal times, against a sorted reference.
        var queue = EventQueue(seed: 3)
        var pending: [EventQueue.Entry] = []
        var popped: [Int] = [], expected: [Int] = []
        var draw = SplitMix(seed: 11)
        for i in 0..<2000 {
            let time = queue.now + Double(draw.next() % 4)
            queue.schedule(at: time, kind: 0, i)
            pending.append(queue.heap.first { $0.a == i }!)
            if draw.next() % 3 == 0, let e = queue.pop() {
                popped.append(e.a)
                let k = pending.indices.min { EventQueue.Entry.precedes(pending[$0], pending[$1]) }!
                expected.append(pending.remove(at: k).a)
            }
        }
        while let e = queue.pop() { popped.append(e.a) }
        expected += pending.sorted(by: EventQueue.Entry.precedes).map(\.a)
        #expect(popped == expected)
        #expect(queue.processed == 2000)
    }

    @Test func flowsGetMaxMinFairRatesNotEqualShares() {
        // Two leaves of two nodes; leaf uplinks carry half a NIC (2 nodes × NIC / 4).
        let nic = LinkKind.infinibandHDR
        let topology = ClusterTopology(nodes: 4, devicesPerNode: 1, intraNode: .nvlink3, interNode: nic, fabric: .fatTree(nodesPerLeaf: 2, oversubscription: 4))
        var queue = EventQueue(seed: 1)
        let transport = SimulatedTransport(network: NetworkModel(topology), seed: 1)
        let bytes = 10e6
        // 0→2 and 1→3 share leaf 0's uplink (a quarter NIC each); 0→1 stays in the leaf and
        // gets what 0→2 leaves of node 0's NIC: three quarters.
        transport.send(from: 0, to: 2, bytes: bytes, token: 0, queue: &queue)
        transport.send(from: 1, to: 3, bytes: bytes, token: 1, queue: &queue)
        transport.send(from: 0, to: 1, bytes: bytes, token: 2, queue: &queue)
        var arrivals: [Int: Double] = [:]
        while let e = queue.pop() { if let m = transport.handle(e, queue: &queue) { arrivals[m.token] = queue.now } }
        let local = bytes / (0.75 * nic.bandwidth) + nic.latency
        let crossing = bytes / (0.25 * nic.bandwidth) + nic.latency + 1e-6
        #expect(abs(arrivals[2]! - local) < 1e-9)
        #expect(abs(arrivals[0]! - crossing) < 1e-9)
        #expect(abs(arrivals[1]! - crossing) < 1e-9)
        #expect(transport.statistics.delivered == 3)
    }

    @Test func longRingPathsAndReusedFlowSlotsKeepTheirLinks() {
        // A 12-node ring: 0→6 crosses six links (more than the four of other fabrics), sent
        // after shorter flows have finished and freed their slots.
        let link = LinkKind.roce100
        let topology = ClusterTopology(nodes: 12, devicesPerNode: 1, intraNode: .nvlink3, interNode: link, fabric: .ring)
        var queue = EventQueue(seed: 1)
        let transport = SimulatedTransport(network: NetworkModel(topology), seed: 1)
        let bytes = 1e6
        for d in 0..<12 { transport.send(from: d, to: (d + 1) % 12, bytes: bytes, token: d, queue: &queue) }
        while let e = queue.pop() { _ = transport.handle(e, queue: &queue) }
        let start = queue.now
        transport.send(from: 0, to: 6, bytes: bytes, token: 100, queue: &queue)
        transport.send(from: 3, to: 4, bytes: bytes, token: 101, queue: &queue)
        var arrivals: [Int: Double] = [:]
        while let e = queue.pop() { if let m = transport.handle(e, queue: &queue) { arrivals[m.token] = queue.now - start } }
        // 3→4 shares link 3→4 with 0→6: both run at half rate, then 0→6 alone is no faster
        // (they finish together).
        let shared = bytes / (0.5 * link.bandwidth)
        #expect(abs(arrivals[100]! - (shared + 6 * link.latency)) < 1e-9)
        #expect(abs(arrivals[101]! - (shared + link.latency)) < 1e-9)
        let perLink = transport.linkBytes
        #expect(perLink.reduce(0, +) == 12 * bytes + 6 * bytes + bytes)
    }
}

@Suite struct MemoryFormulaTests {
    @Test(arguments: [0, 1, 2, 3])
    func zeroMemoryPerDeviceMatchesThePaper(stage: Int) {
        // Rajbhandari et al. 2020, figure 1: Ψ = 7.5B, N = 64.
        let psi = 7.5e9, n = 64.0
        let m = MemoryBreakdown.zero(parameters: psi, ranks: 64, stage: stage)
        let expected: [Double] = [(2 + 2 + 12) * psi, 2 * psi + 2 * psi + 12 * psi / n, 2 * psi + (2 + 12) * psi / n, (2 + 2 + 12) * psi / n]
        #expect(m.total == expected[stage])
        // The paper's figures: 120 GB, 31.4 GB, 16.6 GB, 1.9 GB.
        let gb = [120.0, 31.4, 16.6, 1.875][stage]
        #expect(abs(m.total / 1e9 - gb) < 0.05)
    }
}

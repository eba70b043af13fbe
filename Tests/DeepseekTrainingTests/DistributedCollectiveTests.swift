import DeepseekCore
import DeepseekTraining
import Testing

/// Random inputs and delivery orders for collective tests.
struct CollectiveFixture {
    var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func buffers(ranks: Int, count: Int) -> [[Float]] {
        (0..<ranks).map { _ in (0..<count).map { _ in Float(random.nextNormal()) * 3 } }
    }

    /// A reorder function that delivers a random in-flight message next.
    mutating func shuffler() -> (inout [(message: CollectiveMessage, to: Int)]) -> Void {
        var rng = random
        _ = random.next()
        return { queue in
            guard queue.count > 1 else { return }
            let i = Int(rng.next() % UInt64(queue.count))
            queue.swapAt(0, i)
        }
    }
}

/// Chunk `c` of a ring reduction is summed starting after its owner: x[c+1] + x[c+2] + … + x[c].
func ringReference(_ inputs: [[Float]], layout: ChunkLayout) -> [Float] {
    let n = inputs.count
    var out = [Float](repeating: 0, count: layout.count)
    for c in 0..<n {
        for i in layout.range(c) {
            var acc = inputs[(c + 1) % n][i]
            for k in 2...max(n, 2) where k <= n { acc = acc + inputs[(c + k) % n][i] }
            out[i] = acc
        }
    }
    return out
}

func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

@Suite struct DistributedCollectiveTests {
    static let sizes = [0, 1, 3, 7, 8, 13, 100]

    @Test(arguments: 1...8) func ringAllReduceGivesEveryRankTheSameBitsAsTheFixedOrderSum(ranks: Int) throws {
        var fixture = CollectiveFixture(seed: UInt64(ranks))
        for count in Self.sizes {
            let inputs = fixture.buffers(ranks: ranks, count: count)
            let machines = (0..<ranks).map {
                RingCollective(.allReduce, members: Array(0..<ranks), position: $0, buffer: inputs[$0], tag: 9)
            }
            let done = try RingCollective.runLockstep(machines, reorder: fixture.shuffler())
            let expected = ringReference(inputs, layout: ChunkLayout(count: count, parts: ranks))
            for m in done {
                #expect(m.isFinished)
                #expect(bits(m.buffer) == bits(expected), "ranks \(ranks) count \(count) position \(m.position)")
            }
        }
    }

    @Test(arguments: 1...8) func reduceScatterLeavesEachRankItsChunkAndAllGatherRebuildsTheWhole(ranks: Int) throws {
        var fixture = CollectiveFixture(seed: 100 + UInt64(ranks))
        for count in Self.sizes {
            let inputs = fixture.buffers(ranks: ranks, count: count)
            let layout = ChunkLayout(count: count, parts: ranks)
            let scattered = try RingCollective.runLockstep(
                (0..<ranks).map { RingCollective(.reduceScatter, members: Array(0..<ranks), position: $0, buffer: inputs[$0], tag: 1) },
                reorder: fixture.shuffler())
            let expected = ringReference(inputs, layout: layout)
            for m in scattered {
                #expect(m.ownChunk == layout.range(m.position))
                #expect(bits(Array(m.buffer[m.ownChunk])) == bits(Array(expected[m.ownChunk])))
            }
            // All-gather from buffers that hold only their own chunk.
            let gathered = try RingCollective.runLockstep(
                scattered.map { m in
                    var b = [Float](repeating: .nan, count: count)
                    b.replaceSubrange(m.ownChunk, with: m.buffer[m.ownChunk])
                    return RingCollective(.allGather, members: Array(0..<ranks), position: m.position, buffer: b, tag: 2)
                }, reorder: fixture.shuffler())
            for m in gathered { #expect(bits(m.buffer) == bits(expected)) }
        }
    }

    @Test(arguments: [WirePrecision.fp16, .bf16]) func halfPrecisionRingsStayIdenticalAcrossRanks(precision: WirePrecision) throws {
        var fixture = CollectiveFixture(seed: 7)
        for ranks in [2, 3, 5, 8] {
            let inputs = fixture.buffers(ranks: ranks, count: 37)
            let done = try RingCollective.runLockstep(
                (0..<ranks).map { RingCollective(.allReduce, members: Array(0..<ranks), position: $0, buffer: inputs[$0], precision: precision, tag: 3) },
                reorder: fixture.shuffler())
            for m in done {
                #expect(bits(m.buffer) == bits(done[0].buffer))
                #expect(m.buffer.allSatisfy { precision.round($0) == $0 }, "every value is representable in \(precision)")
            }
            let exact = (0..<37).map { i in inputs.reduce(0.0) { $0 + Double($1[i]) } }
            let tolerance = precision == .fp16 ? 0.05 : 0.4
            for (got, want) in zip(done[0].buffer, exact) { #expect(abs(Double(got) - want) < tolerance * Double(ranks)) }
        }
    }

    @Test func explicitLayoutsAlignChunksToTensorBoundaries() throws {
        let inputs: [[Float]] = (0..<3).map { r in (0..<10).map { Float($0 * 10 + r) } }
        let layout = ChunkLayout(boundaries: [0, 6, 6, 10])
        let done = try RingCollective.runLockstep(
            (0..<3).map { RingCollective(.allReduce, members: [0, 1, 2], position: $0, buffer: inputs[$0], layout: layout, tag: 4) })
        for m in done { #expect(m.buffer == (0..<10).map { Float($0 * 30 + 3) }) }
    }

    @Test(arguments: 1...8) func treeBroadcastDeliversTheRootsBitsFromAnyRoot(ranks: Int) throws {
        var fixture = CollectiveFixture(seed: 200 + UInt64(ranks))
        for root in 0..<ranks {
            let data = fixture.buffers(ranks: 1, count: 11)[0]
            let done = try TreeBroadcast.runLockstep(
                (0..<ranks).map { TreeBroadcast(members: Array(0..<ranks), position: $0, root: root, buffer: $0 == root ? data : nil, tag: 5) },
                reorder: fixture.shuffler())
            for m in done { #expect(m.buffer.map(bits) == bits(data)) }
        }
    }

    @Test(arguments: 1...8) func barrierReleasesNoRankBeforeTheLastHasArrived(ranks: Int) throws {
        var machines = (0..<ranks).map { DisseminationBarrier(members: Array(0..<ranks), position: $0, tag: 6) }
        var queue: [(CollectiveMessage, Int)] = []
        func take(_ ds: [CollectiveDirective]) { for d in ds { if case .send(let m, let to) = d { queue.append((m, to)) } } }
        func pump() throws { while !queue.isEmpty { let (m, to) = queue.removeFirst(); take(try machines[to].receive(m)) } }
        for r in 0..<ranks - 1 {
            take(try machines[r].start())
            try pump()
        }
        #expect(machines.allSatisfy { !$0.isFinished })
        take(try machines[ranks - 1].start())
        try pump()
        #expect(machines.allSatisfy { $0.isFinished })
    }

    @Test func hierarchicalAllReduceMatchesTheSumAndIsIdenticalEverywhere() throws {
        var fixture = CollectiveFixture(seed: 11)
        for (world, local) in [(4, 2), (6, 3), (6, 2), (8, 4), (8, 2), (3, 3), (3, 1)] {
            for count in [0, 5, 31] {
                let inputs = fixture.buffers(ranks: world, count: count)
                let done = try HierarchicalAllReduce.runLockstep(
                    (0..<world).map { HierarchicalAllReduce(rank: $0, worldSize: world, devicesPerNode: local, buffer: inputs[$0], tag: 8) },
                    reorder: fixture.shuffler())
                for m in done {
                    #expect(m.isFinished)
                    #expect(bits(m.buffer) == bits(done[0].buffer), "world \(world) local \(local) count \(count)")
                }
                for i in 0..<count {
                    let exact = inputs.reduce(0.0) { $0 + Double($1[i]) }
                    #expect(abs(Double(done[0].buffer[i]) - exact) < 1e-4)
                }
            }
        }
    }

    @Test(arguments: 1...6) func sparseAllGatherAddsEveryRanksEntriesInRankOrder(ranks: Int) throws {
        let locals: [SparseGradient] = (0..<ranks).map { (r: Int) -> SparseGradient in
            let indices: [UInt32] = [UInt32(r), UInt32(10 + r)]
            let values: [Float] = [Float(r + 1), -1]
            return SparseGradient(count: 20, indices: indices, values: values)
        }
        let done = try SparseAllGather.runLockstep(
            (0..<ranks).map { SparseAllGather(members: Array(0..<ranks), position: $0, local: locals[$0], tag: 10) })
        var expected = [Float](repeating: 0, count: 20)
        for l in locals { l.add(into: &expected) }
        for m in done { #expect(m.sum == expected) }
    }

    @Test func messagesThatBreakTheRingAreRefusedWithTheRankNamed() throws {
        var a = RingCollective(.allReduce, members: [0, 1, 2], position: 0, buffer: [1, 2, 3], tag: 1)
        _ = try a.start()
        let block = FloatBlock([1])
        #expect(throws: CollectiveError.self) {
            try a.receive(CollectiveMessage(tag: 1, step: 0, source: 1, payload: .dense(block, precision: .fp32)))  // not the predecessor
        }
        _ = try a.receive(CollectiveMessage(tag: 1, step: 1, source: 2, payload: .dense(block, precision: .fp32)))
        do {
            _ = try a.receive(CollectiveMessage(tag: 1, step: 1, source: 2, payload: .dense(block, precision: .fp32)))
            Issue.record("a repeated step must be refused")
        } catch {
            #expect(error.code == .protocolViolation && error.rank == 2)
        }
    }

    @Test(arguments: WirePrecision.allCases) func messagesRoundTripAndCountTheirBytesExactly(precision: WirePrecision) throws {
        let values = (0..<300).map { precision.round(Float($0) * 0.37 - 40) }
        let dense = CollectiveMessage(tag: 300, phase: 2, step: 5, source: 3, payload: .dense(FloatBlock(values), precision: precision))
        let decoded = try CollectiveMessage(wireBytes: dense.wireBytes)
        #expect(dense.wireByteCount == dense.wireBytes.count)
        guard case .dense(let block, let p) = decoded.payload else { Issue.record("payload kind changed"); return }
        #expect(p == precision && bits(block.values) == bits(values) && decoded.step == 5 && decoded.source == 3 && decoded.phase == 2)
        let sparse = SparseGradient(count: 100_000, indices: [0, 1, 5, 70_000, 99_999], values: Array(values.prefix(5)), precision: precision)
        let message = CollectiveMessage(tag: 1, step: 0, source: 0, payload: .sparse(sparse))
        #expect(message.wireByteCount == message.wireBytes.count)
        guard case .sparse(let back) = try CollectiveMessage(wireBytes: message.wireBytes).payload else { Issue.record("not sparse"); return }
        #expect(back == sparse)
    }

    @Test func corruptSparseIndicesAreRejected() {
        var w = WireWriter()
        w.writeVarint(10)  // count
        w.write(UInt8(0))
        w.writeVarint(2)
        w.writeVarint(3)
        w.writeVarint(9)  // 3 + 1 + 9 = 13 ≥ 10
        #expect(throws: WireError.self) { try SparseGradient(wireBytes: w.bytes) }
    }
}

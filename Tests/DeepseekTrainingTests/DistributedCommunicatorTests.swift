import DeepseekActors
import DeepseekCore
import DeepseekTraining
import Testing

/// `n` actor systems on one in-process network, each with a communicator for its rank.
struct InProcessWorld {
    let network = InProcessNetwork()
    let systems: [DeepseekActorSystem]
    let communicators: [Communicator]

    init(ranks: Int, devicesPerNode: Int = 1, timeout: Duration = .seconds(20)) async throws {
        let group = CollectiveGroup(nodes: (0..<ranks).map { NodeID($0) }, devicesPerNode: devicesPerNode)
        var systems: [DeepseekActorSystem] = []
        var communicators: [Communicator] = []
        for r in 0..<ranks {
            let system = DeepseekActorSystem(transport: network.transport(for: NodeID(r)), settings: ActorSystemSettings(defaultCallTimeout: timeout))
            try await system.start()
            systems.append(system)
            communicators.append(await Communicator(group: group, rank: r, actorSystem: system, settings: CommunicatorSettings(operationTimeout: timeout)))
        }
        for c in communicators { await c.connect() }
        self.systems = systems
        self.communicators = communicators
    }

    /// Runs `body` on every rank concurrently; results by rank.
    func each<T: Sendable>(_ body: @escaping @Sendable (Communicator) async throws -> T) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            for (r, c) in communicators.enumerated() { group.addTask { (r, try await body(c)) } }
            var out: [Int: T] = [:]
            for try await (r, v) in group { out[r] = v }
            return (0..<communicators.count).map { out[$0]! }
        }
    }
}

@Suite struct DistributedCommunicatorTests {
    @Test(arguments: [1, 2, 3, 4]) func ringAllReduceOverActorSystemsMatchesTheStateMachine(ranks: Int) async throws {
        let world = try await InProcessWorld(ranks: ranks)
        var fixture = CollectiveFixture(seed: 42)
        let inputs = fixture.buffers(ranks: ranks, count: 1000)
        let results = try await world.each { c in try await c.allReduce(inputs[c.rank]) }
        let expected = ringReference(inputs, layout: ChunkLayout(count: 1000, parts: ranks))
        for r in results { #expect(bits(r) == bits(expected)) }
    }

    @Test func operationsInFlightTogetherKeepTheirMessagesApart() async throws {
        let world = try await InProcessWorld(ranks: 4)
        let results = try await world.each { c in
            // Odd ranks start the buckets in reverse, as backward passes that overlap differently would.
            let order = c.rank % 2 == 0 ? Array(UInt64(1)...6) : Array((UInt64(1)...6).reversed())
            return try await withThrowingTaskGroup(of: (UInt64, [Float]).self) { group in
                for bucket in order {
                    let values = [Float](repeating: Float(bucket) + Float(c.rank), count: 257)
                    group.addTask { (bucket, try await c.allReduce(values, tag: bucket)) }
                }
                var out: [UInt64: [Float]] = [:]
                for try await (b, v) in group { out[b] = v }
                return out
            }
        }
        for r in results {
            for bucket in UInt64(1)...6 { #expect(r[bucket]!.allSatisfy { $0 == Float(4 * Int(bucket) + 6) }) }
        }
    }

    @Test func collectivesOverActorsCoverTheWholeSet() async throws {
        let world = try await InProcessWorld(ranks: 4, devicesPerNode: 2)
        let layout = ChunkLayout(count: 10, parts: 4)
        let results = try await world.each { c -> [[Float]] in
            let mine = (0..<10).map { Float($0 + 100 * c.rank) }
            let scattered = try await c.reduceScatter(mine, layout: layout)
            let gathered = try await c.allGather(scattered, layout: layout)
            let cast = try await c.broadcast(c.rank == 2 ? mine : nil, root: 2)
            try await c.barrier()
            let hierarchical = try await c.allReduce(mine, precision: .fp16)
            let sparse = try await c.sparseAllReduce(SparseGradient(count: 10, indices: [UInt32(c.rank)], values: [1]))
            return [gathered, cast, hierarchical, sparse]
        }
        let sum = (0..<10).map { Float(4 * $0 + 600) }
        for r in results {
            #expect(r[0] == sum)
            #expect(r[1] == (0..<10).map { Float($0 + 200) })
            #expect(bits(r[2]) == bits(results[0][2]) && zip(r[2], sum).allSatisfy { abs($0 - $1) <= 1 })
            #expect(r[3] == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
        }
        let traffic = await world.communicators[0].traffic
        #expect(traffic.messagesSent > 0 && traffic.bytesSent > 0)
    }

    @Test func aDeadPeerFailsOperationsWithItsRankAndNodeInsteadOfHanging() async throws {
        let world = try await InProcessWorld(ranks: 4, timeout: .seconds(30))
        await world.systems[2].shutdown()
        let clock = ContinuousClock()
        let start = clock.now
        for r in [0, 1, 3] {
            do {
                _ = try await world.communicators[r].allReduce([1, 2, 3, 4], tag: 77)
                Issue.record("rank \(r) finished an all-reduce without rank 2")
            } catch let error as CollectiveError {
                #expect(error.code == .peerUnreachable)
                #expect(error.message.contains("rank 2 (node2)"), "\(error)")
            }
        }
        #expect(clock.now - start < .seconds(10))
    }

    @Test func aSilentPeerTimesOutNamingTheRankItWaitsFor() async throws {
        let world = try await InProcessWorld(ranks: 3, timeout: .milliseconds(300))
        // Rank 1 never joins the operation: rank 2 waits for its predecessor, rank 1.
        async let zero: [Float] = world.communicators[0].allReduce([1], tag: 5)
        do {
            _ = try await world.communicators[2].allReduce([1], tag: 5)
            Issue.record("expected a timeout")
        } catch let error as CollectiveError {
            #expect(error.code == .timeout)
            #expect(error.message.contains("rank 1 (node1)"), "\(error)")
        }
        _ = try? await zero
    }
}

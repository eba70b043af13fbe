import DeepseekActors
import Testing

@Suite struct FailureDetectorTests {
    let s: UInt64 = 1_000_000_000

    @Test func silentPeersAreSuspectedThenDeclaredUnreachableOnce() {
        var d = FailureDetector(suspicionTimeout: 2 * s, deathTimeout: 5 * s)
        d.add(NodeID(1), now: 0)
        d.add(NodeID(2), now: 0)
        #expect(d.tick(now: s) == [.ping(NodeID(1)), .ping(NodeID(2))])
        _ = d.heard(from: NodeID(1), now: 2 * s)
        #expect(d.tick(now: 3 * s) == [.ping(NodeID(1)), .suspect(NodeID(2)), .ping(NodeID(2))])
        #expect(d.tick(now: 6 * s) == [.suspect(NodeID(1)), .ping(NodeID(1)), .unreachable(NodeID(2))])
        #expect(d.tick(now: 7 * s).contains(.unreachable(NodeID(2))) == false)
        #expect(d.view[NodeID(2)] == .unreachable)
    }

    @Test func hearingFromASuspectClearsIt() {
        var d = FailureDetector(suspicionTimeout: 2 * s, deathTimeout: 5 * s)
        d.add(NodeID(1), now: 0)
        _ = d.tick(now: 3 * s)
        #expect(d.view[NodeID(1)] == .suspected)
        #expect(d.heard(from: NodeID(1), now: 3 * s) == [.recovered(NodeID(1))])
        #expect(d.view[NodeID(1)] == .alive)
    }
}

@Suite struct LaunchEnvironmentTests {
    @Test func slurmVariablesGivePlacement() throws {
        let p = try LaunchEnvironment.placement(from: [
            "SLURM_PROCID": "3", "SLURM_NTASKS": "4", "SLURM_LAUNCH_NODE_IPADDR": "10.1.2.3",
        ])
        #expect(p == ClusterPlacement(rank: 3, worldSize: 4, coordinatorHost: "10.1.2.3", coordinatorPort: 29_500, source: "slurm"))
    }

    @Test func openMPIAndTorchrunVariablesGivePlacement() throws {
        let mpi = try LaunchEnvironment.placement(from: [
            "OMPI_COMM_WORLD_RANK": "1", "OMPI_COMM_WORLD_SIZE": "2", "MASTER_ADDR": "node-a", "MASTER_PORT": "4000",
        ])
        #expect(mpi?.source == "openmpi" && mpi?.coordinatorHost == "node-a" && mpi?.coordinatorPort == 4000)
        let torch = try LaunchEnvironment.placement(from: ["RANK": "0", "WORLD_SIZE": "8"])
        #expect(torch?.rank == 0 && torch?.worldSize == 8 && torch?.source == "torchrun")
        #expect(try LaunchEnvironment.placement(from: [:]) == nil)
    }

    @Test func inconsistentVariablesAreNamed() {
        #expect(throws: LaunchEnvironment.Problem(description: "RANK=4 is not below WORLD_SIZE=4")) {
            try LaunchEnvironment.placement(from: ["RANK": "4", "WORLD_SIZE": "4"])
        }
        #expect(throws: LaunchEnvironment.Problem.self) { try LaunchEnvironment.placement(from: ["RANK": "x", "WORLD_SIZE": "4"]) }
        #expect(throws: LaunchEnvironment.Problem.self) { try LaunchEnvironment.placement(from: ["SLURM_PROCID": "0"]) }
        #expect(throws: LaunchEnvironment.Problem.self) {
            try LaunchEnvironment.placement(from: ["RANK": "0", "WORLD_SIZE": "1", "MASTER_PORT": "70000"])
        }
    }
}

@Suite struct RendezvousTests {
    @Test func theTableCompletesWhenTheLastRankJoins() {
        var r = RendezvousState(worldSize: 3)
        #expect(r.join(rank: 2, address: "c:1") == .waiting(missing: 2))
        #expect(r.join(rank: 0, address: "a:1") == .waiting(missing: 1))
        #expect(r.join(rank: 0, address: "a:1") == .waiting(missing: 1))  // a retry is harmless
        #expect(r.join(rank: 1, address: "b:1") == .complete(["a:1", "b:1", "c:1"]))
    }

    @Test func badJoinsAreRefusedWithAReason() {
        var r = RendezvousState(worldSize: 2)
        #expect(r.join(rank: 2, address: "x") == .refused("rank 2 is outside the world of 2 nodes (0..<2)"))
        _ = r.join(rank: 0, address: "a")
        if case .refused(let why) = r.join(rank: 0, address: "b") {
            #expect(why.contains("already joined"))
        } else {
            Issue.record("a second claim of rank 0 should be refused")
        }
    }

    @Test func nodesRendezvousThroughTheCoordinatorActor() async throws {
        let network = InProcessNetwork()
        let systems = (0..<3).map { DeepseekActorSystem(transport: network.transport(for: NodeID($0))) }
        for s in systems { try await s.start() }
        let coordinator = RendezvousCoordinator.make(worldSize: 3, actorSystem: systems[0])
        defer { withExtendedLifetime(coordinator) {} }
        let tables = try await withThrowingTaskGroup(of: [String].self) { group in
            for rank in 0..<3 {
                group.addTask {
                    let c = try RendezvousCoordinator.resolve(id: RendezvousCoordinator.address(on: NodeID(0)), using: systems[rank])
                    return try await c.join(rank: rank, address: "host\(rank):\(7000 + rank)")
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(tables.count == 3)
        #expect(Set(tables) == [["host0:7000", "host1:7001", "host2:7002"]])
        try await withThrowingTaskGroup(of: Void.self) { group in
            for rank in 0..<3 {
                group.addTask {
                    let c = try RendezvousCoordinator.resolve(id: RendezvousCoordinator.address(on: NodeID(0)), using: systems[rank])
                    try await c.barrier("done", rank: rank)
                }
            }
            try await group.waitForAll()
        }
    }

    @Test func barriersStopWaitingForRanksThatAreGone() async throws {
        let network = InProcessNetwork()
        let system = DeepseekActorSystem(transport: network.transport(for: NodeID(0)))
        try await system.start()
        let coordinator = RendezvousCoordinator.make(worldSize: 3, actorSystem: system)
        let first = Task { try await coordinator.barrier("first", rank: 0) }
        let second = Task { try await coordinator.barrier("second", rank: 2) }
        try await Task.sleep(for: .milliseconds(20))
        try await coordinator.markGone(1)
        try await coordinator.markGone(2)
        try await first.value  // rank 0 arrived, ranks 1 and 2 are gone
        try await coordinator.barrier("second", rank: 0)  // ranks 0 and 2 arrived, rank 1 is gone
        try await second.value
    }
}

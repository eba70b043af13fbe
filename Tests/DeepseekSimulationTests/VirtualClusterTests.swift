import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekRuntime
import DeepseekSimulation
import DeepseekTensor
import DeepseekTestSupport
import DeepseekTraining
import Distributed
import Testing

/// Answers calls, for round trips on the virtual network.
distributed actor Echo {
    typealias ActorSystem = DeepseekActorSystem
    distributed func echo(_ bytes: [UInt8]) -> [UInt8] { bytes }
}

/// The runtime's own actors — engine, operator and device actors, communicators — on a
/// `VirtualCluster`: virtual times follow the device and network models exactly, and the same
/// program gives the same times and values every run.
@Suite struct VirtualClusterTests {
    /// A link with round figures: 1 GB/s and 10 µs one way.
    static let link = LinkKind(name: "test-link", bandwidth: 1e9, latency: 10e-6)

    func cluster(ranks: Int, seed: UInt64 = 1) -> VirtualCluster {
        VirtualCluster(topology: ClusterTopology(nodes: ranks, devicesPerNode: 1, intraNode: Self.link, interNode: Self.link), device: .a100, seed: seed)
    }

    /// x [64, 128] → matmul → relu → matmul → tanh.
    func mlp() throws -> Graph {
        var b = GraphBuilder()
        b.input("x", TensorType([64, 128]))
        b.parameter("w1", TensorType([128, 256]))
        b.parameter("w2", TensorType([256, 10]))
        b.op("h", .matmul, ["x", "w1"])
        b.op("r", .unary(.relu), ["h"])
        b.op("y", .matmul, ["r", "w2"])
        b.op("out", .unary(.tanh), ["y"])
        b.outputs(["out"])
        return try b.build()
    }


    @Test func anEngineOnOneSimulatedDeviceTakesTheSumOfItsKernelsModelledTimes() async throws {
        let graph = try mlp()
        let values = try feeds(for: graph, seed: 7)
        let cluster = cluster(ranks: 1)
        let (outputs, seconds) = try await cluster.run {
            let device = try await cluster.device(rank: 0, backend: CPUBackend())
            let engine = try await Engine(actorSystem: try await cluster.actorSystem(rank: 0), devices: [device], settings: EngineSettings(inlineSeconds: 0))
            return try await engine.run(graph, values).outputs
        }
        var expected = 0.0
        for n in graph.nodes where !n.op.isSource {
            let w = CostModel.work(of: n, in: graph)
            expected += DeviceModel.a100.seconds(flops: w.flops, bytes: w.bytes, precision: .fp32, kernel: DeviceModel.kernelKind(of: n.op))
        }
        #expect(expected > 4 * DeviceModel.a100.launchOverhead)
        #expect(abs(seconds - expected) < 1e-9, "virtual \(seconds) s, modelled kernels \(expected) s")
        // The values are the real ones: the CPU computed them, the model only timed them.
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
        try await system.start()
        let cpu = DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)
        let reference = try await Engine(actorSystem: system, devices: [cpu]).run(graph, values).outputs
        #expect(try outputs[0].scalars(as: Float.self) == reference[0].scalars(as: Float.self))
    }

    @Test func aRemoteCallTakesTheLinksLatencyAndSerialisationBothWays() async throws {
        let cluster = cluster(ranks: 2)
        let (_, seconds) = try await cluster.run {
            let a = try await cluster.actorSystem(rank: 0)
            let b = try await cluster.actorSystem(rank: 1)
            let echo = Echo(actorSystem: b)
            let remote = try Echo.resolve(id: echo.id, using: a)
            let reply = try await remote.echo([UInt8](repeating: 7, count: 100_000))
            #expect(reply.count == 100_000)
            withExtendedLifetime(echo) {}
        }
        let statistics = cluster.statistics
        #expect(statistics.messages == 2)
        // Store and forward over two hops (sender's link out, receiver's link in) of equal
        // bandwidth is one serialisation: a flow through both runs at the slower one's rate.
        let expected = 2 * Self.link.latency + Double(statistics.bytes) / Self.link.bandwidth
        #expect(abs(seconds - expected) / expected < 0.001, "virtual \(seconds) s, expected \(expected) s for \(statistics.bytes) bytes")
    }

    @Test func theRuntimesRingAllReduceMatchesTheClosedForm() async throws {
        let ranks = 4
        let cluster = cluster(ranks: ranks)
        let count = 1 << 20
        let (sums, seconds) = try await cluster.run { () -> [[Float]] in
            let group = CollectiveGroup(worldSize: ranks)
            var communicators: [Communicator] = []
            for r in 0..<ranks { communicators.append(await Communicator(group: group, rank: r, actorSystem: try await cluster.actorSystem(rank: r))) }
            for c in communicators { await c.connect() }
            return try await withThrowingTaskGroup(of: (Int, [Float]).self) { tasks in
                for (r, c) in communicators.enumerated() {
                    tasks.addTask { (r, try await c.allReduce([Float](repeating: Float(r + 1), count: count))) }
                }
                var out = [[Float]](repeating: [], count: ranks)
                for try await (r, v) in tasks { out[r] = v }
                return out
            }
        }
        for s in sums { #expect(s.count == count && s.allSatisfy { $0 == 10 }) }
        let bytes = Double(count * 4)
        let n = Double(ranks)
        let closedForm = 2 * (n - 1) / n * bytes / Self.link.bandwidth + 2 * (n - 1) * Self.link.latency
        #expect(abs(seconds - closedForm) / closedForm < 0.01, "virtual \(seconds) s, closed form \(closedForm) s")
    }

    @Test func theSameProgramAndSeedGiveTheSameTimesAndTraffic() async throws {
        var runs: [(Double, VirtualRunStatistics)] = []
        for _ in 0..<2 {
            let cluster = cluster(ranks: 2, seed: 5)
            let graph = try mlp()
            let values = try feeds(for: graph, seed: 7)
            let (_, seconds) = try await cluster.run {
                let group = CollectiveGroup(worldSize: 2)
                let c0 = await Communicator(group: group, rank: 0, actorSystem: try await cluster.actorSystem(rank: 0))
                let c1 = await Communicator(group: group, rank: 1, actorSystem: try await cluster.actorSystem(rank: 1))
                await c0.connect()
                await c1.connect()
                let device = try await cluster.device(rank: 0, backend: CPUBackend())
                let engine = try await Engine(actorSystem: try await cluster.actorSystem(rank: 0), devices: [device])
                async let a = c0.allReduce([Float](repeating: 1, count: 50_000))
                async let b = c1.allReduce([Float](repeating: 2, count: 50_000))
                _ = try await engine.run(graph, values)
                _ = try await (a, b)
            }
            runs.append((seconds, cluster.statistics))
        }
        #expect(runs[0].0 == runs[1].0)
        #expect(runs[0].1 == runs[1].1)
    }
}

import DeepseekActors
import DeepseekCore
import DeepseekTraining
import DeepseekTransportURing
import Foundation

/// One of the two processes `deepseek simulate --calibrate` starts to measure the link as the
/// collectives see it: rank 0 and 1 join over io_uring loopback TCP exactly as the ranks of
/// `deepseek train --nodes` do (cluster rendezvous, `Communicator`, `CollectiveMember` messages)
/// and run two-rank ring all-reduces of growing size. Each all-reduce is two rounds in which
/// both ranks send half the buffer to each other, so half its time is one message of half the
/// buffer; each rank prints `calibration-link <bytes> <seconds per round> <its CPU seconds per
/// round>` per size.
struct CalibrationPeer {
    var rank: Int
    var ports: [Int]
    var repetitions: Int
    /// Only the smallest message (the contended-latency measurement).
    var small = false

    func run() async throws {
        let r = rank
        var settings = URingTransportSettings(
            localNode: NodeID(r), listenAddress: .tcp(host: "127.0.0.1", port: UInt16(ports[r])),
            peers: [NodeID(1 - r): .tcp(host: "127.0.0.1", port: UInt16(ports[1 - r]))], clusterSecret: Array("deepseek simulate --calibrate".utf8))
        settings.sendQueueByteLimit = 512 << 20
        let transport = try URingTransport(settings: settings)
        let system = DeepseekActorSystem(transport: transport, settings: ActorSystemSettings(defaultCallTimeout: .seconds(60)))
        try await system.start()
        let coordinator = r == 0 ? RendezvousCoordinator.make(worldSize: 2, actorSystem: system) : nil
        let rendezvous = try RendezvousCoordinator.resolve(id: RendezvousCoordinator.address(on: NodeID(0)), using: system)
        _ = try await TrainCommand.joining(for: 30, say: { _ in }) { try await rendezvous.join(rank: r, address: "127.0.0.1:\(ports[r])") }
        let communicator = await Communicator(
            group: CollectiveGroup(worldSize: 2), rank: r, actorSystem: system, settings: CommunicatorSettings(operationTimeout: .seconds(60)))
        try await rendezvous.barrier("communicators", rank: r)
        await communicator.connect()
        let clock = ContinuousClock()
        for count in small ? [2] : [2, 512, 8192, 32768, 131_072, 262_144] {
            let values = [Float](repeating: 1, count: count)
            for _ in 0..<5 { _ = try await communicator.allReduce(values) }
            var samples: [Double] = []
            let cpuStart = processCPUSeconds()
            let runs = max(20, repetitions * 20)
            for _ in 0..<runs {
                let start = clock.now
                _ = try await communicator.allReduce(values)
                samples.append((clock.now - start).inSeconds)
            }
            // Each all-reduce is two rounds in which each rank sends one message and takes one
            // in: this rank's CPU time per round (the peer reports its own).
            let cpu = (processCPUSeconds() - cpuStart) / Double(runs * 2)
            print("calibration-link \(count / 2 * 4) \(quantile(samples) / 2) \(cpu)")
        }
        try await rendezvous.barrier("finished", rank: r)
        await communicator.close()
        if r == 0 {
            let deadline = ContinuousClock.now + .seconds(5)
            while !system.connectedPeers.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        }
        withExtendedLifetime(coordinator) {}
        await system.shutdown()
    }
}

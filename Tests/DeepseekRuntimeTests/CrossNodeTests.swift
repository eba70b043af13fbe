import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekRuntime
import DeepseekTensor
import DeepseekTestSupport
import Distributed
import Testing

@Suite struct CrossNodeTests {
    @Test func aGraphSplitOverTwoNodesGivesTheSameOutputsAsOne() async throws {
        let network = InProcessNetwork()
        let a = try await LocalRuntime(rank: 0, network: network)
        let b = try await LocalRuntime(rank: 1, network: network)
        let graph = try twoBranchGraph(pins: (DevicePin(process: 0), DevicePin(process: 1)))
        let remoteDevice = b.cpu("node1.cpu")
        let remote = RuntimeNode(devices: [remoteDevice], actorSystem: b.system)
        await remote.whenLocal { $0.register(graph) }
        let remoteRef = try RuntimeNode.resolve(id: remote.id, using: a.system)
        let localDevice = a.cpu("node0.cpu")
        let devices = [localDevice] + (try await remoteRef.devices())
        let engine = try await Engine(actorSystem: a.system, devices: devices, remoteNodes: [remoteRef])
        let f = try feeds(for: graph)
        let result = try await engine.run(graph, f)
        let expected = try KernelBackends.using(CPUBackend()) { try graph.run(f) }
        expectClose(result.outputs[0], expected[0], tolerance: Tolerance(absolute: 0, relative: 0))
        #expect(result.report.devices.map(\.nodes) == [7, 6], "\(result.report)")
        withExtendedLifetime((remote, remoteDevice, localDevice)) {}
    }
}

import DeepseekActors
import DeepseekTestSupport
import Testing

@Suite struct InProcessContractTests {
    static let harness = TransportHarness(name: "in-process") {
        let network = InProcessNetwork()
        return (network.transport(for: NodeID(0)), network.transport(for: NodeID(1)))
    }

    @Test func passesTheTransportContract() async throws {
        try await TransportContract.checkAll(Self.harness)
    }
}

import DeepseekActors
import DeepseekEmbedded
import DeepseekTestSupport
import Synchronization
import Testing

@Suite struct EmbeddedContractTests {
    @Test func passesTheTransportContract() async throws {
        let current = Mutex<EmbeddedNetwork?>(nil)
        let harness = TransportHarness(
            name: "embedded",
            make: {
                let net = EmbeddedNetwork()
                current.withLock { $0 = net }
                return (net.transport(for: NodeID(0)), net.transport(for: NodeID(1)))
            },
            pump: { try await current.withLock { $0 }?.runUntilIdle(quietRounds: 1) })
        try await TransportContract.checkAll(harness)
    }
}

import DeepseekActors
import DeepseekTestSupport
import DeepseekTransportURing
import Testing

@Suite(.enabled(if: uringAvailable, "io_uring is not available in this process"))
struct URingContractTests {
    static func harness(_ endpoint: Endpoint) -> TransportHarness {
        TransportHarness(name: "io_uring over \(endpoint)") {
            let (t0, t1) = try URingFixture.pair(endpoint)
            return (t0, t1)
        }
    }

    @Test(arguments: [Endpoint.tcp, .unix])
    func passesTheTransportContract(_ endpoint: Endpoint) async throws {
        try await TransportContract.checkAll(Self.harness(endpoint))
    }
}

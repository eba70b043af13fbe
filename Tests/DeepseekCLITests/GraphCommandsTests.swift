import Testing

@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"))
struct GraphCommandsTests {
    @Test func passesReportFusionAndABitIdenticalPlannedRun() throws {
        let binary = try #require(deepseekBinary)
        let result = runProcess(binary, ["passes", "--batch", "1"])
        #expect(!result.timedOut)
        #expect(result.exitCode == 0, "stderr: \(result.stderr)")
        #expect(result.stdout.split(separator: "\n").filter { $0.contains("bit-for-bit identical to the plain run") }.count == 2, "\(result.stdout)")
        #expect(result.stdout.contains("fusion: ops"))
    }

    @Test func trainRefusesAMissingDatasetDirectory() throws {
        let binary = try #require(deepseekBinary)
        let result = runProcess(binary, ["train", "--data", "/nonexistent/fashion-mnist"])
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("Fashion-MNIST is not in /nonexistent/fashion-mnist"), "\(result.stderr)")
    }
}

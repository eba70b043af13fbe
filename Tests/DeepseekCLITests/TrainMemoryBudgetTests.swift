import Foundation
import Testing

/// `deepseek train --memory-budget` keeps parameters and optimizer state in the RAM-over-SSD
/// store and trains exactly as without it.
@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"))
struct TrainMemoryBudgetTests {
    /// The epoch lines without their timings: loss and accuracy only.
    static func epochLines(_ output: String) -> [String] {
        output.split(separator: "\n").filter { $0.hasPrefix("epoch ") && $0.contains("mean loss") }.map { line in
            line.split(separator: ",").filter { !$0.contains(" s") && !$0.contains("samples/s") }.joined(separator: ",")
        }
    }

    @Test func aQuarterBudgetTrainsExactlyAsWithoutOne() throws {
        let binary = try #require(deepseekBinary)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deepseek-budget-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try TrainTraceTests.writeMiniDataset(to: directory, count: 512)
        let common = ["train", "--model", "mlp", "--hidden", "48", "--epochs", "2", "--steps-per-epoch", "5", "--optimizer", "adam", "--data", directory.path]
        let plain = runProcess(binary, common)
        let budgeted = runProcess(binary, common + ["--memory-budget", "25%", "--offload-dir", directory.path])
        #expect(plain.exitCode == 0 && budgeted.exitCode == 0, "\(plain.stderr)\n\(budgeted.stderr)")
        #expect(Self.epochLines(plain.stdout).count == 2)
        #expect(Self.epochLines(plain.stdout) == Self.epochLines(budgeted.stdout), "\(plain.stdout)\n---\n\(budgeted.stdout)")
        #expect(budgeted.stdout.contains("storage: hit rate"), "\(budgeted.stdout)")
    }

    @Test func aBudgetThatIsNotASizeIsRefusedWithTheFormsItTakes() throws {
        let binary = try #require(deepseekBinary)
        let result = runProcess(binary, ["train", "--model", "mlp", "--data", "/usr/share/datasets/fashion-mnist", "--memory-budget", "lots"])
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("--memory-budget: 'lots' is neither a share (25%) nor a size"), "\(result.stderr)")
    }
}

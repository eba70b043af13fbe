import DeepseekModels
import Foundation
import Testing

@Suite struct WordPieceTests {
    static let vocabulary = [
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un", "##aff", "##able", "the", "cafe", "hello", "world", "!", ",", "东", "京",
        "run", "##ning", "a", "##b", "##c", "$", "'", "s",
    ]

    static func tokenizer(_ settings: WordPieceTokenizer.Settings = .init()) throws -> WordPieceTokenizer {
        try WordPieceTokenizer(vocabulary: vocabulary, settings: settings)
    }

    @Test func wordsAreCutIntoTheLongestKnownPieces() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("unaffable running") == ["un", "##aff", "##able", "run", "##ning"])
        #expect(t.tokenize("abc") == ["a", "##b", "##c"])
    }

    @Test func textIsLowerCasedAndAccentsAreStripped() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("HeLLo CAFÉ") == ["hello", "cafe"])
        // A decomposed é (e + U+0301) gives the same pieces as the precomposed one.
        #expect(t.tokenize("cafe\u{301}") == ["cafe"])
    }

    @Test func casedSettingsKeepCaseAndAccents() throws {
        let t = try Self.tokenizer(.init(lowercase: false))
        #expect(t.tokenize("Hello café") == ["[UNK]", "[UNK]"])
        #expect(t.tokenize("hello") == ["hello"])
    }

    @Test func punctuationAndCJKIdeographsBecomeWordsOfTheirOwn() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("hello,world!") == ["hello", ",", "world", "!"])
        #expect(t.tokenize("东京") == ["东", "京"])
        #expect(t.tokenize("the$'s") == ["the", "$", "'", "s"])
    }

    @Test func whitespaceAndControlCharactersAreCleaned() throws {
        let t = try Self.tokenizer()
        #expect(t.tokenize("  hello\t\n world\u{0}\u{200B} \u{3000}the ") == ["hello", "world", "the"])
        #expect(t.tokenize("") == [])
    }

    @Test func unknownAndOverlongWordsBecomeUNK() throws {
        let t = try Self.tokenizer(.init(maxCharactersPerWord: 5))
        #expect(t.tokenize("hello xyz") == ["hello", "[UNK]"])
        #expect(t.tokenize("unaffable") == ["[UNK]"])
        #expect(t.encode("xyz") == [2, 1, 3])
    }

    @Test func encodeAddsSpecialTokensAndTruncatesKeepingSEP() throws {
        let t = try Self.tokenizer(.init(maxLength: 4))
        #expect(t.encode("hello world") == [2, 10, 11, 3])
        #expect(t.encode("hello world the cafe") == [2, 10, 11, 3])
        #expect(t.encode("") == [2, 3])
        #expect(t.tokens([2, 10, 99]) == ["[CLS]", "hello", "[UNK]"])
    }

    @Test func vocabularyIsReadFromAFileOneTokenPerLine() throws {
        let path = temporaryPath("vocab.txt")
        defer { try? FileManager.default.removeItem(atPath: path) }
        try (Self.vocabulary.joined(separator: "\r\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        let t = try WordPieceTokenizer(vocabularyFile: path)
        #expect(t.vocabulary == Self.vocabulary)
        #expect(t.id(of: "hello") == 10)
    }

    @Test func vocabularyWithoutSpecialTokensOrWithDuplicatesIsRejected() throws {
        var error = try #require(throws: TokenizerError.self) { try WordPieceTokenizer(vocabulary: ["a", "b"]) }
        #expect(error.code == .invalidVocabulary)
        #expect(error.message.contains("[UNK]"))
        error = try #require(throws: TokenizerError.self) { try WordPieceTokenizer(vocabulary: Self.vocabulary + ["the"]) }
        #expect(error.code == .invalidVocabulary)
        error = try #require(throws: TokenizerError.self) { try WordPieceTokenizer(vocabularyFile: "/nonexistent/vocab.txt") }
        #expect(error.code == .io)
        error = try #require(throws: TokenizerError.self) { try Self.tokenizer(.init(maxLength: 1)) }
        #expect(error.code == .invalidArgument)
    }
}

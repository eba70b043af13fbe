import Foundation

/// BERT's "basic" pre-tokenisation: cleaning, CJK isolation, lower-casing, accent stripping and
/// punctuation splitting, producing the words WordPiece then cuts into vocabulary pieces.
///
/// The rules follow the original BERT tokenizer (and Hugging Face's `BasicTokenizer`), scalar by
/// scalar, so token ids match the published models:
/// 1. drop U+0000, U+FFFD and control characters; turn every whitespace into a space;
/// 2. put spaces around CJK ideographs, so each becomes a word of its own;
/// 3. split on whitespace; lower-case each word and strip accents (canonical decomposition, then
///    drop non-spacing marks) when asked;
/// 4. split every punctuation character (ASCII symbols and Unicode `P*`) into a word of its own.
struct BasicTokenizer: Sendable {
    var lowercase: Bool
    var stripAccents: Bool
    var splitCJK: Bool

    /// The words of `text`, as arrays of Unicode scalars (WordPiece matches scalar by scalar).
    func words(_ text: String) -> [[Unicode.Scalar]] {
        var cleaned = String.UnicodeScalarView()
        for s in text.unicodeScalars {
            if s.value == 0 || s.value == 0xFFFD || Self.isControl(s) { continue }
            if Self.isWhitespace(s) {
                cleaned.append(" ")
            } else if splitCJK && Self.isCJK(s) {
                cleaned.append(" ")
                cleaned.append(s)
                cleaned.append(" ")
            } else {
                cleaned.append(s)
            }
        }
        // NFC first, as the reference does, so precomposed and decomposed input give the same ids.
        let normalized = String(cleaned).precomposedStringWithCanonicalMapping
        var words: [[Unicode.Scalar]] = []
        for piece in normalized.split(separator: " ", omittingEmptySubsequences: true) {
            var word = String(piece)
            if lowercase { word = word.lowercased() }
            var scalars = Array(word.unicodeScalars)
            if stripAccents {
                scalars = word.decomposedStringWithCanonicalMapping.unicodeScalars.filter {
                    $0.properties.generalCategory != .nonspacingMark
                }
            }
            var current: [Unicode.Scalar] = []
            for s in scalars {
                if Self.isPunctuation(s) {
                    if !current.isEmpty { words.append(current) }
                    words.append([s])
                    current = []
                } else {
                    current.append(s)
                }
            }
            if !current.isEmpty { words.append(current) }
        }
        return words
    }

    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        s == " " || s == "\t" || s == "\n" || s == "\r" || s.properties.generalCategory == .spaceSeparator
    }

    /// Control characters (`C*`), except the tab and newlines that count as whitespace.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        if s == "\t" || s == "\n" || s == "\r" { return false }
        switch s.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    /// ASCII non-alphanumeric symbols count as punctuation (`$`, `^`, `` ` ``), as in BERT, plus Unicode `P*`.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        let v = s.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation, .finalPunctuation,
            .otherPunctuation:
            return true
        default: return false
        }
    }

    /// The CJK Unified Ideographs blocks BERT isolates (not Hangul, Hiragana or Katakana, which
    /// are written with spaces and left to WordPiece).
    static func isCJK(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F, 0x2B820...0x2CEAF,
            0xF900...0xFAFF, 0x2F800...0x2FA1F:
            true
        default: false
        }
    }
}

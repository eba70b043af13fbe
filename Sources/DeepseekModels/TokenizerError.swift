public import DeepseekCore

/// An error from building or using a tokenizer: an unreadable or unusable vocabulary, or
/// settings that cannot work (a maximum length too short for the special tokens).
public struct TokenizerError: DeepseekError {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The vocabulary file cannot be read.
        public static let io = Code("io")
        /// The vocabulary is empty, repeats a token, or lacks a special token the tokenizer needs.
        public static let invalidVocabulary = Code("invalidVocabulary")
        /// A setting is out of range (`maxLength` below 2, an empty batch).
        public static let invalidArgument = Code("invalidArgument")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }
}

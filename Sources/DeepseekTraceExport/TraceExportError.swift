public import DeepseekCore

/// An error from reading, writing or analysing a trace: a file that cannot be opened, a
/// malformed or truncated trace, or a request the trace cannot answer.
///
/// Errors about file contents carry the byte offset (and, for JSON, the line and column) where
/// the reader gave up, so a 100-MB file can be inspected at the right place:
/// `malformedTrace: run.json: byte 1043 (line 12, column 7): expected ',' or ']' after an event, found 'x'`.
public struct TraceExportError: DeepseekError {
    /// The kind of trace failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The file could not be opened, read or written.
        public static let io = Code("io")
        /// The bytes are not a well-formed trace (bad JSON, truncated file, wrong field types).
        public static let malformedTrace = Code("malformedTrace")
        /// The trace is well formed but cannot answer the request (no events, unknown track, …).
        public static let invalidRequest = Code("invalidRequest")
        /// A writer was used after `finish()`.
        public static let finished = Code("finished")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The byte offset in the input where the problem was found, for malformed input.
    public var byteOffset: Int?

    public init(
        _ code: Code, _ message: String, byteOffset: Int? = nil, cause: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.byteOffset = byteOffset
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }
}

public import DeepseekCore

/// An error writing, reading or restoring a checkpoint.
///
/// Errors about a file name it first, then say what is wrong and what to do, e.g.
/// `checksumMismatch: /runs/a/checkpoint-000000001200.dsckpt: the payload checksum is
/// 0x1f…, the header says 0x9c…; the file was damaged after it was written — use an older
/// checkpoint`.
public struct CheckpointError: DeepseekError {
    /// The kind of checkpoint failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No file exists at the path.
        public static let notFound = Code("notFound")
        /// The operating system refused an operation (permissions, full disk, a directory in the way).
        public static let io = Code("io")
        /// The file does not start with the checkpoint magic bytes.
        public static let notACheckpoint = Code("notACheckpoint")
        /// The file is a checkpoint in a format version this build cannot read.
        public static let unsupportedVersion = Code("unsupportedVersion")
        /// The file ends before the checkpoint does.
        public static let truncated = Code("truncated")
        /// The bytes do not match the checksum stored with them.
        public static let checksumMismatch = Code("checksumMismatch")
        /// The checksum matches but the contents break the format (or bytes follow the checkpoint).
        public static let corrupt = Code("corrupt")
        /// The checkpoint's parameters are not the model's (names, shapes or dtypes differ).
        public static let modelMismatch = Code("modelMismatch")
        /// The checkpoint's optimizer state belongs to another optimizer.
        public static let optimizerMismatch = Code("optimizerMismatch")
        /// An argument or value the checkpoint cannot hold (a meta tensor, a bad setting).
        public static let invalidArgument = Code("invalidArgument")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The checkpoint file involved, if any.
    public var file: String?

    /// Creates an error; when `file` is given the message is prefixed with it.
    public init(
        _ code: Code, _ message: String, file: String? = nil, cause: (any Error)? = nil,
        sourceFile: String = #fileID, sourceLine: Int = #line
    ) {
        self.code = code
        self.file = file
        self.cause = cause
        self.location = SourceLocation(file: sourceFile, line: sourceLine)
        self.message = (file.map { "\($0): " } ?? "") + message
    }
}

public import DeepseekCore

/// An error from loading training data: a file that cannot be read, compressed bytes that do not
/// inflate, a file whose contents break its format, or arguments a data pipeline cannot use.
///
/// Errors about a file name the file, e.g. `malformed: /data/train-images-idx3-ubyte.gz: the
/// header declares 60000 × 28 × 28 uint8 elements (47040000 bytes) but 1000 bytes follow it; the
/// file is truncated — download or reinstall it`.
public struct DatasetError: DeepseekError {
    /// The kind of data failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A file or directory could not be found or read.
        public static let io = Code("io")
        /// Compressed bytes are corrupt, truncated or not in gzip/zlib format.
        public static let corrupt = Code("corrupt")
        /// A file decodes but breaks its format (bad magic number, sizes that do not match).
        public static let malformed = Code("malformed")
        /// Files that should describe the same examples disagree (counts, shapes, label range).
        public static let inconsistent = Code("inconsistent")
        /// An argument a loader or pipeline cannot use (a non-positive batch size, …).
        public static let invalidArgument = Code("invalidArgument")
        /// The machine cannot provide the memory or library the operation needs.
        public static let resource = Code("resource")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The file being read when the error happened, if any.
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

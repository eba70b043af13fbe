public import DeepseekCore

/// An error from a storage tier, the tiered store or a checkpoint file.
///
/// The message names what was involved — the file, the tensor, the key — then says what went
/// wrong and what to do, e.g. `checksumMismatch: /runs/a/step-000000000040.dstensors: tensor
/// "fc1.weight": the bytes hash to 0x1f…, the index says 0x9c…; the file was damaged after it
/// was written — an older checkpoint is used`.
public struct StorageError: DeepseekError {
    /// The kind of storage failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No tensor is stored under the key, or no file exists at the path.
        public static let notFound = Code("notFound")
        /// The tier's byte budget cannot hold the tensor, even after evicting everything evictable.
        public static let budgetExceeded = Code("budgetExceeded")
        /// The disk (or the tier's capacity) is full.
        public static let outOfSpace = Code("outOfSpace")
        /// The operating system refused access (permissions, a read-only file system).
        public static let permissionDenied = Code("permissionDenied")
        /// Another operating-system failure (an I/O error, a missing directory, io_uring refused).
        public static let io = Code("io")
        /// The file ends before its contents do (a torn write).
        public static let truncated = Code("truncated")
        /// Bytes do not match the checksum stored with them.
        public static let checksumMismatch = Code("checksumMismatch")
        /// The checksums match but the contents break the format, or the file is not ours.
        public static let corrupt = Code("corrupt")
        /// An argument the storage cannot use (a meta tensor, a bad setting).
        public static let invalidArgument = Code("invalidArgument")
        /// The machine lacks what the tier needs (no io_uring in this kernel, or it is disabled).
        public static let unavailable = Code("unavailable")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The file involved, if any.
    public var file: String?
    /// The tensor (key) involved, if any.
    public var tensor: String?

    /// Creates an error; the message is prefixed with the file and the tensor when given.
    public init(
        _ code: Code, _ message: String, file: String? = nil, tensor: String? = nil, cause: (any Error)? = nil,
        sourceFile: String = #fileID, sourceLine: Int = #line
    ) {
        self.code = code
        self.file = file
        self.tensor = tensor
        self.cause = cause
        self.location = SourceLocation(file: sourceFile, line: sourceLine)
        self.message = (file.map { "\($0): " } ?? "") + (tensor.map { "tensor \"\($0)\": " } ?? "") + message
    }

    /// An error for a failed system call: ENOSPC/EDQUOT/EFBIG become `.outOfSpace`, EACCES/EPERM/
    /// EROFS `.permissionDenied`, anything else `.io`; the message carries the errno's text.
    static func system(
        _ errno: Int32, _ what: String, file: String? = nil, tensor: String? = nil, advice: String? = nil,
        sourceFile: String = #fileID, sourceLine: Int = #line
    ) -> StorageError {
        let code = abs(errno)
        let kind: Code
        let hint: String
        switch code {
        case ENOSPC_, EDQUOT_, EFBIG_:
            kind = .outOfSpace
            hint = "free space on the disk or give the tier another directory"
        case EACCES_, EPERM_, EROFS_:
            kind = .permissionDenied
            hint = "check that the directory exists, is writable by this user and is not on a read-only file system"
        case ENOENT_:
            kind = .notFound
            hint = "check the path; create the directory first"
        default:
            kind = .io
            hint = "check the disk and the kernel log"
        }
        return StorageError(
            kind, "\(what) failed: \(SystemErrno.text(code)); \(advice ?? hint)", file: file, tensor: tensor,
            sourceFile: sourceFile, sourceLine: sourceLine)
    }
}

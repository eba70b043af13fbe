public import DeepseekCore

/// A failure of a verbs call or of the RDMA transport's set-up (sending failures surface as
/// `ActorSystemError`, as for every transport).
public struct VerbsError: DeepseekError {
    /// The kind of verbs failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }
        /// RDMA cannot be used on this host: no libibverbs, no device, or no active port.
        public static let unavailable = Code("unavailable")
        /// A verbs call returned an error; `errno` holds its value.
        public static let callFailed = Code("callFailed")
        /// A queue pair was asked for a transition or operation its state does not allow.
        public static let invalidState = Code("invalidState")
        /// The settings are inconsistent.
        public static let invalidSettings = Code("invalidSettings")
        /// A connection exchange with a peer failed.
        public static let connectionFailed = Code("connectionFailed")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The errno a verbs call returned, when one did.
    public var errno: Int32?

    public init(
        _ code: Code, _ message: String, errno: Int32? = nil, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.errno = errno
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }
}

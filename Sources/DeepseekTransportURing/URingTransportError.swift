public import DeepseekCore

/// A failure setting up or running the io_uring transport (sending failures surface as
/// `ActorSystemError`, as for every transport).
public struct URingTransportError: DeepseekError {
    /// The kind of transport failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }
        /// io_uring cannot be used in this process (old kernel, disabled by sysctl or seccomp).
        public static let unavailable = Code("unavailable")
        /// The settings are inconsistent.
        public static let invalidSettings = Code("invalidSettings")
        /// An address could not be resolved or is malformed.
        public static let invalidAddress = Code("invalidAddress")
        /// The listening socket could not be created, bound or put to listen.
        public static let listenFailed = Code("listenFailed")
        /// The ring or its thread could not be set up.
        public static let setupFailed = Code("setupFailed")
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

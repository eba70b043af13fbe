public import DeepseekCore

/// A failure of the actor system: a call that could not be delivered, timed out, or was
/// refused by the receiving side.
public struct ActorSystemError: DeepseekError {
    /// The kind of actor-system failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The target actor does not exist (never did, or has stopped).
        public static let deadActor = Code("deadActor")
        /// The node the actor lives on is unreachable or has left the cluster.
        public static let nodeUnreachable = Code("nodeUnreachable")
        /// No reply arrived within the call's timeout.
        public static let timeout = Code("timeout")
        /// The message could not be encoded or decoded.
        public static let serialization = Code("serialization")
        /// A type name on the wire is not in the registry of types allowed to cross it.
        public static let unknownType = Code("unknownType")
        /// The remote handler threw; the message carries its description.
        public static let remoteError = Code("remoteError")
        /// The target function does not exist on the receiving actor.
        public static let unknownTarget = Code("unknownTarget")
        /// The system is shutting down or has shut down.
        public static let shutDown = Code("shutDown")
        /// The transport failed to send.
        public static let transportFailure = Code("transportFailure")
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

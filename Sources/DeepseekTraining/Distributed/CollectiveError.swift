public import DeepseekCore

/// A failure of a collective operation or of distributed training: a peer that died or fell
/// silent, a message that breaks the protocol, or settings that cannot work together.
///
/// The message names the rank (and node) involved, the operation and what to do, e.g.
/// `allReduce #7: rank 2 (node2) is unreachable: transport shut down; restart it or resume on the remaining nodes`.
public struct CollectiveError: DeepseekError {
    /// The kind of collective failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A peer stopped, its node left, or a send to it failed.
        public static let peerUnreachable = Code("peerUnreachable")
        /// A peer did not send an expected message within the operation's timeout.
        public static let timeout = Code("timeout")
        /// A message does not fit the operation (wrong step, duplicate, wrong length or layout).
        public static let protocolViolation = Code("protocolViolation")
        /// Settings or arguments that cannot work (a rank outside the group, a density outside (0, 1]).
        public static let invalidArgument = Code("invalidArgument")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The rank the failure concerns, when one does.
    public var rank: Int?

    public init(
        _ code: Code, _ message: String, rank: Int? = nil, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.rank = rank
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }
}

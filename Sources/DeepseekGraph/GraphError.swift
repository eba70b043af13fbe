public import DeepseekCore

/// An error found while building, validating, transforming or running a graph.
///
/// Messages name the node (`n12 "fc2"`), its op, its inputs' types and the rule that failed, e.g.
/// `n3 "fc2" (matmul) with inputs %2: float32[64, 256], %4: float32[128, 10]: matmul: inner
/// dimensions differ …`.
public struct GraphError: DeepseekError {
    /// The kind of graph failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The graph has a cycle; the message lists the nodes on it.
        public static let cycle = Code("cycle")
        /// An input refers to a node or value that does not exist.
        public static let unknownReference = Code("unknownReference")
        /// Two nodes share a name, or a name is empty.
        public static let duplicateName = Code("duplicateName")
        /// Shape or dtype inference failed for a node.
        public static let inference = Code("inference")
        /// A node has the wrong number of inputs for its op.
        public static let arity = Code("arity")
        /// A node is pinned to a device that cannot run its op, or no device can.
        public static let placement = Code("placement")
        /// A feed is missing, extra, or has the wrong type.
        public static let feed = Code("feed")
        /// A kernel failed while the graph ran.
        public static let execution = Code("execution")
        /// The operation has no gradient rule, or differentiating failed.
        public static let notDifferentiable = Code("notDifferentiable")
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

public import DeepseekCore

/// An error from a tensor operation: bad shapes, dtypes, axes or arguments, or an allocation the
/// machine cannot satisfy.
///
/// The message names the operation, the shapes and dtypes involved, and what would fit, e.g.
/// `matmul: inner dimensions differ: [2, 3] × [4, 5] (3 ≠ 4); the last axis of the left operand
/// must equal the second-to-last axis of the right`.
public struct TensorError: DeepseekError {
    /// The kind of tensor failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Shapes that cannot be combined or are invalid for the operation.
        public static let shapeMismatch = Code("shapeMismatch")
        /// A dtype the operation does not accept, or operands of incompatible dtypes.
        public static let dtypeMismatch = Code("dtypeMismatch")
        /// An axis outside `-rank..<rank`, or a repeated axis.
        public static let invalidAxis = Code("invalidAxis")
        /// An argument value outside its domain (negative stride, probability above 1, …).
        public static let invalidArgument = Code("invalidArgument")
        /// An index outside the bounds of the axis it indexes.
        public static let indexOutOfRange = Code("indexOutOfRange")
        /// The tensor would need more memory than the machine has.
        public static let outOfMemory = Code("outOfMemory")
        /// The backend cannot run this operation or dtype.
        public static let unsupported = Code("unsupported")
        /// A device or library call failed.
        public static let backendFailure = Code("backendFailure")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation

    public init(
        _ code: Code, _ message: String, cause: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }
}

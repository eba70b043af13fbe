public import DeepseekCore

/// An error from building a layer, loading weights, computing a loss or stepping an optimizer.
///
/// Shape errors found while tracing come from the graph (`GraphError`, naming the node); this type
/// covers what the layers check themselves: constructor arguments, parameter names and values.
public struct NNError: DeepseekError {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A constructor or optimizer setting is out of range (`heads` not dividing `dim`, a negative rate).
        public static let invalidArgument = Code("invalidArgument")
        /// A tensor has the wrong shape or rank for the layer, loss or parameter.
        public static let shapeMismatch = Code("shapeMismatch")
        /// A tensor has the wrong element type (float ids for an embedding, float labels).
        public static let dtypeMismatch = Code("dtypeMismatch")
        /// A name does not match any parameter, or a parameter has no value.
        public static let unknownParameter = Code("unknownParameter")
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

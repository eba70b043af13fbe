public import DeepseekCore

/// An error from the simulator: a bad scenario file or a configuration that cannot run.
public struct SimulationError: DeepseekError {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }
        /// The scenario text is not valid YAML of the supported subset.
        public static let syntax = Code("syntax")
        /// A field is missing, unknown, or its value is out of range.
        public static let invalidField = Code("invalidField")
        /// The cluster cannot hold the parallel layout asked for.
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// Reading or writing a file failed.
        public static let io = Code("io")
        /// A program on virtual time waits for something no event will bring.
        public static let stalled = Code("stalled")
        /// A simulated message did not decode.
        public static let corruptMessage = Code("corruptMessage")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The scenario field the error is about (`cluster.bandwidth`), when there is one.
    public var field: String?
    /// The 1-based line of the scenario file, when known.
    public var line: Int?

    public init(_ code: Code, _ message: String, field: String? = nil, line: Int? = nil, cause: (any Error)? = nil, file: String = #fileID, sourceLine: Int = #line) {
        (self.code, self.message, self.field, self.line, self.cause) = (code, message, field, line, cause)
        location = SourceLocation(file: file, line: sourceLine)
    }
}

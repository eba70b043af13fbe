public import DeepseekCore

/// An error from mixed-precision training: settings a loss scaler or precision switch cannot
/// work with, or saved state that does not fit the settings it is restored with.
public struct MixedPrecisionError: DeepseekError {
    /// The kind of mixed-precision failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A setting or argument outside its domain.
        public static let invalidArgument = Code("invalidArgument")
        /// Saved state that the current settings cannot continue from.
        public static let incompatibleState = Code("incompatibleState")
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

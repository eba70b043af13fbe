/// Where in the source an error was raised, kept for diagnostics.
///
/// Errors in Deepseek carry the location that created them so a report can point at the
/// call that failed, not only at the message.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String = #fileID, line: Int = #line) {
        self.file = file
        self.line = line
    }

    /// The location of the caller of the function that uses this as a default argument.
    public static func here(file: String = #fileID, line: Int = #line) -> SourceLocation {
        SourceLocation(file: file, line: line)
    }

    public var description: String { "\(file):\(line)" }
}

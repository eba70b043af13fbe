/// The shape every Deepseek error follows: a stable code, a message for people, an optional cause
/// and the source location that raised it.
///
/// Modules declare their own error structs (`TensorError`, `ONNXError`, …) conforming to this
/// protocol, each with an evolvable `Code` struct rather than a public enum, so new cases can be
/// added without breaking users' `switch` statements.
public protocol DeepseekError: Error, CustomStringConvertible, Sendable {
    associatedtype Code: Hashable & Sendable & CustomStringConvertible
    /// What kind of failure this is; compare against the static members of `Code`.
    var code: Code { get }
    /// What was wrong, where, and what to do about it.
    var message: String { get }
    /// The error that led to this one, if any.
    var cause: (any Error)? { get }
    /// Where the error was raised.
    var location: SourceLocation { get }
}

extension DeepseekError {
    public var description: String {
        var text = "\(code): \(message)"
        if let cause { text += " (cause: \(cause))" }
        return text
    }
}

/// The name a tensor is stored under: a parameter name (`fc1.weight`), an optimizer state
/// tensor (`m.fc1.weight`), an activation (`step12/relu3`) — any string.
///
/// ```swift
/// try await tier.store(weights, for: "fc1.weight")
/// let w = try await tier.load("fc1.weight")
/// ```
public struct StorageKey: Hashable, Sendable, Comparable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The key's text.
    public var name: String

    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }

    public var description: String { name }
    public static func < (a: StorageKey, b: StorageKey) -> Bool { a.name < b.name }
}

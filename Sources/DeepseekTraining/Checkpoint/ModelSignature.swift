public import DeepseekTensor

/// The identity of a model's parameters: every name with its dtype and shape, sorted by name.
///
/// Two models with the same signature can exchange checkpoints. A checkpoint stores the
/// signature of its parameters, and restoring compares it with the model's before touching
/// anything.
public struct ModelSignature: Sendable, Hashable, CustomStringConvertible {
    /// One parameter: its name, dtype and shape.
    public struct Entry: Sendable, Hashable, CustomStringConvertible {
        public var name: String
        public var dtype: DType
        public var shape: Shape

        public init(name: String, dtype: DType, shape: Shape) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
        }

        public var description: String { "\(name) \(dtype)\(shape)" }
    }

    /// The parameters, sorted by name.
    public let entries: [Entry]

    /// The signature of parameter values by name.
    public init(_ parameters: [String: Tensor]) {
        entries = parameters.map { Entry(name: $0.key, dtype: $0.value.dtype, shape: $0.value.shape) }.sorted { $0.name < $1.name }
    }

    /// A signature from entries in any order.
    public init(entries: [Entry]) {
        self.entries = entries.sorted { $0.name < $1.name }
    }

    public var description: String { entries.map(\.description).joined(separator: ", ") }

    /// What differs between this signature (the model's) and `other` (a checkpoint's), one
    /// line per parameter in name order; empty when they match.
    ///
    /// - Parameter ignoringDTypes: compare names and shapes only.
    public func differences(from other: ModelSignature, ignoringDTypes: Bool = false) -> [String] {
        var result: [String] = []
        var i = 0
        var j = 0
        while i < entries.count || j < other.entries.count {
            let mine = i < entries.count ? entries[i] : nil
            let theirs = j < other.entries.count ? other.entries[j] : nil
            if let mine, let theirs, mine.name == theirs.name {
                if mine.shape != theirs.shape || (!ignoringDTypes && mine.dtype != theirs.dtype) {
                    result.append("\"\(mine.name)\" is \(mine.dtype)\(mine.shape) in the model but \(theirs.dtype)\(theirs.shape) in the checkpoint")
                }
                i += 1
                j += 1
            } else if let mine, theirs == nil || mine.name < theirs!.name {
                result.append("\"\(mine.name)\" (\(mine.dtype)\(mine.shape)) is missing from the checkpoint")
                i += 1
            } else if let theirs {
                result.append("\"\(theirs.name)\" (\(theirs.dtype)\(theirs.shape)) is in the checkpoint but not in the model")
                j += 1
            }
        }
        return result
    }
}

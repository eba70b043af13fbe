/// A typed value attached to a trace event.
///
/// Three kinds cover what timelines show (counts and sizes, measured quantities, names); a closed
/// set keeps events copyable without boxing, unlike `Any`.
public enum TraceValue: Sendable, Hashable, CustomStringConvertible,
    ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral
{
    case int(Int64)
    case double(Double)
    case string(String)

    @inlinable public init(integerLiteral value: Int64) { self = .int(value) }
    @inlinable public init(floatLiteral value: Double) { self = .double(value) }
    @inlinable public init(stringLiteral value: String) { self = .string(value) }

    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .double(let value): String(value)
        case .string(let value): value
        }
    }
}

/// One key/value pair of a trace event.
public struct TraceArgument: Sendable, Hashable {
    /// The argument's name; short names (up to 15 UTF-8 bytes) are stored inline without allocating.
    public var key: String
    /// The argument's value.
    public var value: TraceValue

    /// Creates an argument.
    @inlinable
    public init(_ key: String, _ value: TraceValue) {
        self.key = key
        self.value = value
    }
}

/// Up to four key/value pairs attached to a trace event.
///
/// Events without arguments (most of them) carry an empty array, which takes one word and no
/// allocation; events with arguments keep them in one small array. Keeping the pairs out of the
/// event keeps every event small, and small events are what make recording cheap: a ring slot
/// the recording thread writes and a drain thread reads moves between cores a cache line at a
/// time. Order is preserved; keys are not required to be unique (the first match wins in
/// `subscript(key:)`).
///
/// ```swift
/// let arguments: TraceArguments = ["bytes": 4096, "peer": "node-2"]
/// arguments["bytes"]   // .int(4096)
/// ```
public struct TraceArguments: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    /// The most arguments one event carries.
    public static let capacity = 4

    @usableFromInline var storage: [TraceArgument]

    /// No arguments.
    @inlinable
    public init() {
        storage = []
    }

    /// The given arguments, in order.
    ///
    /// - Precondition: at most `TraceArguments.capacity` arguments: the count is fixed in the
    ///   source that records the event, so more is a programming error, not an input error.
    public init(_ arguments: [TraceArgument]) {
        precondition(
            arguments.count <= Self.capacity,
            "TraceArguments holds at most \(Self.capacity) arguments, got \(arguments.count): "
                + "keep the rest in the event name or in a separate instant event")
        storage = arguments
    }

    /// The given arguments, in order; inlinable so the literal at a recording site is built
    /// straight into the arguments' one array.
    ///
    /// - Precondition: at most `TraceArguments.capacity` arguments.
    @inlinable
    public init(dictionaryLiteral elements: (String, TraceValue)...) {
        precondition(
            elements.count <= Self.capacity,
            "TraceArguments holds at most \(Self.capacity) arguments, got \(elements.count)")
        storage = []
        storage.reserveCapacity(elements.count)
        for (key, value) in elements { storage.append(TraceArgument(key, value)) }
    }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { storage.count }

    @inlinable
    public subscript(position: Int) -> TraceArgument {
        storage[position]
    }

    /// The value of the first argument named `key`, if any.
    public subscript(key: String) -> TraceValue? {
        first(where: { $0.key == key })?.value
    }

    /// Whether another argument fits.
    public var isFull: Bool { storage.count == Self.capacity }

    /// Appends an argument if there is room.
    ///
    /// - Returns: `false` (and leaves the arguments unchanged) when all four slots are used, so
    ///   code that attaches optional context can degrade instead of trapping.
    @inlinable @discardableResult
    public mutating func append(_ key: String, _ value: TraceValue) -> Bool {
        guard storage.count < Self.capacity else { return false }
        storage.append(TraceArgument(key, value))
        return true
    }
}

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

/// Up to four key/value pairs stored inline in a trace event.
///
/// The fixed capacity keeps every event the same size, so recorders copy events into
/// preallocated slots without touching the heap. Order is preserved; keys are not required to be
/// unique (the first match wins in `subscript(key:)`).
///
/// ```swift
/// let arguments: TraceArguments = ["bytes": 4096, "peer": "node-2"]
/// arguments["bytes"]   // .int(4096)
/// ```
public struct TraceArguments: Sendable, Hashable, RandomAccessCollection, ExpressibleByDictionaryLiteral {
    /// The most arguments one event carries.
    public static let capacity = 4

    @usableFromInline var first: TraceArgument
    @usableFromInline var second: TraceArgument
    @usableFromInline var third: TraceArgument
    @usableFromInline var fourth: TraceArgument
    @usableFromInline var storedCount: UInt8

    @usableFromInline static var unused: TraceArgument { TraceArgument("", .int(0)) }

    /// No arguments.
    @inlinable
    public init() {
        first = Self.unused
        second = Self.unused
        third = Self.unused
        fourth = Self.unused
        storedCount = 0
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
        self.init(validated: arguments)
    }

    public init(dictionaryLiteral elements: (String, TraceValue)...) {
        self.init(elements.map { TraceArgument($0.0, $0.1) })
    }

    init(validated arguments: [TraceArgument]) {
        first = arguments.count > 0 ? arguments[0] : Self.unused
        second = arguments.count > 1 ? arguments[1] : Self.unused
        third = arguments.count > 2 ? arguments[2] : Self.unused
        fourth = arguments.count > 3 ? arguments[3] : Self.unused
        storedCount = UInt8(arguments.count)
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { Int(storedCount) }

    public subscript(position: Int) -> TraceArgument {
        precondition(position >= 0 && position < Int(storedCount), "TraceArguments index \(position) out of range")
        switch position {
        case 0: return first
        case 1: return second
        case 2: return third
        default: return fourth
        }
    }

    /// The value of the first argument named `key`, if any.
    public subscript(key: String) -> TraceValue? {
        first(where: { $0.key == key })?.value
    }

    /// Whether another argument fits.
    public var isFull: Bool { Int(storedCount) == Self.capacity }

    /// Appends an argument if there is room.
    ///
    /// - Returns: `false` (and leaves the arguments unchanged) when all four slots are used, so
    ///   code that attaches optional context can degrade instead of trapping.
    @discardableResult
    public mutating func append(_ key: String, _ value: TraceValue) -> Bool {
        let argument = TraceArgument(key, value)
        switch storedCount {
        case 0: first = argument
        case 1: second = argument
        case 2: third = argument
        case 3: fourth = argument
        default: return false
        }
        storedCount += 1
        return true
    }

    public static func == (lhs: TraceArguments, rhs: TraceArguments) -> Bool {
        lhs.elementsEqual(rhs)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(storedCount)
        for argument in self { hasher.combine(argument) }
    }
}

import DeepseekCore
import Synchronization

/// Identifies one message across the events of its journey (send → receive → handler).
///
/// The high 24 bits hold a namespace (usually the node id) so flows minted on different nodes do
/// not collide when their traces are merged; the low 40 bits are a sequence number.
public struct FlowID: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The packed namespace and sequence number.
    public var rawValue: UInt64

    /// Wraps a raw identifier (for example one read back from a trace or a message envelope).
    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue }

    /// Bits used for the sequence number.
    public static let sequenceBits = 40

    /// The namespace part (usually the node that minted the flow).
    public var namespace: UInt32 { UInt32(truncatingIfNeeded: rawValue >> UInt64(Self.sequenceBits)) }

    /// The sequence part.
    public var sequence: UInt64 { rawValue & ((1 << UInt64(Self.sequenceBits)) - 1) }

    public static func < (lhs: FlowID, rhs: FlowID) -> Bool { lhs.rawValue < rhs.rawValue }

    public var description: String { "flow \(namespace):\(sequence)" }
}

/// Mints flow identifiers: unique within the generator, thread-safe, and reproducible when the
/// generator is created from a seed.
///
/// Real runs use `FlowIDGenerator.process` (or one generator per node with the node id as the
/// namespace); simulations create one from the scenario seed so the same seed yields the same
/// identifiers, and with them a byte-identical trace.
///
/// ```swift
/// let flows = FlowIDGenerator(namespace: nodeID, seed: 42)
/// let id = flows.next()
/// ```
public final class FlowIDGenerator: Sendable {
    /// The namespace stamped into every identifier.
    public let namespace: UInt32
    private let counter: Atomic<UInt64>

    /// The generator shared by everything in this process that does not bring its own.
    public static let process = FlowIDGenerator(namespace: 0)

    /// A generator whose sequence starts at 1.
    ///
    /// - Parameter namespace: the upper 24 bits of every identifier (values above 2²⁴ − 1 are
    ///   truncated); use the node id so merged traces keep flows apart.
    public init(namespace: UInt32 = 0) {
        self.namespace = namespace & 0xFF_FFFF
        counter = Atomic(1)
    }

    /// A generator whose sequence start is derived from `seed`, so equal seeds give equal
    /// identifiers and different seeds give (almost always) disjoint ones.
    public init(namespace: UInt32 = 0, seed: UInt64) {
        self.namespace = namespace & 0xFF_FFFF
        var rng = SeededRandom(seed: seed)
        // Start in the lower half of the 40-bit space so a long run cannot wrap into the next
        // namespace before 2^39 flows.
        counter = Atomic(1 + rng.next() % (1 << UInt64(FlowID.sequenceBits - 1)))
    }

    /// The next identifier.
    public func next() -> FlowID {
        let sequence = counter.wrappingAdd(1, ordering: .relaxed).oldValue
        let mask: UInt64 = (1 << UInt64(FlowID.sequenceBits)) - 1
        return FlowID(rawValue: (UInt64(namespace) << UInt64(FlowID.sequenceBits)) | (sequence & mask))
    }
}

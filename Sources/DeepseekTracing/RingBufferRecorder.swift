import DeepseekCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A fixed-capacity, in-memory recorder: the flight recorder behind `deepseek trace`.
///
/// Events go into `shardCount` rings of `capacityPerShard` preallocated slots; a thread writes to
/// the shard its thread identity hashes to, so threads rarely share a ring. Recording takes no
/// lock: a writer claims a ticket with one atomic add and the slot with one compare-and-swap,
/// copies the event in and publishes it. A writer that meets a slot another thread is using
/// (a reader copying it, or a writer that lapped the ring) does not wait: it drops its event and
/// counts it in `Statistics.dropped`.
///
/// Guarantees:
/// - No event is lost while the events recorded since the last `drain()` number at most
///   `capacityPerShard` (even if every thread lands on the same shard) and no snapshot runs.
/// - With `.overwriteOldest`, a full shard replaces its oldest events (counted in `overwritten`);
///   with `.dropNewest` it keeps the oldest and drops new ones (counted in `dropped`).
/// - `snapshot()` and `drain()` return events ordered by timestamp; events with equal
///   timestamps keep their recording order within a shard.
///
/// ```swift
/// let ring = RingBufferRecorder(capacityPerShard: 1 << 14)
/// let tracer = Tracer(recorder: ring, clock: MonotonicClock())
/// tracer.instant("start")
/// let events = ring.drain()
/// ```
public final class RingBufferRecorder: TraceRecorder {
    /// What a full shard does with a new event.
    public enum OverflowPolicy: Sendable, Hashable {
        /// Replace the oldest event: keep the most recent history.
        case overwriteOldest
        /// Discard the new event: keep the earliest history.
        case dropNewest
    }

    /// Counters describing what happened to recorded events.
    public struct Statistics: Sendable, Hashable {
        /// Calls to `record(_:)`.
        public var recorded: UInt64
        /// Events discarded without being stored (full under `.dropNewest`, or slot in use).
        public var dropped: UInt64
        /// Stored events replaced by newer ones before being drained.
        public var overwritten: UInt64
        /// Events currently held.
        public var retained: Int
    }

    /// Slots per shard (a power of two, at least the requested capacity).
    public let capacityPerShard: Int
    /// Number of shards (a power of two).
    public let shardCount: Int
    /// What a full shard does with a new event.
    public let policy: OverflowPolicy

    /// Always `true`: a ring buffer keeps events.
    public var isEnabled: Bool { true }

    private let shards: [RingShard]
    private let shardMask: UInt

    /// A shard count that spreads this machine's threads: the processor count rounded up to a
    /// power of two, at most 16.
    public static var defaultShardCount: Int {
        let processors = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        return min(16, Self.powerOfTwo(atLeast: processors))
    }

    /// Creates a recorder with preallocated storage for `shardCount × capacityPerShard` events.
    ///
    /// - Parameters:
    ///   - capacityPerShard: events one shard holds; rounded up to a power of two.
    ///   - shardCount: number of independent rings; rounded up to a power of two. Use 1 for a
    ///     single totally ordered ring (deterministic simulations).
    ///   - policy: what a full shard does.
    /// - Precondition: both counts are positive.
    public init(
        capacityPerShard: Int, shardCount: Int = RingBufferRecorder.defaultShardCount,
        policy: OverflowPolicy = .overwriteOldest
    ) {
        precondition(capacityPerShard > 0, "RingBufferRecorder needs a positive capacity, got \(capacityPerShard)")
        precondition(shardCount > 0, "RingBufferRecorder needs a positive shard count, got \(shardCount)")
        self.capacityPerShard = Self.powerOfTwo(atLeast: capacityPerShard)
        self.shardCount = Self.powerOfTwo(atLeast: shardCount)
        self.policy = policy
        shardMask = UInt(self.shardCount - 1)
        shards = (0..<self.shardCount).map { _ in
            RingShard(capacity: Self.powerOfTwo(atLeast: capacityPerShard), keepOldest: policy == .dropNewest)
        }
    }

    /// Stores `event` in the calling thread's shard.
    ///
    /// - Complexity: O(1); one atomic add, one compare-and-swap and one copy of the event.
    public func record(_ event: consuming TraceEvent) {
        shards[shardIndex()].record(event)
    }

    /// A copy of every held event, ordered by timestamp; the events stay in the recorder.
    public func snapshot() -> [TraceEvent] {
        collect(removing: false)
    }

    /// Every held event, ordered by timestamp; the recorder is left empty (counters are kept).
    public func drain() -> [TraceEvent] {
        collect(removing: true)
    }

    /// What happened to the events recorded so far.
    public var statistics: Statistics {
        var total = Statistics(recorded: 0, dropped: 0, overwritten: 0, retained: 0)
        for shard in shards {
            total.recorded &+= shard.recordedCount
            total.dropped &+= shard.droppedCount
            total.overwritten &+= shard.overwrittenCount
            total.retained += shard.retainedCount
        }
        return total
    }

    /// Where a collected event goes in timestamp order; shard and ticket break ties so the order
    /// is total and repeatable.
    private struct OrderKey: Comparable {
        var timestamp: UInt64
        var shard: Int
        var ticket: UInt64
        var position: Int

        static func < (a: OrderKey, b: OrderKey) -> Bool {
            (a.timestamp, a.shard, a.ticket) < (b.timestamp, b.shard, b.ticket)
        }
    }

    private func collect(removing: Bool) -> [TraceEvent] {
        let expected = shards.reduce(0) { $0 + $1.pendingCount }
        var events: [TraceEvent] = []
        var keys: [OrderKey] = []
        events.reserveCapacity(expected)
        keys.reserveCapacity(expected)
        for (index, shard) in shards.enumerated() {
            shard.visit(removing: removing) { event, ticket in
                keys.append(OrderKey(timestamp: event.timestamp.nanoseconds, shard: index, ticket: ticket, position: keys.count))
                events.append(event)
            }
        }
        // Each shard visits in ticket order, which is mostly timestamp order already; sorting the
        // small keys and then permuting the events in place moves every event once, with no
        // copies (and so no reference counting) of its strings.
        if keys.indices.dropFirst().allSatisfy({ !(keys[$0] < keys[$0 - 1]) }) { return events }
        keys.sort()
        var source = keys.map(\.position)
        for start in source.indices {
            var current = start
            while source[current] != start {
                let next = source[current]
                events.swapAt(current, next)
                source[current] = current
                current = next
            }
            source[current] = current
        }
        return events
    }

    @inline(__always)
    private func shardIndex() -> Int {
        if shardMask == 0 { return 0 }
        // pthread_self is a thread-local read; mixing its bits spreads thread control blocks,
        // which are page aligned, over the shards.
        var bits = UInt(bitPattern: Int(bitPattern: UInt(pthread_self())))
        bits ^= bits >> 12
        bits &*= 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: (bits >> 32) & shardMask)
    }

    private static func powerOfTwo(atLeast value: Int) -> Int {
        var result = 1
        while result < value { result <<= 1 }
        return result
    }
}

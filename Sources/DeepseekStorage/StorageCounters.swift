/// What a tiered store did: hits, misses, bytes moved between tiers, and how long callers
/// waited for the lower tier.
public struct StorageCounters: Sendable, Hashable {
    /// Tensors asked for with `load`.
    public var loads = 0
    /// Loads served from memory without waiting.
    public var hits = 0
    /// Hits on tensors that were in memory because a prefetch had read them.
    public var prefetchHits = 0
    /// Loads that had to wait for the lower tier: not in memory, or still being read ahead.
    public var stalls = 0
    /// Nanoseconds callers of `load` spent waiting for the lower tier.
    public var stallNanoseconds: UInt64 = 0
    /// Bytes read from the lower tier (by loads and prefetches).
    public var bytesRead: Int64 = 0
    /// Bytes written to the lower tier (write-backs of changed tensors, and tensors too big for memory).
    public var bytesWritten: Int64 = 0
    /// Tensors evicted from memory.
    public var evictions = 0
    /// Evictions that wrote the tensor back because it had changed (the others cost no I/O).
    public var writeBacks = 0
    /// Tensors read ahead by prefetch.
    public var prefetched = 0

    public init() {}

    /// Hits over loads (1 before any load).
    public var hitRate: Double { loads == 0 ? 1 : Double(hits) / Double(loads) }
    /// Seconds callers waited for the lower tier.
    public var stallSeconds: Double { Double(stallNanoseconds) / 1e9 }

    /// The change from `earlier` to these counters.
    public func since(_ earlier: StorageCounters) -> StorageCounters {
        var d = StorageCounters()
        d.loads = loads - earlier.loads
        d.hits = hits - earlier.hits
        d.prefetchHits = prefetchHits - earlier.prefetchHits
        d.stalls = stalls - earlier.stalls
        d.stallNanoseconds = stallNanoseconds - earlier.stallNanoseconds
        d.bytesRead = bytesRead - earlier.bytesRead
        d.bytesWritten = bytesWritten - earlier.bytesWritten
        d.evictions = evictions - earlier.evictions
        d.writeBacks = writeBacks - earlier.writeBacks
        d.prefetched = prefetched - earlier.prefetched
        return d
    }
}

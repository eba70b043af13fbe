#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Which tensors are hot, and which to evict first: access frequency and recency, plus the
/// schedule's knowledge of when each tensor is needed next.
///
/// A value type without I/O. Every access adds one to a tensor's *frequency*, which halves
/// every `halfLife` accesses to the store as a whole, so a tensor used often long ago cools
/// down. The *temperature* is that decayed frequency; a tensor is hot at `hotThreshold` or
/// above.
///
/// Eviction order (`victims`): first tensors the schedule does not need within its window,
/// coldest first (least recently used among equals); then tensors it does need, the one needed
/// furthest in the future first (Belady's rule, exact when the schedule is known).
public struct PlacementPolicy: Sendable {
    struct Stats: Sendable {
        var frequency: Double
        var lastUse: UInt64
    }

    /// Accesses (to the whole store) after which a tensor's frequency has halved.
    public var halfLife: Double
    /// The temperature at which a tensor counts as hot.
    public var hotThreshold: Double
    /// Accesses so far (the policy's logical clock).
    public private(set) var clock: UInt64 = 0
    private var stats: [StorageKey: Stats] = [:]

    public init(halfLife: Double = 64, hotThreshold: Double = 1.5) {
        precondition(halfLife > 0, "PlacementPolicy: halfLife must be > 0")
        self.halfLife = halfLife
        self.hotThreshold = hotThreshold
    }

    /// Records one use of `key`.
    public mutating func recordAccess(_ key: StorageKey) {
        clock += 1
        let decayed = temperature(key)
        stats[key] = Stats(frequency: decayed + 1, lastUse: clock)
    }

    /// Forgets `key` (it was removed from the store).
    public mutating func forget(_ key: StorageKey) { stats[key] = nil }

    /// The decayed access frequency of `key` now (0 for a key never used).
    public func temperature(_ key: StorageKey) -> Double {
        guard let s = stats[key] else { return 0 }
        let age = Double(clock - s.lastUse)
        return s.frequency * pow(2, -age / halfLife)
    }

    /// Whether `key` is used often and recently enough to keep in memory.
    public func isHot(_ key: StorageKey) -> Bool { temperature(key) >= hotThreshold }

    /// When `key` was last used, on the policy's clock (0: never).
    public func lastUse(_ key: StorageKey) -> UInt64 { stats[key]?.lastUse ?? 0 }

    /// The tensors to evict, in order, so that at least `bytes` become free.
    ///
    /// - Parameters:
    ///   - resident: the evictable tensors and their sizes.
    ///   - nextUse: steps until the schedule needs each tensor (absent: not within its window).
    /// - Returns: the victims, or `nil` when evicting all of `resident` would not free enough.
    public func victims(toFree bytes: Int, resident: [StorageKey: Int], nextUse: [StorageKey: Int] = [:]) -> [StorageKey]? {
        guard bytes > 0 else { return [] }
        guard resident.values.reduce(0, +) >= bytes else { return nil }
        let ordered = resident.keys.sorted { a, b in
            let na = nextUse[a]
            let nb = nextUse[b]
            switch (na, nb) {
            case (nil, .some): return true
            case (.some, nil): return false
            case (.some(let x), .some(let y)) where x != y: return x > y
            default:
                let ta = temperature(a)
                let tb = temperature(b)
                if ta != tb { return ta < tb }
                let la = lastUse(a)
                let lb = lastUse(b)
                return la != lb ? la < lb : a < b
            }
        }
        var freed = 0
        var chosen: [StorageKey] = []
        for key in ordered where freed < bytes {
            chosen.append(key)
            freed += resident[key]!
        }
        return chosen
    }
}

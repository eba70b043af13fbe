#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A point in time in nanoseconds since an arbitrary origin fixed per clock.
public struct Instant: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: UInt64
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    /// Nanoseconds from `earlier` to `self` (0 when `earlier` is later).
    public func nanoseconds(since earlier: Instant) -> UInt64 {
        nanoseconds >= earlier.nanoseconds ? nanoseconds - earlier.nanoseconds : 0
    }
    public var description: String { "\(nanoseconds)ns" }
}

/// The source of time for everything in Deepseek that reads time: real runs use `MonotonicClock`,
/// simulations and tests inject a virtual one.
public protocol DeepseekClock: Sendable {
    /// The current time of this clock.
    func now() -> Instant
}

/// The system's monotonic clock (`CLOCK_MONOTONIC`).
public struct MonotonicClock: DeepseekClock {
    public init() {}
    @inline(__always)
    public func now() -> Instant {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Instant(nanoseconds: UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec))
    }
}

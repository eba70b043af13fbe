import DeepseekCore
import DeepseekTracing
import Synchronization

/// A clock that moves only when told, so tests can assert exact timestamps and durations.
final class SteppingClock: DeepseekClock {
    private let current: Mutex<UInt64>

    init(start: UInt64 = 0) { current = Mutex(start) }

    func now() -> Instant { Instant(nanoseconds: current.withLock { $0 }) }

    func advance(by nanoseconds: UInt64) { current.withLock { $0 += nanoseconds } }
}

/// An instant event named `name` at `nanoseconds` on thread `thread` of node 0.
func instantEvent(_ name: String, at nanoseconds: UInt64, thread: UInt64 = 0) -> TraceEvent {
    TraceEvent(
        timestamp: Instant(nanoseconds: nanoseconds), track: TraceTrack(node: 0, thread: thread, name: "t\(thread)"),
        category: .user, name: name, kind: .instant)
}

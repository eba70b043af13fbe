public import DeepseekActors
public import DeepseekCore
import Synchronization

/// Virtual time that moves only when a test says so.
///
/// Serves as the `DeepseekClock` of the code under test and as its `CallScheduler`: timeouts
/// and timers fire inside `advance(by:)`, in deadline order, never on their own.
public final class TestClock: DeepseekClock, CallScheduler {
    private struct Timer {
        var deadline: UInt64
        var sequence: UInt64
        var action: @Sendable () -> Void
    }

    private struct State {
        var now: UInt64 = 0
        var timers: [UInt64: Timer] = [:]
        var nextSequence: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    public func now() -> Instant { Instant(nanoseconds: state.withLock { $0.now }) }

    /// Timers scheduled and not yet fired or cancelled.
    public var pendingTimerCount: Int { state.withLock { $0.timers.count } }

    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> ScheduledAction {
        let (s, atto) = delay.components
        let nanos = UInt64(max(0, s)) &* 1_000_000_000 &+ UInt64(max(0, atto / 1_000_000_000))
        let id = state.withLock { st -> UInt64 in
            let id = st.nextSequence
            st.nextSequence += 1
            st.timers[id] = Timer(deadline: st.now &+ nanos, sequence: id, action: action)
            return id
        }
        return ScheduledAction { [weak self] in
            _ = self?.state.withLock { $0.timers.removeValue(forKey: id) }
        }
    }

    /// Moves time forward by `duration`, firing every timer that falls due, earliest first.
    public func advance(by duration: Duration) {
        let (s, atto) = duration.components
        let target = state.withLock { $0.now } &+ UInt64(max(0, s)) &* 1_000_000_000 &+ UInt64(max(0, atto / 1_000_000_000))
        while true {
            let due: Timer? = state.withLock { st in
                guard let next = st.timers.values.min(by: { ($0.deadline, $0.sequence) < ($1.deadline, $1.sequence) }),
                    next.deadline <= target
                else { return nil }
                st.timers[next.sequence] = nil
                st.now = max(st.now, next.deadline)
                return next
            }
            guard let due else { break }
            due.action()
        }
        state.withLock { $0.now = max($0.now, target) }
    }
}

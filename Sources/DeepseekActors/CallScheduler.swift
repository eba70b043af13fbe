#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A handle to an action scheduled for later; cancelling it is idempotent.
public struct ScheduledAction: Sendable {
    let cancelBody: @Sendable () -> Void
    public init(cancel: @escaping @Sendable () -> Void) { cancelBody = cancel }
    public func cancel() { cancelBody() }
}

/// Runs actions after a delay: call timeouts, reconnect backoff, failure-detector ticks.
///
/// Real systems use `ThreadCallScheduler`; tests and simulations inject one driven by virtual time.
public protocol CallScheduler: Sendable {
    func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> ScheduledAction
}

/// A scheduler with one background thread sleeping until the earliest deadline.
///
/// One thread serves every timer of the process, so a call's timeout costs a heap insertion rather
/// than a task or a thread of its own.
public final class ThreadCallScheduler: CallScheduler, @unchecked Sendable {
    public static let shared = ThreadCallScheduler()

    private struct Entry {
        var deadline: UInt64
        var id: UInt64
        var action: @Sendable () -> Void
    }

    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    // Guarded by `mutex`.
    private var heap: [Entry] = []
    private var cancelled: Set<UInt64> = []
    private var nextID: UInt64 = 0
    private var thread: pthread_t?

    private init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    private static func now() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    public func schedule(after delay: Duration, _ action: @escaping @Sendable () -> Void) -> ScheduledAction {
        let (seconds, attoseconds) = delay.components
        let nanos = UInt64(max(0, seconds)) &* 1_000_000_000 &+ UInt64(max(0, attoseconds / 1_000_000_000))
        pthread_mutex_lock(&mutex)
        startThreadIfNeeded()
        let id = nextID
        nextID += 1
        let deadline = Self.now() &+ nanos
        // The timer thread sleeps until the earliest deadline: wake it only when this one is
        // earlier. Every call schedules a timeout, so signalling each time would cost a thread
        // wake-up per call.
        let earliest = heap.first.map { deadline < $0.deadline } ?? true
        push(Entry(deadline: deadline, id: id, action: action))
        if earliest { pthread_cond_signal(&condition) }
        pthread_mutex_unlock(&mutex)
        return ScheduledAction { [self] in
            pthread_mutex_lock(&self.mutex)
            self.cancelled.insert(id)
            self.pruneIfMostlyCancelled()
            pthread_mutex_unlock(&self.mutex)
        }
    }

    /// Drops cancelled entries once they are most of the heap. A call's timeout is cancelled
    /// when its reply arrives, long before the deadline, so without pruning a busy node would
    /// keep every call of the last timeout period in the heap. Must hold `mutex`.
    private func pruneIfMostlyCancelled() {
        guard cancelled.count >= 1024, cancelled.count * 2 >= heap.count else { return }
        heap.removeAll { cancelled.contains($0.id) }
        cancelled.removeAll(keepingCapacity: true)
        // Re-establish the heap order bottom-up.
        var i = heap.count / 2
        while i > 0 {
            i -= 1
            siftDown(from: i)
        }
    }

    // Must hold `mutex`.
    private func startThreadIfNeeded() {
        guard thread == nil else { return }
        var t = pthread_t()
        let context = Unmanaged.passUnretained(self).toOpaque()
        pthread_create(&t, nil, { raw in
            Unmanaged<ThreadCallScheduler>.fromOpaque(raw!).takeUnretainedValue().run()
            return nil
        }, context)
        pthread_detach(t)
        thread = t
    }

    private func run() {
        pthread_mutex_lock(&mutex)
        while true {
            guard let first = heap.first else {
                pthread_cond_wait(&condition, &mutex)
                continue
            }
            if cancelled.remove(first.id) != nil {
                _ = pop()
                continue
            }
            let now = Self.now()
            if first.deadline <= now {
                let entry = pop()
                pthread_mutex_unlock(&mutex)
                entry.action()
                pthread_mutex_lock(&mutex)
                continue
            }
            var ts = timespec(tv_sec: Int(first.deadline / 1_000_000_000), tv_nsec: Int(first.deadline % 1_000_000_000))
            pthread_cond_timedwait(&condition, &mutex, &ts)
        }
    }

    private func push(_ e: Entry) {
        heap.append(e)
        var i = heap.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            if heap[parent].deadline <= heap[i].deadline { break }
            heap.swapAt(parent, i)
            i = parent
        }
    }

    private func pop() -> Entry {
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            siftDown(from: 0)
        }
        return top
    }

    private func siftDown(from start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < heap.count && heap[l].deadline < heap[m].deadline { m = l }
            if r < heap.count && heap[r].deadline < heap[m].deadline { m = r }
            if m == i { break }
            heap.swapAt(i, m)
            i = m
        }
    }
}

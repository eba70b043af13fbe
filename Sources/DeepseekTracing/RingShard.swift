import DeepseekCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One ring of preallocated event slots with a per-slot ownership word.
///
/// Each slot has a state word: bit 0 `busy` (a thread is copying into or out of the slot),
/// bit 1 `occupied` (the slot holds an event not yet drained), bits 2… the ticket of the event in
/// it (its position in this shard's recording order). A thread may touch a slot's event only
/// after it moved the state from not-busy to busy with a compare-and-swap (acquire), and it
/// hands the slot back with a release store; that is what makes the unsynchronised slot storage
/// below sound, and why the class is `@unchecked Sendable`.
final class RingShard: @unchecked Sendable {
    private static let busy: UInt64 = 1
    private static let occupied: UInt64 = 2
    private static let ticketShift: UInt64 = 2

    let capacity: Int
    private let mask: UInt64
    private let keepOldest: Bool
    private let head = Atomic<UInt64>(0)
    private let dropped = Atomic<UInt64>(0)
    private let overwritten = Atomic<UInt64>(0)
    private let states: UnsafeMutablePointer<Atomic<UInt64>>
    private let slots: UnsafeMutablePointer<TraceEvent>

    /// The value empty slots hold, so every slot is always initialised memory.
    private static let emptyEvent = TraceEvent(
        timestamp: .init(nanoseconds: 0), track: .main, category: .runtime, name: "", kind: .instant)

    init(capacity: Int, keepOldest: Bool) {
        precondition(capacity > 0 && capacity & (capacity - 1) == 0, "RingShard capacity must be a power of two")
        self.capacity = capacity
        self.mask = UInt64(capacity - 1)
        self.keepOldest = keepOldest
        states = .allocate(capacity: capacity)
        slots = .allocate(capacity: capacity)
        for index in 0..<capacity {
            (states + index).initialize(to: Atomic(0))
        }
        slots.initialize(repeating: Self.emptyEvent, count: capacity)
    }

    deinit {
        states.deinitialize(count: capacity)
        states.deallocate()
        slots.deinitialize(count: capacity)
        slots.deallocate()
    }

    var recordedCount: UInt64 { head.load(ordering: .relaxed) }
    var droppedCount: UInt64 { dropped.load(ordering: .relaxed) }
    var overwrittenCount: UInt64 { overwritten.load(ordering: .relaxed) }

    var retainedCount: Int {
        var count = 0
        for index in 0..<capacity where states[index].load(ordering: .relaxed) & Self.occupied != 0 {
            count += 1
        }
        return count
    }

    @inline(__always)
    func record(_ event: consuming TraceEvent) {
        let ticket = head.wrappingAdd(1, ordering: .relaxed).oldValue
        let index = Int(truncatingIfNeeded: ticket & mask)
        let state = states[index].load(ordering: .relaxed)
        if state & Self.busy != 0 || (keepOldest && state & Self.occupied != 0) {
            dropped.wrappingAdd(1, ordering: .relaxed)
            return
        }
        let claimed = states[index].compareExchange(
            expected: state, desired: state | Self.busy, ordering: .acquiring
        ).exchanged
        guard claimed else {
            // Another writer (or a reader) took the slot between the load and the swap.
            dropped.wrappingAdd(1, ordering: .relaxed)
            return
        }
        if state & Self.occupied != 0 {
            overwritten.wrappingAdd(1, ordering: .relaxed)
        }
        slots[index] = consume event
        states[index].store((ticket << Self.ticketShift) | Self.occupied, ordering: .releasing)
    }

    /// Calls `body` with every held event and its ticket, in slot order; with `removing`, empties
    /// the slots as it goes. Writers that hit a slot while it is being visited drop their event.
    func visit(removing: Bool, _ body: (TraceEvent, UInt64) -> Void) {
        for index in 0..<capacity {
            guard let state = acquire(index) else { continue }
            let event = slots[index]
            if removing {
                slots[index] = Self.emptyEvent
                states[index].store(state & ~Self.occupied, ordering: .releasing)
            } else {
                states[index].store(state, ordering: .releasing)
            }
            body(event, state >> Self.ticketShift)
        }
    }

    /// Marks an occupied slot busy for a reader and returns its previous state, or `nil` when the
    /// slot is empty. A writer holds a slot only while it copies one event, so waiting is short;
    /// yielding keeps a preempted writer from being starved on a busy machine.
    private func acquire(_ index: Int) -> UInt64? {
        var spins = 0
        while true {
            let state = states[index].load(ordering: .acquiring)
            if state & Self.occupied == 0 && state & Self.busy == 0 { return nil }
            if state & Self.busy == 0 {
                let claimed = states[index].compareExchange(
                    expected: state, desired: state | Self.busy, ordering: .acquiring
                ).exchanged
                if claimed { return state }
            }
            spins += 1
            if spins > 64 { sched_yield() }
        }
    }
}

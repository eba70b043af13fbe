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
///
/// Draining visits only the tickets recorded since the previous drain, not every slot, so a
/// reader that drains after every training step costs time in proportion to the events of that
/// step. The drain first publishes how far it goes (`drainedTo`) and then reads the slots; a
/// writer first publishes its event and then reads `drainedTo`, all four accesses sequentially
/// consistent. So either the drain sees the event, or the writer sees that the
/// drain went past its ticket, takes its event back and records it again under a new ticket,
/// which the next drain visits: an event that arrives while a drain runs is never stranded.
final class RingShard: @unchecked Sendable {
    private static let busy: UInt64 = 1
    private static let occupied: UInt64 = 2
    private static let ticketShift: UInt64 = 2

    let capacity: Int
    private let mask: UInt64
    private let keepOldest: Bool
    private let head = Atomic<UInt64>(0)
    /// Tickets below this value have been visited by a drain. Written only by readers, under
    /// `readers`.
    private let drainedTo = Atomic<UInt64>(0)
    /// Serialises readers (writers never take it).
    private let readers = Mutex<Void>(())
    private let dropped = Atomic<UInt64>(0)
    private let overwritten = Atomic<UInt64>(0)
    /// Tickets taken by events recorded again after a drain went past them.
    private let rerecorded = Atomic<UInt64>(0)
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

    /// About how many events a drain would visit now (an upper bound, for reserving space).
    var pendingCount: Int {
        let span = head.load(ordering: .relaxed) &- drainedTo.load(ordering: .relaxed)
        return span >= UInt64(capacity) ? capacity : Int(span)
    }

    var recordedCount: UInt64 { head.load(ordering: .relaxed) &- rerecorded.load(ordering: .relaxed) }
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
        var event = event
        while let slot = claim(ticket: takeTicket()) {
            guard let again = publish(event, in: slot) else { return }
            event = again
        }
    }

    /// A slot a writer owns between `claim()` and `publish(_:in:)`.
    struct Claim {
        var ticket: UInt64
        var index: Int
    }

    /// The next position in this shard's recording order.
    @inline(__always)
    func takeTicket() -> UInt64 {
        head.wrappingAdd(1, ordering: .relaxed).oldValue
    }

    /// Marks the slot of `ticket` busy; `nil` (the event counted as dropped) when the slot is in
    /// use or, under `keepOldest`, still holds an undrained event. A drain that meets the slot
    /// busy waits for the writer, so the only moment a drain can miss an event whose ticket it
    /// counts is between `takeTicket()` and this claim.
    @inline(__always)
    func claim(ticket: UInt64) -> Claim? {
        let index = Int(truncatingIfNeeded: ticket & mask)
        let state = states[index].load(ordering: .relaxed)
        if state & Self.busy != 0 || (keepOldest && state & Self.occupied != 0) {
            dropped.wrappingAdd(1, ordering: .relaxed)
            return nil
        }
        let claimed = states[index].compareExchange(
            expected: state, desired: state | Self.busy, ordering: .acquiring
        ).exchanged
        guard claimed else {
            // Another writer (or a reader) took the slot between the load and the swap.
            dropped.wrappingAdd(1, ordering: .relaxed)
            return nil
        }
        if state & Self.occupied != 0 {
            overwritten.wrappingAdd(1, ordering: .relaxed)
        }
        return Claim(ticket: ticket, index: index)
    }

    /// Stores `event` in the claimed slot and hands the slot back. Returns the event when a drain
    /// went past the ticket before it could see the event: the caller records it again.
    @inline(__always)
    func publish(_ event: consuming TraceEvent, in slot: Claim) -> TraceEvent? {
        slots[slot.index] = consume event
        let published = (slot.ticket << Self.ticketShift) | Self.occupied
        states[slot.index].store(published, ordering: .sequentiallyConsistent)
        if slot.ticket >= drainedTo.load(ordering: .sequentiallyConsistent) { return nil }
        // Take the event back unless that drain (or an overwriting writer) already has it.
        guard
            states[slot.index].compareExchange(
                expected: published, desired: published | Self.busy, ordering: .acquiring
            ).exchanged
        else { return nil }
        let event = (slots + slot.index).move()
        (slots + slot.index).initialize(to: Self.emptyEvent)
        states[slot.index].store(slot.ticket << Self.ticketShift, ordering: .releasing)
        rerecorded.wrappingAdd(1, ordering: .relaxed)
        return event
    }

    /// Calls `body` with every held event and its ticket, in ticket order; with `removing`,
    /// empties the slots as it goes. Writers that hit a slot while it is being visited drop their
    /// event.
    ///
    /// - Complexity: O(events recorded since the last drain), at most O(capacity).
    func visit(removing: Bool, _ body: (consuming TraceEvent, UInt64) -> Void) {
        readers.withLock { _ in
            let end = head.load(ordering: .acquiring)
            let start = drainedTo.load(ordering: .relaxed)
            if removing { drainedTo.store(end, ordering: .sequentiallyConsistent) }
            // Past a full lap every slot may hold an event worth keeping: visit them all.
            let count = end &- start >= UInt64(capacity) ? capacity : Int(end &- start)
            let first = count == capacity ? Int(truncatingIfNeeded: end & mask) : Int(truncatingIfNeeded: start & mask)
            for offset in 0..<count {
                let index = (first + offset) & Int(mask)
                guard let state = acquire(index) else { continue }
                let event: TraceEvent
                if removing {
                    // Moving the event out (instead of copying it and overwriting the slot)
                    // saves a retain and a release of every string in it.
                    event = (slots + index).move()
                    (slots + index).initialize(to: Self.emptyEvent)
                    states[index].store(state & ~Self.occupied, ordering: .releasing)
                } else {
                    event = slots[index]
                    states[index].store(state, ordering: .releasing)
                }
                body(event, state >> Self.ticketShift)
            }
        }
    }

    /// Marks an occupied slot busy for a reader and returns its previous state, or `nil` when the
    /// slot is empty. A writer holds a slot only while it copies one event, so waiting is short;
    /// yielding keeps a preempted writer from being starved on a busy machine.
    private func acquire(_ index: Int) -> UInt64? {
        var spins = 0
        while true {
            let state = states[index].load(ordering: .sequentiallyConsistent)
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

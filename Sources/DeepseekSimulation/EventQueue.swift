/// The discrete-event core: one virtual clock and a queue of timed events with a reproducible order.
///
/// Events at the same virtual instant are ordered by a tie key drawn from the simulation's seeded
/// generator, then by insertion order, so the same seed gives the same interleaving of
/// simultaneous work on every run and on every machine, and another seed gives another (equally
/// valid) interleaving. Nothing here reads a wall clock.
///
/// The queue is a binary heap of small value entries; the payload is an index the owner
/// interprets, so scheduling allocates nothing once the heap has grown.
public struct EventQueue: Sendable {
    /// One scheduled event.
    public struct Entry: Sendable {
        /// Virtual seconds at which the event fires.
        public var time: Double
        /// Seeded tie-breaker for events at the same time.
        var tie: UInt64
        /// Insertion number: the final tie-breaker.
        var sequence: UInt64
        /// What to do, as the owner encodes it.
        public var kind: UInt32
        public var a: Int
        public var b: Int

        @inline(__always) static func precedes(_ x: Entry, _ y: Entry) -> Bool {
            if x.time != y.time { return x.time < y.time }
            if x.tie != y.tie { return x.tie < y.tie }
            return x.sequence < y.sequence
        }
    }

    var heap: [Entry] = []
    var sequence: UInt64 = 0
    var random: SplitMix
    /// The current virtual time in seconds: the time of the last event popped.
    public private(set) var now: Double = 0
    /// Events popped so far.
    public private(set) var processed: Int = 0

    /// A queue whose same-time order is drawn from `seed`.
    public init(seed: UInt64) { random = SplitMix(seed: seed) }

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }

    /// Schedules an event at `time` (never earlier than `now`).
    public mutating func schedule(at time: Double, kind: UInt32, _ a: Int = 0, _ b: Int = 0) {
        precondition(time >= now, "EventQueue: event at \(time) s is before the current time \(now) s")
        sequence &+= 1
        let e = Entry(time: time, tie: random.next(), sequence: sequence, kind: kind, a: a, b: b)
        heap.append(e)
        // Sift up on the heap's own storage: no per-step bounds or uniqueness checks.
        heap.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let parent = (i - 1) >> 1
                guard Entry.precedes(e, h[parent]) else { break }
                h[i] = h[parent]
                i = parent
            }
            h[i] = e
        }
    }

    /// Removes the earliest event and advances the clock to it.
    public mutating func pop() -> Entry? {
        guard let first = heap.first else { return nil }
        let last = heap.removeLast()
        if !heap.isEmpty {
            // Sift down on the heap's own storage: no per-step bounds or uniqueness checks.
            heap.withUnsafeMutableBufferPointer { h in
                let n = h.count
                var i = 0
                while true {
                    let l = 2 * i + 1
                    if l >= n { break }
                    var c = l
                    if l + 1 < n && Entry.precedes(h[l + 1], h[l]) { c = l + 1 }
                    guard Entry.precedes(h[c], last) else { break }
                    h[i] = h[c]
                    i = c
                }
                h[i] = last
            }
        }
        now = first.time
        processed += 1
        return first
    }
}

/// SplitMix64: a tiny seeded generator for tie keys and fault draws (one multiply chain per draw).
public struct SplitMix: Sendable, Hashable {
    var state: UInt64
    public init(seed: UInt64) { state = seed ^ 0x9E37_79B9_7F4A_7C15 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniform double in [0, 1).
    public mutating func nextUnit() -> Double { Double(next() >> 11) * 0x1.0p-53 }
}

import DeepseekCore
import Testing

@Suite struct ClockTests {
    @Test func monotonicClockNeverGoesBackwards() {
        let clock = MonotonicClock()
        var previous = clock.now()
        for _ in 0..<100_000 {
            let now = clock.now()
            #expect(now >= previous)
            previous = now
        }
    }

    @Test func monotonicClockAdvancesAcrossWork() {
        let clock = MonotonicClock()
        let start = clock.now()
        var spin: UInt64 = 0
        var later = clock.now()
        // Bounded: at most a few million iterations even on a slow machine.
        for i in 0..<10_000_000 where later == start {
            spin &+= UInt64(i)
            later = clock.now()
        }
        #expect(later > start)
        #expect(later.nanoseconds(since: start) > 0)
        #expect(spin >= 0)
    }

    @Test func nanosecondsSinceALaterInstantIsZero() {
        let early = Instant(nanoseconds: 5)
        let late = Instant(nanoseconds: 9)
        #expect(late.nanoseconds(since: early) == 4)
        #expect(early.nanoseconds(since: late) == 0)
        #expect(early < late)
        #expect(late.description == "9ns")
    }
}

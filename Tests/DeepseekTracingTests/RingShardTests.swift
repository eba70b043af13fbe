import DeepseekCore
import Testing

@testable import DeepseekTracing

/// The interleavings of one writer and one drain that a stress test hits too rarely to rely on,
/// played step by step through the shard's two writer steps.
@Suite struct RingShardTests {
    private func event(_ name: String) -> TraceEvent {
        TraceEvent(timestamp: Instant(nanoseconds: 0), track: .main, category: .user, name: name, kind: .instant)
    }

    private func drain(_ shard: RingShard) -> [String] {
        var names: [String] = []
        shard.visit(removing: true) { event, _ in names.append(event.name) }
        return names
    }

    @Test func anEventPublishedAfterADrainWentPastItsTicketIsRecordedAgain() throws {
        let shard = RingShard(capacity: 8, keepOldest: false)
        shard.record(event("before"))
        let ticket = shard.takeTicket()
        // The drain reads the head (which counts the ticket) while the writer has not yet claimed
        // the slot: it cannot see the event.
        #expect(drain(shard) == ["before"])
        let slot = try #require(shard.claim(ticket: ticket))
        let again = try #require(shard.publish(event("late"), in: slot))
        #expect(again.name == "late")
        shard.record(again)
        #expect(drain(shard) == ["late"])
        #expect(shard.recordedCount == 2)
        #expect(drain(shard).isEmpty)
    }

    @Test func anEventPublishedBeforeTheDrainReachesItIsDrainedOnce() throws {
        let shard = RingShard(capacity: 8, keepOldest: false)
        let slot = try #require(shard.claim(ticket: shard.takeTicket()))
        #expect(shard.publish(event("on time"), in: slot) == nil)
        #expect(drain(shard) == ["on time"])
        #expect(drain(shard).isEmpty)
    }
}

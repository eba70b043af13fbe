import DeepseekActors
import DeepseekCore
import DeepseekTestSupport
import DeepseekTracing
import Distributed
import Synchronization
import Testing

/// A call that never gets its reply must be visible: who waits, on whom, for what.
@Suite struct WaitsTests {
    @Test func aCallWithoutAReplyIsListedWithItsCallerAndCallee() async throws {
        let recorder = RingBufferRecorder(capacityPerShard: 1024)
        let network = InProcessNetwork()
        var settings = ActorSystemSettings(defaultCallTimeout: .seconds(2))
        settings.tracer = Tracer(recorder: recorder, clock: MonotonicClock())
        let a = DeepseekActorSystem(transport: network.transport(for: NodeID(0)), settings: settings)
        let b = DeepseekActorSystem(transport: network.transport(for: NodeID(1)), settings: settings)
        try await a.start()
        try await b.start()
        let waiter = Account(actorSystem: a)
        let silent = Account(actorSystem: b)
        defer { withExtendedLifetime((waiter, silent)) {} }
        let waiterFromB = try Account.resolve(id: waiter.id, using: b)
        let silentFromA = try Account.resolve(id: silent.id, using: a)
        let before = Account.stallsStarted.withLock { $0 }
        let call = Task { try await waiterFromB.waitOn(silentFromA) }
        #expect(try await eventually { Account.stallsStarted.withLock { $0 } > before })

        let waits = a.pendingCalls()
        #expect(waits.count == 1)
        #expect(waits.first?.caller == waiter.id)
        #expect(waits.first?.callee == silent.id)
        #expect(waits.first?.target.contains("stall") == true)
        let report = a.waitReport()
        #expect(report.contains("\(waiter.id) → \(silent.id)"))
        #expect(report.contains("stall"))
        // b waits on a for the outer call, with no actor as the caller.
        #expect(b.pendingCalls().map(\.callee) == [waiter.id])

        // The send of the inner call is on the waiting actor's own row.
        let sends = recorder.snapshot().filter { if case .flow(_, .send) = $0.kind { true } else { false } }
        #expect(sends.contains { $0.track.name == waiter.id.path && $0.name.contains("stall") })

        call.cancel()
        _ = try? await call.value
        #expect(try await eventually { a.pendingCalls().isEmpty && b.pendingCalls().isEmpty })
        #expect(a.waitReport().contains("no pending calls"))
    }
}

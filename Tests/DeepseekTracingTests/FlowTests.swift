import DeepseekCore
import DeepseekTracing
import Synchronization
import Testing

@Suite struct FlowTests {
    @Test func flowStepsOfOneMessageLinkSendReceiveAndHandler() throws {
        let clock = SteppingClock()
        let ring = RingBufferRecorder(capacityPerShard: 32, shardCount: 1)
        let flows = FlowIDGenerator(namespace: 3)
        let sender = Tracer(recorder: ring, clock: clock, track: TraceTrack(node: 0, thread: 1, name: "op/a"))
        let receiver = Tracer(recorder: ring, clock: clock, track: TraceTrack(node: 1, thread: 1, name: "op/b"))
        let first = flows.next()
        let second = flows.next()
        for id in [first, second] {
            sender.flow(.send, id, name: "activation")
            clock.advance(by: 5)
            receiver.flow(.receive, id, name: "activation")
            clock.advance(by: 5)
            receiver.flow(.handlerBegin, id, name: "activation")
            clock.advance(by: 5)
            receiver.flow(.handlerEnd, id, name: "activation")
        }
        var steps: [FlowID: [FlowStep]] = [:]
        var nodes: [FlowID: [UInt32]] = [:]
        for event in ring.snapshot() {
            guard case .flow(let id, let step) = event.kind else { continue }
            steps[id, default: []].append(step)
            nodes[id, default: []].append(event.track.node)
        }
        #expect(steps.count == 2)
        #expect(steps[first] == [.send, .receive, .handlerBegin, .handlerEnd])
        #expect(steps[second] == [.send, .receive, .handlerBegin, .handlerEnd])
        #expect(nodes[first] == [0, 1, 1, 1])
        #expect(first.namespace == 3)
        #expect(first != second)
    }

    @Test func generatorIsUniqueAcrossConcurrentCallers() async {
        let flows = FlowIDGenerator(namespace: 1)
        let ids = await withTaskGroup(of: [FlowID].self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<1_000).map { _ in flows.next() } }
            }
            var all: [FlowID] = []
            for await part in group { all += part }
            return all
        }
        #expect(Set(ids).count == 8_000)
        #expect(ids.allSatisfy { $0.namespace == 1 })
    }

    @Test func seededGeneratorsRepeatTheirSequence() {
        let a = FlowIDGenerator(namespace: 2, seed: 42)
        let b = FlowIDGenerator(namespace: 2, seed: 42)
        let c = FlowIDGenerator(namespace: 2, seed: 43)
        let sequenceA = (0..<5).map { _ in a.next() }
        #expect(sequenceA == (0..<5).map { _ in b.next() })
        #expect(sequenceA != (0..<5).map { _ in c.next() })
        #expect(zip(sequenceA, sequenceA.dropFirst()).allSatisfy { $1.sequence == $0.sequence + 1 })
    }

    @Test func processGeneratorNeverRepeats() {
        let ids = (0..<100).map { _ in FlowIDGenerator.process.next() }
        #expect(Set(ids).count == 100)
    }

    @Test func namespaceIsTruncatedTo24Bits() {
        let flows = FlowIDGenerator(namespace: 0x1FF_FFFF)
        #expect(flows.next().namespace == 0xFF_FFFF)
    }
}

import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing

/// Builders for small traces: actors exchanging messages the way the runtime records them.
enum Fixture {
    static func track(_ node: UInt32, _ thread: UInt64, _ name: String? = nil) -> TraceTrack {
        TraceTrack(node: node, thread: thread, name: name ?? "OperatorActor op#\(thread)")
    }

    static func event(
        _ name: String, at ns: UInt64, on track: TraceTrack, _ kind: TraceEventKind,
        category: TraceCategory = .runtime, arguments: TraceArguments = TraceArguments()
    ) -> TraceEvent {
        TraceEvent(timestamp: Instant(nanoseconds: ns), track: track, category: category, name: name, kind: kind, arguments: arguments)
    }

    /// One message: send on `from` at `sent`, receive on `to` `latency` later, handled for `work`.
    static func message(
        _ id: UInt64, from: TraceTrack, to: TraceTrack, sent: UInt64, latency: UInt64 = 1_000, queue: UInt64 = 500,
        work: UInt64 = 10_000, handled: Bool = true, name: String = "tensor"
    ) -> [TraceEvent] {
        let flow = FlowID(rawValue: id)
        var events = [
            event(name, at: sent, on: from, .flow(flow, .send), category: .transport),
            event(name, at: sent + latency, on: to, .flow(flow, .receive), category: .transport),
        ]
        if handled {
            events.append(event("handle \(name)", at: sent + latency + queue, on: to, .flow(flow, .handlerBegin)))
            events.append(event("handle \(name)", at: sent + latency + queue + work, on: to, .flow(flow, .handlerEnd)))
        }
        return events
    }

    /// A pipeline of `count` messages over `actors` operator actors on `nodes` nodes, with a
    /// kernel inside every handler and a queue-depth counter, ordered by timestamp.
    static func pipeline(messages count: Int, actors: Int = 4, nodes: UInt32 = 1, seed: UInt64 = 1) -> [TraceEvent] {
        var rng = SeededRandom(seed: seed)
        var events: [TraceEvent] = []
        let tracks = (0..<actors).map { index in track(UInt32(index) % nodes, UInt64(index + 1), "OperatorActor op#\(index + 1)") }
        var clock: UInt64 = 1_000
        for index in 0..<count {
            let from = tracks[index % actors]
            let to = tracks[(index + 1) % actors]
            let work = 5_000 + rng.next() % 5_000
            let id = UInt64(index + 1)
            events += message(id, from: from, to: to, sent: clock, work: work)
            let start = clock + 1_500 + 100
            events.append(event("matmul", at: start, on: to, .kernel(TraceKernel(duration: work - 200, flops: 1 << 20, bytes: 4096)), category: .kernel))
            events.append(event("queue.depth", at: clock, on: from, .counter(value: Double(index % 3))))
            clock += work + 2_000
        }
        return sorted(events)
    }

    static func sorted(_ events: [TraceEvent]) -> [TraceEvent] {
        events.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
    }

    static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}

import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing
import Foundation

/// The `tracing` group: recording into `RingBufferRecorder` against storing the same event into
/// a preallocated array (the cost of the copy alone), then export throughput of the Chrome JSON
/// and Perfetto protobuf writers, and the file sizes of a run of 1 million messages.
func runTracing(_ options: Options) throws -> GroupReport {
    var report = GroupReport(
        group: Group.tracing.rawValue,
        title: "Tracing: RingBufferRecorder vs a preallocated array; export throughput; 1M-message file sizes",
        command: options.command(for: .tracing))
    report.columns = [
        Column("case", "case"),
        Column("mevents", "M events/s", .fixed(2)),
        Column("ns_event", "ns/event", .fixed(1)),
        Column("mbps", "MB/s", .fixed(0)),
        Column("ratio", "÷ baseline", .ratio),
    ]
    let sampler = Sampler(repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
    let batch = 1 << 16
    let track = TraceTrack(node: 0, thread: 7, name: "OperatorActor matmul#7")
    // A message send as the runtime records it: a short name, a flow ID, no arguments.
    let event = TraceEvent(
        timestamp: Instant(nanoseconds: 1), track: track, category: .transport, name: "tensor",
        kind: .flow(FlowID(rawValue: 42), .send))
    let single = RingBufferRecorder(capacityPerShard: batch, shardCount: 1)
    let sharded = RingBufferRecorder(capacityPerShard: batch)
    let array = UnsafeMutablePointer<TraceEvent>.allocate(capacity: batch)
    array.initialize(repeating: event, count: batch)
    defer {
        array.deinitialize(count: batch)
        array.deallocate()
    }
    var stamp: UInt64 = 0
    // The event with the next timestamp: every contestant stores a fresh copy.
    @inline(__always) func stamped() -> TraceEvent {
        var copy = event
        stamp &+= 1
        copy.timestamp = Instant(nanoseconds: stamp)
        return copy
    }
    progress("tracing: recording")
    let samples = try sampler.measure([
        Contestant(name: "array") {
            for index in 0..<batch {
                array[index] = stamped()
            }
        },
        Contestant(name: "ring, 1 shard") {
            for _ in 0..<batch {
                single.record(stamped())
            }
        },
        Contestant(name: "ring, default shards") {
            for _ in 0..<batch {
                sharded.record(stamped())
            }
        },
    ])
    let baseline = samples[0].median / Double(batch)
    for (index, name) in ["preallocated array (baseline)", "RingBufferRecorder, 1 shard", "RingBufferRecorder, \(sharded.shardCount) shards"].enumerated() {
        let perEvent = samples[index].median / Double(batch)
        report.records.append([
            "case": .text(name), "mevents": .number(1e-6 / perEvent), "ns_event": .number(perEvent * 1e9),
            "ratio": .number(index == 0 ? 1 : samples[index].pairedSpeedup(over: samples[0])),
        ])
    }
    report.notes.append("Recording target: ≥ 5 M events/s single-threaded; baseline: \(formatNumber(1e-6 / baseline, digits: 1)) M events/s.")

    // Export: a pipeline of messages (send, receive, handler begin/end, a kernel, a counter).
    let messages = 1_000_000
    progress("tracing: building \(messages) messages")
    let events = pipelineEvents(messages: messages)
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deepseek-bench-trace-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    var sizes: [String] = []
    for (format, name, file) in [(TraceFormat.chromeJSON, "export Chrome JSON", "run.json"), (.perfetto, "export Perfetto protobuf", "run.perfetto-trace")] {
        progress("tracing: \(name)")
        var seconds: [Double] = []
        var bytes = 0
        for _ in 0..<max(1, min(options.repetitions, 3)) {
            let start = monotonicSeconds()
            bytes = try TraceExport.write(events: events, to: directory.appendingPathComponent(file).path, format: format).bytes
            seconds.append(monotonicSeconds() - start)
        }
        let median = Samples(seconds: seconds).median
        report.records.append([
            "case": .text(name), "mevents": .number(Double(events.count) / median / 1e6),
            "ns_event": .number(median / Double(events.count) * 1e9), "mbps": .number(Double(bytes) / median / 1e6),
        ])
        sizes.append("\(format.rawValue) \(formatNumber(Double(bytes) / 1e6, digits: 0)) MB")
    }
    for (label, bounds) in [("sampled 1 in 10", TraceBounds(sampleOneIn: 10)), ("last 10 % of the run", TraceBounds(keepLast: 1_000_000 * 12_500 / 10))] {
        for (format, file) in [(TraceFormat.chromeJSON, "bounded.json"), (.perfetto, "bounded.perfetto-trace")] {
            let written = try TraceExport.write(events: events, to: directory.appendingPathComponent(file).path, format: format, bounds: bounds)
            sizes.append("\(label), \(format.rawValue): \(formatNumber(Double(written.bytes) / 1e6, digits: 0)) MB")
        }
    }
    report.notes.append("1 M messages (\(events.count) events: 4 flow steps, a kernel and a counter per message), file sizes: " + sizes.joined(separator: "; ") + ".")
    let check = try TraceValidation.validate(path: directory.appendingPathComponent("bounded.json").path)
    report.notes.append("The bounded JSON validates: \(check.isValid ? "no import problems" : check.counts.description).")
    return report
}

/// `messages` messages passed round 16 operator actors on 4 nodes, ordered by timestamp.
func pipelineEvents(messages: Int) -> [TraceEvent] {
    let tracks = (0..<16).map { TraceTrack(node: UInt32($0 % 4), thread: UInt64($0 + 1), name: "OperatorActor op#\($0 + 1)") }
    var events: [TraceEvent] = []
    events.reserveCapacity(messages * 6)
    var rng = SeededRandom(seed: 1)
    for index in 0..<messages {
        let clock = UInt64(index) * 12_500
        let from = tracks[index % 16]
        let to = tracks[(index + 1) % 16]
        let flow = FlowID(rawValue: UInt64(index + 1))
        let work = 5_000 + rng.next() % 5_000
        func add(_ time: UInt64, _ track: TraceTrack, _ name: String, _ kind: TraceEventKind) {
            events.append(TraceEvent(timestamp: Instant(nanoseconds: time), track: track, category: .runtime, name: name, kind: kind))
        }
        add(clock, from, "tensor", .flow(flow, .send))
        add(clock, from, "queue.depth", .counter(value: Double(index % 5)))
        add(clock + 1_000, to, "tensor", .flow(flow, .receive))
        add(clock + 1_500, to, "handle tensor", .flow(flow, .handlerBegin))
        add(clock + 1_600, to, "matmul", .kernel(TraceKernel(duration: work - 200, flops: 1 << 21, bytes: 1 << 14)))
        add(clock + 1_500 + work, to, "handle tensor", .flow(flow, .handlerEnd))
    }
    return events.enumerated().sorted { ($0.element.timestamp, $0.offset) < ($1.element.timestamp, $1.offset) }.map(\.element)
}

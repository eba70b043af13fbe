import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing
import Foundation
import Testing

@Suite struct ChromeTraceWriterTests {
    @Test func writesProcessAndThreadMetadataOncePerTrack() throws {
        let track = Fixture.track(3, 12, "OperatorActor matmul#12")
        let events = [
            Fixture.event("a", at: 1_000, on: track, .instant),
            Fixture.event("b", at: 2_000, on: track, .complete(duration: 500)),
        ]
        let text = Fixture.text(try ChromeTraceWriter.render(events))
        #expect(text.contains(#"{"ph":"M","pid":3,"tid":0,"name":"process_name","args":{"name":"node 3"}}"#))
        #expect(text.contains(#"{"ph":"M","pid":3,"tid":12,"name":"thread_name","args":{"name":"OperatorActor matmul#12"}}"#))
        #expect(text.components(separatedBy: "thread_name").count == 2)
        #expect(text.contains(#"{"ph":"X","pid":3,"tid":12,"ts":2,"dur":0.5,"cat":"runtime","name":"b"}"#))
    }

    @Test func timestampsAreMicrosecondsWithExactNanosecondFractions() throws {
        let events = [Fixture.event("x", at: 1_234_567_891, on: .main, .complete(duration: 1_001))]
        let text = Fixture.text(try ChromeTraceWriter.render(events))
        #expect(text.contains(#""ts":1234567.891,"dur":1.001"#))
        let back = try TraceReader.read(bytes: Array(text.utf8))
        #expect(back.events.map(\.timestamp.nanoseconds) == [1_234_567_891])
        #expect(back.events.first?.duration == 1_001)
    }

    @Test func messageFlowsBindToSlicesAndValidate() throws {
        let a = Fixture.track(0, 1)
        let b = Fixture.track(0, 2)
        let events = Fixture.message(7, from: a, to: b, sent: 1_000)
        let bytes = try ChromeTraceWriter.render(events)
        let text = Fixture.text(bytes)
        #expect(text.contains(#""ph":"s""#))
        #expect(text.contains(#""ph":"t""#))
        #expect(text.contains(#""ph":"f""#) && text.contains(#""bp":"e""#))
        let validation = try TraceValidation.validate(bytes: bytes)
        #expect(validation.isValid, "\(validation.issues)")
    }

    @Test func roundTripRestoresEveryEventKind() throws {
        let track = Fixture.track(1, 5, "DeviceActor cpu0")
        let flow = FlowID(rawValue: 0x1_0000_0000_2A)
        let events = [
            Fixture.event("step", at: 100, on: track, .spanBegin, arguments: ["step": 3]),
            Fixture.event("matmul", at: 200, on: track, .kernel(TraceKernel(duration: 50, flops: 1_000, bytes: 64)),
                          category: .kernel, arguments: ["backend": "cpu", "m": 64]),
            Fixture.event("send", at: 260, on: track, .transfer(TraceTransfer(duration: 30, bytes: 4096, source: 1, destination: 2, flow: flow)),
                          category: .transport),
            Fixture.event("spill", at: 300, on: track, .storage(TraceStorageAccess(.write, duration: 20, bytes: 128)), category: .storage),
            Fixture.event("queue", at: 310, on: track, .counter(value: 2.5)),
            Fixture.event("mark", at: 320, on: track, .instant, arguments: ["ratio": 0.25, "note": "quote \" and \\ and \n"]),
            Fixture.event("out", at: 330, on: track, .flow(flow, .send), category: .transport),
            Fixture.event("step", at: 400, on: track, .spanEnd),
        ]
        let back = try TraceReader.read(bytes: try ChromeTraceWriter.render(events))
        #expect(back.events == events)
        #expect(back.processNames[1] == "node 1")
    }

    @Test func sameEventsGiveByteIdenticalFiles() throws {
        let events = Fixture.pipeline(messages: 200, actors: 5, nodes: 2, seed: 9)
        let first = try ChromeTraceWriter.render(events)
        let second = try ChromeTraceWriter.render(events)
        #expect(first == second)
        let validation = try TraceValidation.validate(bytes: first)
        #expect(validation.isValid, "\(validation.issues.prefix(5))")
    }

    @Test func unterminatedSpansAreClosedAtTheEndAndReadBackAsOpen() throws {
        let a = Fixture.track(0, 1)
        let b = Fixture.track(0, 2)
        let events = Fixture.message(1, from: a, to: b, sent: 0).dropLast()  // the handler never ends
        let output = TraceOutput()
        let writer = try ChromeTraceWriter(output: output)
        try writer.write(Array(events))
        try writer.finish()
        #expect(writer.statistics.openSpansClosed == 1)
        #expect(try TraceValidation.validate(bytes: output.bytes).isValid)
        let back = try TraceReader.read(bytes: output.bytes)
        #expect(back.events == Array(events))
    }

    @Test func unmatchedEndIsDroppedAndCounted() throws {
        let output = TraceOutput()
        let writer = try ChromeTraceWriter(output: output)
        try writer.write(Fixture.event("orphan", at: 5, on: .main, .spanEnd))
        try writer.finish()
        #expect(writer.statistics.unmatchedEndsDropped == 1)
        #expect(try TraceValidation.validate(bytes: output.bytes).isValid)
    }

    @Test func writesAFileThroughTheBuffer() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("trace-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let events = Fixture.pipeline(messages: 2_000)
        let writer = try ChromeTraceWriter(path: path, settings: .init(metadata: ["seed": "1"]))
        try writer.write(events)
        try writer.finish()
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(size == writer.statistics.bytes)
        let back = try TraceReader.read(path: path)
        #expect(back.events.count == events.count)
        #expect(back.metadata["seed"] == "1")
        #expect(try TraceValidation.validate(path: path).isValid)
    }
}

import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing
import Testing

@Suite struct TraceReaderTests {
    @Test func readsTheArrayFormAndForeignFlowEvents() throws {
        let text = """
            [{"ph":"X","pid":1,"tid":2,"ts":10,"dur":5,"name":"work","cat":"c"},
             {"ph":"s","pid":1,"tid":2,"ts":11,"name":"m","cat":"c","id":"0x2a"},
             {"ph":"M","pid":1,"tid":2,"name":"thread_name","args":{"name":"worker"}}]
            """
        let document = try TraceReader.read(bytes: Array(text.utf8))
        #expect(document.events.count == 2)
        #expect(document.events[0].track.name == "worker")
        #expect(document.events[1].kind == .flow(FlowID(rawValue: 42), .send))
    }

    @Test(arguments: [
        ("[{\"ph\":\"X\",\"pid\":0,\"tid\":0,\"ts\":1,\"dur\":2}", 42, "',' or ']'"),  // truncated after an event
        ("{\"traceEvents\":[{\"ph\":\"i\",\"pid\":0,\"ts\":1,}]}", 41, "a quoted member name"),
        ("[{\"ph\":\"X\",\"pid\":0,\"tid\":0,\"ts\":1,\"dur\":\"2\"}]", 1, "\"dur\""),
        ("[{\"ph\":\"i\",\"pid\":0,\"tid\":0,\"ts\":1}\n{\"ph\":\"i\"}]", 35, "line 2"),
        ("", 0, "empty"),
        ("[{\"ph\":\"i\",\"pid\":0,\"tid\":0,\"ts\":1,\"name\":\"unterminated", 54, "closing a string"),
    ])
    func malformedInputNamesTheByteOffset(text: String, offset: Int, mention: String) throws {
        let error = try #require(throws: TraceExportError.self) { try TraceReader.read(bytes: Array(text.utf8), name: "run.json") }
        #expect(error.code == .malformedTrace)
        #expect(error.byteOffset == offset, "\(error.message)")
        #expect(error.message.contains(mention), "\(error.message)")
        #expect(error.message.contains("run.json"))
    }

    @Test func missingFileIsAnIOError() throws {
        let error = try #require(throws: TraceExportError.self) { try TraceReader.read(path: "/nonexistent/run.json") }
        #expect(error.code == .io)
    }
}

@Suite struct TraceValidationTests {
    func validate(_ text: String) throws -> TraceValidation { try TraceValidation.validate(bytes: Array(text.utf8)) }

    @Test func reportsUnmatchedBeginAndEnd() throws {
        let result = try validate("""
            [{"ph":"B","pid":0,"tid":1,"ts":1,"name":"a"},{"ph":"E","pid":0,"tid":2,"ts":2}]
            """)
        #expect(result.counts[.unmatchedBegin] == 1)
        #expect(result.counts[.unmatchedEnd] == 1)
        #expect(!result.isValid)
    }

    @Test func reportsFlowsWithoutSlicesAndWithoutStart() throws {
        let result = try validate("""
            [{"ph":"X","pid":0,"tid":1,"ts":1,"dur":1,"name":"a"},
             {"ph":"s","pid":0,"tid":1,"ts":5,"id":"0x1","cat":"f","name":"m"},
             {"ph":"f","pid":0,"tid":2,"ts":6,"id":"0x2","cat":"f","name":"m","bp":"e"}]
            """)
        #expect(result.counts[.flowWithoutSlice] == 2)
        #expect(result.counts[.flowStepWithoutStart] == 1)
    }

    @Test func reportsMisnestedSlicesAndBackwardFlows() throws {
        let result = try validate("""
            [{"ph":"X","pid":0,"tid":1,"ts":1,"dur":5,"name":"a"},
             {"ph":"X","pid":0,"tid":1,"ts":3,"dur":5,"name":"b"},
             {"ph":"X","pid":0,"tid":1,"ts":20,"dur":0,"name":"send","args":{"ds":{"flow":"0x9","step":"send"}}},
             {"ph":"X","pid":0,"tid":2,"ts":10,"dur":0,"name":"recv","args":{"ds":{"flow":"0x9","step":"receive"}}}]
            """)
        #expect(result.counts[.misnestedSlice] == 1)
        #expect(result.counts[.backwardFlow] == 1)
    }
}

import DeepseekCore
import DeepseekTracing
import Testing

@Suite struct TraceEventTests {
    @Test func argumentsKeepOrderAndLookUpByKey() {
        let arguments: TraceArguments = ["bytes": 4096, "ratio": 0.5, "peer": "node-2"]
        #expect(arguments.count == 3)
        #expect(arguments.map(\.key) == ["bytes", "ratio", "peer"])
        #expect(arguments["ratio"] == .double(0.5))
        #expect(arguments["peer"] == .string("node-2"))
        #expect(arguments["missing"] == nil)
    }

    @Test func appendStopsAtFourArguments() {
        var arguments = TraceArguments()
        for index in 0..<4 {
            let appended = arguments.append("k\(index)", .int(Int64(index)))
            #expect(appended)
        }
        #expect(arguments.isFull)
        let appendedFifth = arguments.append("k4", 4)
        #expect(!appendedFifth)
        #expect(arguments.count == 4)
        #expect(arguments[3] == TraceArgument("k3", 3))
    }

    @Test func argumentsCompareByContentOnly() {
        var built = TraceArguments()
        built.append("a", 1)
        #expect(built == ["a": 1])
        #expect(TraceArguments() == [:])
        #expect(built != ["a": 2])
    }

    @Test func moreThanFourArgumentsIsAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            _ = TraceArguments([
                TraceArgument("a", 1), TraceArgument("b", 2), TraceArgument("c", 3), TraceArgument("d", 4),
                TraceArgument("e", 5),
            ])
        }
    }

    @Test func durationOnlyForKindsThatHaveOne() {
        func event(_ kind: TraceEventKind) -> TraceEvent {
            TraceEvent(timestamp: Instant(nanoseconds: 10), track: .main, category: .user, name: "e", kind: kind)
        }
        #expect(event(.instant).duration == nil)
        #expect(event(.counter(value: 1)).end == Instant(nanoseconds: 10))
        #expect(event(.complete(duration: 5)).end == Instant(nanoseconds: 15))
        #expect(event(.storage(TraceStorageAccess(.read, duration: 7, bytes: 1))).duration == 7)
    }

    @Test func categoriesAreOpenStrings() {
        let custom: TraceCategory = "collective"
        #expect(custom.description == "collective")
        #expect(TraceCategory.kernel == TraceCategory("kernel"))
    }
}

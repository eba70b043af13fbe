import ArgumentParser
import DeepseekTraceExport
import DeepseekTracing

import Foundation

/// `deepseek trace`: analyse, compare, merge, convert and view recorded traces.
struct TraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Analyse, compare, merge, convert and view Chrome JSON traces written by Deepseek.",
        discussion: """
            Traces are Chrome Trace Event JSON files (the format Perfetto UI and chrome://tracing
            open). `summary` reports busy time, the critical path, slow operators and message
            latency; `diff` compares two runs; `waits` shows who waits on whom (for hangs); `view`
            writes a self-contained HTML timeline; `merge` aligns several nodes' clocks; `convert`
            writes Perfetto's protobuf format, optionally bounded; `validate` checks a file for the
            problems trace viewers warn about.
            """,
        subcommands: [
            TraceSummaryCommand.self, TraceDiffCommand.self, TraceWaitsCommand.self, TraceViewCommand.self,
            TraceMergeCommand.self, TraceConvertCommand.self, TraceValidateCommand.self,
        ]
    )
}

/// Runs `body`, turning trace errors into a message on standard error and exit status 1.
func runTraceCommand(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as TraceExportError {
        var standardError = StandardErrorStream()
        print("deepseek trace: \(error.message)", to: &standardError)
        throw ExitCode.failure
    }
}

struct StandardErrorStream: TextOutputStream {
    mutating func write(_ string: String) { FileHandle.standardError.write(Data(string.utf8)) }
}

/// Options that bound a trace before it is written.
struct TraceBoundsOptions: ParsableArguments {
    @Option(help: "Keep only the last N seconds of the run.") var keepLastSeconds: Double?
    @Option(help: "Keep one message, span or repeated event in K.") var sample: Int = 1
    @Flag(help: "Merge runs of identical consecutive events into one with a count.") var aggregate = false

    func validate() throws {
        guard sample >= 1 else { throw ValidationError("--sample must be at least 1, got \(sample)") }
        if let keepLastSeconds, !(keepLastSeconds > 0) {
            throw ValidationError("--keep-last-seconds must be positive, got \(keepLastSeconds)")
        }
    }

    var bounds: TraceBounds {
        TraceBounds(
            keepLast: keepLastSeconds.map { UInt64($0 * 1e9) }, sampleOneIn: sample, aggregateRepeats: aggregate)
    }
}

struct TraceSummaryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "summary",
        abstract: "Per-actor busy %, critical path, slowest operators, message latency, exposed communication.")

    @Argument(help: "A Chrome JSON trace.") var trace: String

    func run() throws {
        try runTraceCommand { print(TraceSummary(try TraceReader.read(path: trace).events).text, terminator: "") }
    }
}

struct TraceDiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff", abstract: "What changed between two runs (empty for two runs of the same seed).")

    @Argument(help: "The first trace.") var first: String
    @Argument(help: "The second trace.") var second: String
    @Option(help: "Relative difference below which times count as equal (counts are always exact).")
    var tolerance: Double = 0

    func run() throws {
        guard tolerance >= 0 else { throw ValidationError("--tolerance must not be negative") }
        try runTraceCommand {
            let a = try TraceReader.read(path: first).events
            let b = try TraceReader.read(path: second).events
            print(TraceDiff(a, b, tolerance: tolerance).text, terminator: "")
        }
    }
}

struct TraceWaitsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "waits",
        abstract: "The wait-for graph at a moment: which actor waits on which message from whom.",
        discussion: """
            A message sent by then whose handler has not finished is an edge from sender to receiver.
            Silent actors are waited on and wait on no one: where a hang stops. Needs flow events
            (send, receive, handlerBegin, handlerEnd with one flow ID; track = actor).
            """)

    @Argument(help: "A Chrome JSON trace.") var trace: String
    @Option(help: "The moment, in microseconds on the trace's clock (default: the end of the trace).")
    var at: Double?

    func run() throws {
        if let at, !(at >= 0) { throw ValidationError("--at must be a non-negative number of microseconds") }
        try runTraceCommand {
            let events = try TraceReader.read(path: trace).events
            print(WaitForGraph(events, at: at.map { UInt64($0 * 1000) }).text, terminator: "")
        }
    }
}

struct TraceViewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "view", abstract: "Write a self-contained HTML timeline (zoom, pan, flow arrows, summary).")

    @Argument(help: "A Chrome JSON trace.") var trace: String
    @Option(name: .shortAndLong, help: "The HTML file to write.") var output: String = "timeline.html"
    @Option(help: "The most slices to embed; the shortest are left out beyond it.")
    var maxSlices: Int = TraceViewer.defaultMaximumSlices

    func run() throws {
        guard maxSlices >= 1 else { throw ValidationError("--max-slices must be at least 1") }
        try runTraceCommand {
            let events = try TraceReader.read(path: trace).events
            try TraceViewer.write(events, to: output, title: trace, maximumSlices: maxSlices)
            print("wrote \(output)")
        }
    }
}

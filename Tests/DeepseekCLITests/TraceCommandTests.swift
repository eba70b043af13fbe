import DeepseekActors
import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing
import Distributed
import Foundation
import Synchronization
import Testing

/// An actor that asks another one something, and one that never answers.
distributed actor Asker: WireCodable {
    typealias ActorSystem = DeepseekActorSystem
    distributed func ask(_ other: Sleeper) async throws { try await other.sleep() }
}

distributed actor Sleeper: WireCodable {
    typealias ActorSystem = DeepseekActorSystem
    static let started = Mutex(0)
    distributed func sleep() async throws {
        Self.started.withLock { $0 += 1 }
        try await Task.sleep(for: .seconds(30))
    }
}

/// `deepseek trace` on traces of real runs: a hang provoked between two actor systems is named by
/// `waits`; a damaged file is refused with the byte offset; `view` and `diff` work on a run.
@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"))
struct TraceCommandTests {
    static func temporary(_ name: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("deepseek-trace-cli-\(getpid())-\(name)").path
    }

    @Test func waitsNamesTheWaitingAndTheSilentActorOfAHang() async throws {
        let binary = try #require(deepseekBinary)
        let recorder = RingBufferRecorder(capacityPerShard: 4096)
        var settings = ActorSystemSettings(defaultCallTimeout: .seconds(2))
        settings.tracer = Tracer(recorder: recorder, clock: MonotonicClock())
        let network = InProcessNetwork()
        let a = DeepseekActorSystem(transport: network.transport(for: NodeID(0)), settings: settings)
        let b = DeepseekActorSystem(transport: network.transport(for: NodeID(1)), settings: settings)
        try await a.start()
        try await b.start()
        let asker = DeepseekActorSystem.withPath("asker") { Asker(actorSystem: a) }
        let sleeper = DeepseekActorSystem.withPath("sleeper") { Sleeper(actorSystem: b) }
        defer { withExtendedLifetime((asker, sleeper)) {} }
        let before = Sleeper.started.withLock { $0 }
        let call = Task { try await Asker.resolve(id: asker.id, using: b).ask(try Sleeper.resolve(id: sleeper.id, using: a)) }
        let deadline = ContinuousClock.now + .seconds(10)
        while Sleeper.started.withLock({ $0 }) == before && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        // The trace as it stands while the run hangs.
        let path = Self.temporary("hang.json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let writer = try ChromeTraceWriter(path: path)
        try writer.write(recorder.snapshot())
        try writer.finish()
        call.cancel()

        let result = runProcess(binary, ["trace", "waits", path])
        #expect(result.exitCode == 0, "\(result.stderr)")
        #expect(result.stdout.contains("asker") && result.stdout.contains("sleeper"), "\(result.stdout)")
        let line = result.stdout.split(separator: "\n").first { $0.contains("asker") && $0.contains("waits on") && $0.contains("sleeper") }
        #expect(line != nil, "\(result.stdout)")
        // The sleeper waits on no one: the hang stops there.
        let silent = result.stdout.components(separatedBy: "Silent actors").last ?? ""
        #expect(silent.contains("sleeper"), "\(result.stdout)")
    }

    @Test func aTruncatedTraceIsRefusedWithTheByteOffset() throws {
        let binary = try #require(deepseekBinary)
        let path = Self.temporary("truncated.json")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let whole = #"{"traceEvents":[{"ph":"X","pid":0,"tid":1,"ts":1.000,"dur":2.000,"name":"matmul","cat":"kernel"},{"ph":"X","pid":0,"tid":1,"ts":4"#
        try whole.write(toFile: path, atomically: true, encoding: .utf8)
        for command in ["summary", "view", "waits"] {
            let result = runProcess(binary, ["trace", command, path] + (command == "view" ? ["-o", Self.temporary("t.html")] : []))
            #expect(result.exitCode != 0, "\(command)")
            #expect(result.stderr.contains("byte"), "\(command): \(result.stderr)")
        }
        let diff = runProcess(binary, ["trace", "diff", path, path])
        #expect(diff.exitCode != 0)
        #expect(diff.stderr.contains("byte"), "\(diff.stderr)")
    }
}

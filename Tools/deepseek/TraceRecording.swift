import DeepseekCore
import DeepseekTraceExport
import DeepseekTracing
import Foundation
import Synchronization

/// `--trace FILE` for commands that run the engine: a ring-buffer recorder for the actor system,
/// drained into a streaming Chrome-trace writer by a background thread, so the file grows with
/// the run and memory does not.
///
/// The ring holds what is recorded between two drains (every `interval`); what would overflow it
/// is counted, never blocks the run, and is reported at the end.
final class TraceRecording: Sendable {
    let recorder: RingBufferRecorder
    let path: String
    private let writer: Mutex<ChromeTraceWriter?>
    private let stopping = Atomic<Bool>(false)
    private let finished = Mutex<Bool>(false)
    private let failure = Mutex<(any Error)?>(nil)

    /// The tracer to give the actor system.
    var tracer: Tracer { Tracer(recorder: recorder, clock: MonotonicClock()) }

    init(path: String, processName: String, capacityPerShard: Int = 1 << 16, interval: Duration = .milliseconds(100)) throws {
        self.path = path
        recorder = RingBufferRecorder(capacityPerShard: capacityPerShard, policy: .dropNewest)
        let writer: ChromeTraceWriter
        do {
            writer = try ChromeTraceWriter(path: path, settings: .init(processNames: [0: processName]))
        } catch {
            throw TraceRecordingError("--trace: cannot write \(path): \(error)")
        }
        self.writer = Mutex(writer)
        let thread = Thread { [self] in
            while !stopping.load(ordering: .acquiring) {
                Thread.sleep(forTimeInterval: interval.inSeconds)
                drain()
            }
        }
        thread.name = "trace drain"
        thread.start()
    }

    /// Moves what the ring holds into the file.
    private func drain() {
        // Drained under the writer's lock, so the final drain cannot overtake a periodic one.
        writer.withLock { w in
            guard w != nil else { return }
            let events = recorder.drain()
            guard !events.isEmpty else { return }
            do { try w?.write(events) } catch {
                failure.withLock { $0 = $0 ?? error }
                w = nil
            }
        }
    }

    /// Stops the drain, writes the rest and closes the file; returns a one-line summary.
    func finish(metadata: [String: String] = [:]) throws -> String {
        stopping.store(true, ordering: .releasing)
        let alreadyDone = finished.withLock { done in defer { done = true }; return done }
        guard !alreadyDone else { return "" }
        drain()
        let statistics = recorder.statistics
        var meta = metadata
        meta["dropped_events"] = String(statistics.dropped)
        let written: Int = try writer.withLock { w in
            guard let writer = w else { return 0 }
            try writer.finish(metadata: meta)
            w = nil
            return writer.statistics.events
        }
        if let error = failure.withLock({ $0 }) { throw TraceRecordingError("--trace: writing \(path) failed: \(error)") }
        let bytes = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        return "trace: \(written) events, \(bytes / 1024) KiB in \(path)"
            + (statistics.dropped > 0 ? " (\(statistics.dropped) events dropped: the ring was full between drains)" : "")
    }
}

/// Why a trace could not be recorded, in words.
struct TraceRecordingError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

public import DeepseekCore

/// The recording front-end that instrumented code holds: a recorder, the clock that stamps
/// events, and the track they belong to.
///
/// Every method checks `isEnabled` before it reads the clock or evaluates its name and arguments
/// (they are autoclosures), so a tracer over `NoOpRecorder` costs one branch per call even when
/// the name is built with interpolation.
///
/// ```swift
/// let tracer = Tracer(recorder: ring, clock: MonotonicClock(),
///                     track: TraceTrack(node: 0, thread: 1, name: "device/cpu0"))
/// let y = try tracer.span("matmul", category: .kernel) { try x.matmul(w) }
/// tracer.counter("queue.length", value: 3)
/// tracer.instant("evict \(key)", category: .storage, arguments: ["bytes": 4096])
/// ```
public struct Tracer: Sendable {
    /// The recorder and clock, shared by every copy: a tracer is copied once per actor row (see
    /// `on(_:)`), and one reference is cheaper to copy than two existentials.
    @usableFromInline let sink: TraceSink
    /// The track events are recorded on.
    public var track: TraceTrack

    /// Where events go.
    @inlinable public var recorder: any TraceRecorder { sink.recorder }
    /// The clock that stamps events (virtual in simulations).
    @inlinable public var clock: any DeepseekClock { sink.clock }

    /// Creates a tracer.
    public init(recorder: any TraceRecorder, clock: any DeepseekClock, track: TraceTrack = .main) {
        self.sink = TraceSink(recorder: recorder, clock: clock)
        self.track = track
    }

    /// A tracer that records nothing.
    public static var disabled: Tracer { Tracer(recorder: NoOpRecorder(), clock: MonotonicClock()) }

    /// Whether events are kept (read once from the recorder when the tracer was made).
    @inlinable public var isEnabled: Bool { sink.isEnabled }

    /// The same tracer on another track (for example the track of one actor).
    public func on(_ track: TraceTrack) -> Tracer {
        var copy = self
        copy.track = track
        return copy
    }

    /// Records an event of `kind`, stamped now or at `timestamp` (for events measured elsewhere).
    @inlinable
    public func emit(
        _ name: @autoclosure () -> String, category: TraceCategory, kind: TraceEventKind,
        at timestamp: Instant? = nil, arguments: @autoclosure () -> TraceArguments = TraceArguments()
    ) {
        guard sink.isEnabled else { return }
        sink.recorder.record(
            TraceEvent(
                timestamp: timestamp ?? sink.clock.now(), track: track, category: category, name: name(), kind: kind,
                arguments: arguments()))
    }

    /// Records a point in time.
    @inlinable
    public func instant(
        _ name: @autoclosure () -> String, category: TraceCategory = .user,
        arguments: @autoclosure () -> TraceArguments = TraceArguments()
    ) {
        emit(name(), category: category, kind: .instant, arguments: arguments())
    }

    /// Records a sample of a counter.
    @inlinable
    public func counter(_ name: @autoclosure () -> String, value: Double, category: TraceCategory = .runtime) {
        emit(name(), category: category, kind: .counter(value: value))
    }

    /// Opens a span; close it with `endSpan(_:category:)` on the same track.
    @inlinable
    public func beginSpan(
        _ name: @autoclosure () -> String, category: TraceCategory = .user,
        arguments: @autoclosure () -> TraceArguments = TraceArguments()
    ) {
        emit(name(), category: category, kind: .spanBegin, arguments: arguments())
    }

    /// Closes the innermost open span on this track.
    @inlinable
    public func endSpan(_ name: @autoclosure () -> String, category: TraceCategory = .user) {
        emit(name(), category: category, kind: .spanEnd)
    }

    /// Runs `body` and records it as one complete span (also when it throws).
    @inlinable
    public func span<R>(
        _ name: @autoclosure () -> String, category: TraceCategory = .user,
        arguments: @autoclosure () -> TraceArguments = TraceArguments(), _ body: () throws -> R
    ) rethrows -> R {
        guard sink.isEnabled else { return try body() }
        let start = sink.clock.now()
        defer { recordComplete(name(), category: category, start: start, arguments: arguments()) }
        return try body()
    }

    /// Runs the asynchronous `body` and records it as one complete span (also when it throws).
    @inlinable
    public func span<R>(
        _ name: String, category: TraceCategory = .user, arguments: TraceArguments = TraceArguments(),
        isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R
    ) async rethrows -> R {
        guard sink.isEnabled else { return try await body() }
        let start = sink.clock.now()
        defer { recordComplete(name, category: category, start: start, arguments: arguments) }
        return try await body()
    }

    /// Records a span that started at `start` and ends now (for spans whose start and end are
    /// in different scopes).
    @inlinable
    public func complete(
        _ name: @autoclosure () -> String, category: TraceCategory = .user, startedAt start: Instant,
        arguments: @autoclosure () -> TraceArguments = TraceArguments()
    ) {
        guard sink.isEnabled else { return }
        recordComplete(name(), category: category, start: start, arguments: arguments())
    }

    @usableFromInline
    func recordComplete(_ name: String, category: TraceCategory, start: Instant, arguments: TraceArguments) {
        let end = sink.clock.now()
        sink.recorder.record(
            TraceEvent(
                timestamp: start, track: track, category: category, name: name,
                kind: .complete(duration: end.nanoseconds(since: start)), arguments: arguments))
    }

    /// Records one step of a message flow (send, receive, handler begin or end).
    @inlinable
    public func flow(
        _ step: FlowStep, _ id: FlowID, name: @autoclosure () -> String, category: TraceCategory = .transport,
        arguments: @autoclosure () -> TraceArguments = TraceArguments()
    ) {
        emit(name(), category: category, kind: .flow(id, step), arguments: arguments())
    }

    /// Records a kernel that ran from `start` until now.
    @inlinable
    public func kernel(
        _ name: @autoclosure () -> String, startedAt start: Instant, flops: Int64 = 0, bytes: Int64 = 0,
        arguments: @autoclosure () -> TraceArguments = TraceArguments()
    ) {
        guard sink.isEnabled else { return }
        let kernel = TraceKernel(duration: sink.clock.now().nanoseconds(since: start), flops: flops, bytes: bytes)
        emit(name(), category: .kernel, kind: .kernel(kernel), at: start, arguments: arguments())
    }

    /// Records a transfer of `bytes` from node `source` to node `destination` that ran from
    /// `start` until now.
    @inlinable
    public func transfer(
        _ name: @autoclosure () -> String, startedAt start: Instant, bytes: Int64, from source: UInt32,
        to destination: UInt32, flow: FlowID? = nil
    ) {
        guard sink.isEnabled else { return }
        let transfer = TraceTransfer(
            duration: sink.clock.now().nanoseconds(since: start), bytes: bytes, source: source,
            destination: destination, flow: flow)
        emit(name(), category: .transport, kind: .transfer(transfer), at: start)
    }

    /// Records a storage read or write of `bytes` that ran from `start` until now.
    @inlinable
    public func storage(
        _ name: @autoclosure () -> String, _ direction: TraceStorageAccess.Direction, startedAt start: Instant,
        bytes: Int64
    ) {
        guard sink.isEnabled else { return }
        let access = TraceStorageAccess(direction, duration: sink.clock.now().nanoseconds(since: start), bytes: bytes)
        emit(name(), category: .storage, kind: .storage(access), at: start)
    }
}

/// What every copy of a `Tracer` shares: where events go and what stamps them.
public final class TraceSink: Sendable {
    /// Where events go.
    public let recorder: any TraceRecorder
    /// The clock that stamps events.
    public let clock: any DeepseekClock
    /// `recorder.isEnabled`, read once: a stored flag is one load on every instrumented path.
    public let isEnabled: Bool

    /// Creates a sink.
    public init(recorder: any TraceRecorder, clock: any DeepseekClock) {
        self.recorder = recorder
        self.clock = clock
        self.isEnabled = recorder.isEnabled
    }
}

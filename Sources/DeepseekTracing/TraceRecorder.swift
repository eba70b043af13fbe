/// Where trace events go.
///
/// Hot paths check `isEnabled` before building an event, so with tracing off the cost is one
/// branch and no clock read:
///
/// ```swift
/// if recorder.isEnabled {
///     recorder.record(TraceEvent(timestamp: clock.now(), track: track, category: .kernel,
///                                name: "matmul", kind: .instant))
/// }
/// ```
///
/// `Tracer` wraps this pattern together with a clock and a track. Implementations must be safe to
/// call from many threads at once.
public protocol TraceRecorder: Sendable {
    /// Whether `record(_:)` keeps events; when `false`, callers skip building them. A recorder's
    /// answer must not change: `Tracer` reads it once.
    var isEnabled: Bool { get }
    /// Keeps `event` (or counts it as dropped); never blocks for long and never throws.
    ///
    /// The event is taken as `consuming` so a recorder can move it into its storage instead of
    /// copying it (which would retain and later release every string in it).
    func record(_ event: consuming TraceEvent)
}

/// A recorder that keeps nothing: tracing switched off.
public struct NoOpRecorder: TraceRecorder {
    /// Creates the no-op recorder.
    @inlinable public init() {}

    /// Always `false`, so instrumented code skips building events.
    @inlinable public var isEnabled: Bool { false }

    /// Discards the event.
    @inlinable public func record(_ event: consuming TraceEvent) {}
}

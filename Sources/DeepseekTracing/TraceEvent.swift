public import DeepseekCore

/// One thing that happened, as recorded on a timeline: when, where (the track), what kind, and a
/// few typed arguments.
///
/// Events are small plain values (about 120 bytes) so a recorder moves them into a preallocated
/// slot; only an event with arguments allocates, once, for its arguments. The fields are
/// deliberately fixed (no `[String: Any]`) so recording stays cheap and the event can later be
/// serialised without reflection.
///
/// ```swift
/// let event = TraceEvent(
///     timestamp: clock.now(), track: .main, category: .kernel, name: "matmul",
///     kind: .kernel(TraceKernel(duration: 1_200, flops: 2 * 64 * 64 * 64, bytes: 49_152)),
///     arguments: ["m": 64, "backend": "cpu"])
/// ```
public struct TraceEvent: Sendable, Hashable {
    /// When the event happened (for spans with a duration: when it started).
    public var timestamp: Instant
    /// The timeline row the event belongs to.
    public var track: TraceTrack
    /// A coarse grouping used to filter timelines (kernel, transport, scheduler, …).
    public var category: TraceCategory
    /// What happened, e.g. the operator or message name.
    public var name: String
    /// The kind of event and its kind-specific fields.
    public var kind: TraceEventKind
    /// Up to four typed key/value pairs.
    public var arguments: TraceArguments

    /// Creates an event.
    @inlinable
    public init(
        timestamp: Instant, track: TraceTrack, category: TraceCategory, name: String,
        kind: TraceEventKind, arguments: TraceArguments = TraceArguments()
    ) {
        self.timestamp = timestamp
        self.track = track
        self.category = category
        self.name = name
        self.kind = kind
        self.arguments = arguments
    }

    /// The event's duration in nanoseconds, for kinds that carry one; `nil` otherwise.
    public var duration: UInt64? {
        switch kind {
        case .complete(let duration): duration
        case .kernel(let kernel): kernel.duration
        case .transfer(let transfer): transfer.duration
        case .storage(let access): access.duration
        case .spanBegin, .spanEnd, .instant, .counter, .flow: nil
        }
    }

    /// When the event ended: `timestamp + duration`, or `timestamp` for kinds without a duration.
    public var end: Instant {
        Instant(nanoseconds: timestamp.nanoseconds &+ (duration ?? 0))
    }
}

/// The kind of a trace event with the fields only that kind has.
public enum TraceEventKind: Sendable, Hashable {
    /// The start of a span; a later `spanEnd` with the same name on the same track closes it.
    case spanBegin
    /// The end of the innermost open span on the same track.
    case spanEnd
    /// A span recorded once it finished, with its duration in nanoseconds.
    case complete(duration: UInt64)
    /// A point in time with no duration.
    case instant
    /// A sampled value of a named counter (queue length, bytes in flight, …).
    case counter(value: Double)
    /// One step of a message's journey; steps with the same `FlowID` are linked into one arrow.
    case flow(FlowID, FlowStep)
    /// A kernel ran on a device.
    case kernel(TraceKernel)
    /// Bytes moved between two nodes.
    case transfer(TraceTransfer)
    /// A storage tier read or wrote a tensor.
    case storage(TraceStorageAccess)
}

/// The step of a message flow an event marks.
///
/// A message is sent, received by the peer's transport, then handled by the receiving actor;
/// trace exporters draw one arrow from each step to the next with the same `FlowID`.
public enum FlowStep: UInt8, Sendable, Hashable, CaseIterable {
    /// The sender handed the message to its transport.
    case send
    /// The receiving transport delivered the message.
    case receive
    /// The receiving actor started handling the message.
    case handlerBegin
    /// The receiving actor finished handling the message.
    case handlerEnd
}

/// A kernel execution: how long it ran and how much work and memory traffic it did.
public struct TraceKernel: Sendable, Hashable {
    /// Nanoseconds the kernel ran.
    public var duration: UInt64
    /// Floating-point operations the kernel performed (0 when unknown).
    public var flops: Int64
    /// Bytes the kernel read and wrote (0 when unknown).
    public var bytes: Int64

    /// Creates a kernel record.
    @inlinable
    public init(duration: UInt64, flops: Int64 = 0, bytes: Int64 = 0) {
        self.duration = duration
        self.flops = flops
        self.bytes = bytes
    }
}

/// A transfer of bytes from one node to another.
public struct TraceTransfer: Sendable, Hashable {
    /// Nanoseconds the transfer took.
    public var duration: UInt64
    /// Bytes moved.
    public var bytes: Int64
    /// The sending node.
    public var source: UInt32
    /// The receiving node.
    public var destination: UInt32
    /// The message flow the transfer belongs to, if any.
    public var flow: FlowID?

    /// Creates a transfer record.
    @inlinable
    public init(duration: UInt64, bytes: Int64, source: UInt32, destination: UInt32, flow: FlowID? = nil) {
        self.duration = duration
        self.bytes = bytes
        self.source = source
        self.destination = destination
        self.flow = flow
    }
}

/// A read or write by a storage tier.
public struct TraceStorageAccess: Sendable, Hashable {
    /// Whether data was read or written.
    public enum Direction: UInt8, Sendable, Hashable {
        case read, write
    }

    /// Whether data was read or written.
    public var direction: Direction
    /// Nanoseconds the access took.
    public var duration: UInt64
    /// Bytes read or written.
    public var bytes: Int64

    /// Creates a storage access record.
    @inlinable
    public init(_ direction: Direction, duration: UInt64, bytes: Int64) {
        self.direction = direction
        self.duration = duration
        self.bytes = bytes
    }
}

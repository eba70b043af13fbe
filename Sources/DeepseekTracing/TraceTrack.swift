/// A row of the timeline: one actor or thread on one node.
///
/// Exporters group tracks by node (a process row in Perfetto) and show the human name; the
/// `thread` number only needs to be unique within its node.
public struct TraceTrack: Sendable, Hashable, CustomStringConvertible {
    /// The node (process) the track belongs to.
    public var node: UInt32
    /// The actor or thread within the node.
    public var thread: UInt64
    /// The name people see, e.g. `"device/cpu0"` or `"op/matmul#12"`.
    public var name: String

    /// Creates a track.
    @inlinable
    public init(node: UInt32, thread: UInt64, name: String) {
        self.node = node
        self.thread = thread
        self.name = name
    }

    /// Track 0 of node 0, for single-process programs that do not name their tracks.
    public static let main = TraceTrack(node: 0, thread: 0, name: "main")

    public var description: String { "\(name) (node \(node), thread \(thread))" }
}

/// A coarse grouping of events, used to filter a timeline.
///
/// An open set: the static members are the categories Deepseek itself records; any string works.
/// The members are computed from short literals (stored inline, no reference counting), so
/// passing one to a disabled tracer costs nothing.
public struct TraceCategory: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The category's name as it appears in exported traces.
    public var name: String

    /// Creates a category with the given name.
    @inlinable
    public init(_ name: String) { self.name = name }

    @inlinable
    public init(stringLiteral value: String) { self.name = value }

    public var description: String { name }

    /// Runtime bookkeeping: placement, executor directives.
    @inlinable public static var runtime: TraceCategory { TraceCategory("runtime") }
    /// The graph scheduler's decisions.
    @inlinable public static var scheduler: TraceCategory { TraceCategory("scheduler") }
    /// Kernel executions on devices.
    @inlinable public static var kernel: TraceCategory { TraceCategory("kernel") }
    /// Messages and transfers between actors and nodes.
    @inlinable public static var transport: TraceCategory { TraceCategory("transport") }
    /// Storage tier reads, writes, prefetches and evictions.
    @inlinable public static var storage: TraceCategory { TraceCategory("storage") }
    /// Training steps, optimizer updates and collectives.
    @inlinable public static var training: TraceCategory { TraceCategory("training") }
    /// Events of the simulated cluster itself (faults, virtual-time jumps).
    @inlinable public static var simulation: TraceCategory { TraceCategory("simulation") }
    /// Events recorded by user code.
    @inlinable public static var user: TraceCategory { TraceCategory("user") }
}

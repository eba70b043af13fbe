public import DeepseekCore

/// An error from preparing a scheduling problem: a graph that cannot be scheduled on the devices
/// given. Every check runs before the first directive is issued, so a bad problem never half-runs.
///
/// The message names the node, op, value or device involved and what to change, e.g.
/// `n3 "gelu1" (gelu) cannot run on any device: the cost table has no entry for it on device
/// kinds cpu, opencl; add an estimate for one of these kinds or remove its pin`.
public struct SchedulingError: DeepseekError {
    /// The kind of scheduling failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The nodes form a cycle, so no order runs every node after its inputs.
        public static let cycle = Code("cycle")
        /// No device both supports the node's op and satisfies its pins.
        public static let unsupportedOp = Code("unsupportedOp")
        /// The device a node is pinned to lacks the node's op or contradicts its other pins.
        public static let pinnedDeviceLacksOp = Code("pinnedDeviceLacksOp")
        /// A node names a value index outside the problem's values.
        public static let unknownValue = Code("unknownValue")
        /// A node is pinned to a device index outside the device table.
        public static let unknownDevice = Code("unknownDevice")
        /// A value's producer disagrees with the nodes' outputs, or a value is written twice.
        public static let inconsistentProducer = Code("inconsistentProducer")
        /// A cost, byte count, transfer price or process rank is negative or not finite.
        public static let invalidArgument = Code("invalidArgument")
        /// The problem has nodes but no devices.
        public static let noDevices = Code("noDevices")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation

    public init(
        _ code: Code, _ message: String, cause: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }
}

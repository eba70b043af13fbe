public import DeepseekCore

/// An error from the runtime: placement, devices, operator actors or cross-node execution.
public struct RuntimeError: DeepseekError {
    /// The kind of runtime failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// No device can run a node, or a pin names a device that cannot.
        public static let placement = Code("placement")
        /// A kernel failed on a device.
        public static let kernel = Code("kernel")
        /// A device is not available on this machine.
        public static let unavailable = Code("unavailable")
        /// A remote node or actor could not be reached.
        public static let remote = Code("remote")
        /// The run was cancelled or timed out.
        public static let cancelled = Code("cancelled")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }
}

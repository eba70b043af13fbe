public import DeepseekTensor

/// The identity of an operator node in a `Graph`: its position in topological order.
///
/// Printed `n12`. Node IDs are dense, so engine tables are arrays indexed by `rawValue`.
public struct GraphNodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "n\(rawValue)" }
}

/// The identity of a tensor value (an edge) in a `Graph`, printed `%4`.
public struct ValueID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "%\(rawValue)" }
}

/// The static type of a graph value: its shape and element type.
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
    public var shape: Shape
    public var dtype: DType

    public init(_ shape: Shape, _ dtype: DType = .float32) {
        self.shape = shape
        self.dtype = dtype
    }

    /// Bytes a contiguous tensor of this type occupies.
    public var byteCount: Int { shape.elementCount * dtype.byteSize }

    public var description: String { "\(dtype)\(shape)" }
}

/// A kind of compute device, such as the OpenBLAS CPU backend or an OpenCL device.
///
/// Kinds are open-ended strings so a new backend needs no change here; `cpu` and `opencl` are
/// the kinds this project ships.
public struct DeviceKind: Hashable, Comparable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let name: String
    public init(_ name: String) { self.name = name }
    public init(stringLiteral value: String) { self.name = value }
    public static func < (a: Self, b: Self) -> Bool { a.name < b.name }
    public var description: String { name }

    public static let cpu = DeviceKind("cpu")
    public static let opencl = DeviceKind("opencl")
}

/// Where an author asked a node to run. Unset fields leave the choice to placement.
public struct DevicePin: Hashable, Sendable, CustomStringConvertible {
    /// Run only on devices of this kind.
    public var kind: DeviceKind?
    /// Run on this device of the device table (an index, see the runtime's device list).
    public var device: Int?
    /// Run in this process (cluster node rank).
    public var process: Int?

    public init(kind: DeviceKind? = nil, device: Int? = nil, process: Int? = nil) {
        self.kind = kind
        self.device = device
        self.process = process
    }

    /// No constraint.
    public static let any = DevicePin()

    public var isEmpty: Bool { kind == nil && device == nil && process == nil }

    public var description: String {
        var parts: [String] = []
        if let kind { parts.append("kind: \(kind)") }
        if let device { parts.append("device: \(device)") }
        if let process { parts.append("process: \(process)") }
        return parts.isEmpty ? "any" : parts.joined(separator: ", ")
    }
}

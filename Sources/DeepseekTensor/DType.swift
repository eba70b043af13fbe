/// The element type of a tensor.
///
/// Half-precision types (`float16`, `bfloat16`) store two bytes per element; every kernel computes
/// with them in `float32` and rounds once on store. `bool` stores one byte (0 or 1).
public enum DType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case float32 = 1
    case float16 = 2
    case bfloat16 = 3
    case float64 = 4
    case int8 = 5
    case int32 = 6
    case int64 = 7
    case bool = 8

    /// Bytes one element occupies in storage.
    @inlinable
    public var byteSize: Int {
        switch self {
        case .float64, .int64: 8
        case .float32, .int32: 4
        case .float16, .bfloat16: 2
        case .int8, .bool: 1
        }
    }

    /// Whether the type is a floating-point type (the only ones that take gradients).
    @inlinable
    public var isFloatingPoint: Bool {
        switch self {
        case .float32, .float16, .bfloat16, .float64: true
        default: false
        }
    }

    /// Whether the type is a signed integer type.
    @inlinable
    public var isInteger: Bool {
        switch self {
        case .int8, .int32, .int64: true
        default: false
        }
    }

    /// The name used in messages and in `docs/naming.md` (`float32`, `bfloat16`, …).
    public var description: String {
        switch self {
        case .float32: "float32"
        case .float16: "float16"
        case .bfloat16: "bfloat16"
        case .float64: "float64"
        case .int8: "int8"
        case .int32: "int32"
        case .int64: "int64"
        case .bool: "bool"
        }
    }

    /// The type an operation on `self` and `other` computes in (NumPy-style promotion, restricted
    /// to Deepseek's types: floats win over integers, wider wins over narrower, and
    /// `float16` with `bfloat16` gives `float32`).
    public func promoted(with other: DType) -> DType {
        if self == other { return self }
        func rank(_ t: DType) -> Int {
            switch t {
            case .bool: 0
            case .int8: 1
            case .int32: 2
            case .int64: 3
            case .float16, .bfloat16: 4
            case .float32: 5
            case .float64: 6
            }
        }
        if (self == .float16 && other == .bfloat16) || (self == .bfloat16 && other == .float16) {
            return .float32
        }
        return rank(self) >= rank(other) ? self : other
    }
}

/// The bfloat16 format: the upper 16 bits of an IEEE float32 (8 exponent bits, 7 mantissa bits).
///
/// Conversion from `Float` rounds to nearest, ties to even, and keeps NaN a NaN.
public struct BFloat16: Sendable, Hashable, CustomStringConvertible {
    /// The raw 16 bits.
    public var bitPattern: UInt16

    @inlinable
    public init(bitPattern: UInt16) { self.bitPattern = bitPattern }

    @inlinable
    public init(_ value: Float) {
        let bits = value.bitPattern
        if value.isNaN {
            bitPattern = UInt16(truncatingIfNeeded: bits >> 16) | 0x0040
        } else {
            let rounding = UInt32(0x7FFF) + ((bits >> 16) & 1)
            bitPattern = UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
        }
    }

    /// The exact `Float` value of this number.
    @inlinable
    public var floatValue: Float { Float(bitPattern: UInt32(bitPattern) << 16) }

    public var description: String { floatValue.description }
}

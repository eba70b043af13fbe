/// A Swift type that can be the element type of a tensor's storage.
///
/// Conformances exist for `Float`, `Float16`, `BFloat16`, `Double`, `Int8`, `Int32`, `Int64` and
/// `Bool`; each maps to one `DType`. Conversion through `Double` is exact for every type except
/// `Int64` values beyond 2^53, which integer kernels handle without it.
public protocol TensorElement: Sendable {
    /// The dtype whose storage holds values of this type.
    static var dtype: DType { get }
    /// Converts from `Double`, rounding to nearest and saturating integers.
    init(tensorValue: Double)
    /// The value as a `Double`.
    var tensorValue: Double { get }
}

extension Float: TensorElement {
    public static var dtype: DType { .float32 }
    @inlinable public init(tensorValue: Double) { self = Float(tensorValue) }
    @inlinable public var tensorValue: Double { Double(self) }
}

extension Double: TensorElement {
    public static var dtype: DType { .float64 }
    @inlinable public init(tensorValue: Double) { self = tensorValue }
    @inlinable public var tensorValue: Double { self }
}

#if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
extension Float16: TensorElement {
    public static var dtype: DType { .float16 }
    @inlinable public init(tensorValue: Double) { self = Float16(Float(tensorValue)) }
    @inlinable public var tensorValue: Double { Double(Float(self)) }
}
#endif

extension BFloat16: TensorElement {
    public static var dtype: DType { .bfloat16 }
    @inlinable public init(tensorValue: Double) { self = BFloat16(Float(tensorValue)) }
    @inlinable public var tensorValue: Double { Double(floatValue) }
}

@inlinable
func saturatingInteger<T: FixedWidthInteger>(_ value: Double, as: T.Type) -> T {
    if value.isNaN { return 0 }
    if value >= Double(T.max) { return T.max }
    if value <= Double(T.min) { return T.min }
    return T(value.rounded(.towardZero))
}

extension Int8: TensorElement {
    public static var dtype: DType { .int8 }
    @inlinable public init(tensorValue: Double) { self = saturatingInteger(tensorValue, as: Int8.self) }
    @inlinable public var tensorValue: Double { Double(self) }
}

extension Int32: TensorElement {
    public static var dtype: DType { .int32 }
    @inlinable public init(tensorValue: Double) { self = saturatingInteger(tensorValue, as: Int32.self) }
    @inlinable public var tensorValue: Double { Double(self) }
}

extension Int64: TensorElement {
    public static var dtype: DType { .int64 }
    @inlinable public init(tensorValue: Double) { self = saturatingInteger(tensorValue, as: Int64.self) }
    @inlinable public var tensorValue: Double { Double(self) }
}

extension Bool: TensorElement {
    public static var dtype: DType { .bool }
    @inlinable public init(tensorValue: Double) { self = tensorValue != 0 }
    @inlinable public var tensorValue: Double { self ? 1 : 0 }
}

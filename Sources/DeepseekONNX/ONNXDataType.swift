public import DeepseekTensor

/// An ONNX element type (`TensorProto.DataType`), with its mapping to Deepseek's `DType`.
///
/// ONNX defines more element types than Deepseek implements (unsigned integers, `int16`,
/// strings, complex numbers, 8-bit floats); those have no `dtype` and make a conformance case
/// skip with a reason such as `dtype uint8 unsupported`.
public struct ONNXDataType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    public static let undefined = ONNXDataType(rawValue: 0)
    public static let float = ONNXDataType(rawValue: 1)
    public static let uint8 = ONNXDataType(rawValue: 2)
    public static let int8 = ONNXDataType(rawValue: 3)
    public static let uint16 = ONNXDataType(rawValue: 4)
    public static let int16 = ONNXDataType(rawValue: 5)
    public static let int32 = ONNXDataType(rawValue: 6)
    public static let int64 = ONNXDataType(rawValue: 7)
    public static let string = ONNXDataType(rawValue: 8)
    public static let bool = ONNXDataType(rawValue: 9)
    public static let float16 = ONNXDataType(rawValue: 10)
    public static let double = ONNXDataType(rawValue: 11)
    public static let uint32 = ONNXDataType(rawValue: 12)
    public static let uint64 = ONNXDataType(rawValue: 13)
    public static let complex64 = ONNXDataType(rawValue: 14)
    public static let complex128 = ONNXDataType(rawValue: 15)
    public static let bfloat16 = ONNXDataType(rawValue: 16)

    /// The lower-case name ONNX's documentation uses (`float`, `uint8`, `bfloat16`, …).
    public var description: String {
        switch rawValue {
        case 0: "undefined"
        case 1: "float"
        case 2: "uint8"
        case 3: "int8"
        case 4: "uint16"
        case 5: "int16"
        case 6: "int32"
        case 7: "int64"
        case 8: "string"
        case 9: "bool"
        case 10: "float16"
        case 11: "double"
        case 12: "uint32"
        case 13: "uint64"
        case 14: "complex64"
        case 15: "complex128"
        case 16: "bfloat16"
        case 17: "float8e4m3fn"
        case 18: "float8e4m3fnuz"
        case 19: "float8e5m2"
        case 20: "float8e5m2fnuz"
        case 21: "uint4"
        case 22: "int4"
        default: "type \(rawValue)"
        }
    }

    /// The Deepseek dtype for this element type, or `nil` when Deepseek has none.
    public var dtype: DType? {
        switch self {
        case .float: .float32
        case .double: .float64
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .int8: .int8
        case .int32: .int32
        case .int64: .int64
        case .bool: .bool
        default: nil
        }
    }

    /// The ONNX element type of a Deepseek dtype.
    public init(_ dtype: DType) {
        switch dtype {
        case .float32: self = .float
        case .float64: self = .double
        case .float16: self = .float16
        case .bfloat16: self = .bfloat16
        case .int8: self = .int8
        case .int32: self = .int32
        case .int64: self = .int64
        case .bool: self = .bool
        }
    }

    /// The Deepseek dtype, or an `unsupported` error naming this type.
    func requireDType(_ context: String) throws(ONNXError) -> DType {
        guard let dtype else { throw ONNXError.unsupported("dtype \(self) unsupported (\(context))") }
        return dtype
    }
}

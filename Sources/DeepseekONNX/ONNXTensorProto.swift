public import DeepseekTensor

/// A decoded `TensorProto`: dims, element type and the data in whichever field carried it.
///
/// Conversion to a Deepseek `Tensor` (`tensor()`) checks that the data holds exactly as many
/// elements as the dims describe and that the element type exists in Deepseek.
public struct ONNXTensorProto: Sendable {
    /// The tensor's name (test vectors carry the graph input or output name here).
    public var name: String = ""
    /// The axis sizes as stored; validated when converting.
    public var dims: [Int64] = []
    /// The element type.
    public var dataType: ONNXDataType = .undefined
    /// The file this tensor came from and the offset of its message, for error messages.
    public var file: String
    public var byteOffset: Int

    var rawData: [UInt8]?
    var floatData: [UInt32] = []
    var int32Data: [UInt64] = []
    var int64Data: [UInt64] = []
    var doubleData: [UInt64] = []
    var uint64Data: [UInt64] = []
    var stringCount = 0
    var isExternal = false
    var hasSegment = false

    init(file: String, byteOffset: Int) {
        self.file = file
        self.byteOffset = byteOffset
    }

    /// Decodes a `TensorProto` file such as a test vector `input_0.pb`.
    ///
    /// - Throws: `ONNXError` (`io`, `malformed`) naming the file and the byte offset.
    public init(contentsOf path: String) throws(ONNXError) {
        try self.init(bytes: try readFile(path), file: path)
    }

    /// Decodes `TensorProto` wire format; `file` names the source in error messages.
    public init(bytes: [UInt8], file: String) throws(ONNXError) {
        var reader = ProtoReader(bytes: bytes, file: file)
        self = try ONNXTensorProto.decode(&reader)
    }

    static func decode(_ r: inout ProtoReader) throws(ONNXError) -> ONNXTensorProto {
        let m = "TensorProto"
        var t = ONNXTensorProto(file: r.file, byteOffset: r.offset)
        while let (field, wire) = try r.readKey() {
            switch field {
            case 1:
                var dims: [UInt64] = []
                try r.readRepeatedVarint(wire, field: field, in: m, into: &dims)
                t.dims += dims.map { Int64(bitPattern: $0) }
            case 2: t.dataType = ONNXDataType(rawValue: Int32(truncatingIfNeeded: try r.readInt64(wire, field: field, in: m)))
            case 3:
                t.hasSegment = true
                try r.skip(wire, field: field)
            case 4: try r.readRepeatedFixed32(wire, field: field, in: m, into: &t.floatData)
            case 5: try r.readRepeatedVarint(wire, field: field, in: m, into: &t.int32Data)
            case 6:
                t.stringCount += 1
                try r.skip(wire, field: field)
            case 7: try r.readRepeatedVarint(wire, field: field, in: m, into: &t.int64Data)
            case 8: t.name = try r.readString(wire, field: field, in: m)
            case 9:
                try r.expect(wire, .lengthDelimited, field: field, in: m, at: r.offset)
                t.rawData = try r.readBytes()
            case 10: try r.readRepeatedFixed64(wire, field: field, in: m, into: &t.doubleData)
            case 11: try r.readRepeatedVarint(wire, field: field, in: m, into: &t.uint64Data)
            case 14: t.isExternal = try r.readInt64(wire, field: field, in: m) == 1
            default: try r.skip(wire, field: field)
            }
        }
        return t
    }

    private func failure(_ message: String) -> ONNXError {
        ONNXError(.invalidModel, "tensor '\(name)': \(message)", file: file, byteOffset: byteOffset)
    }

    /// The validated shape.
    public func shape() throws(ONNXError) -> Shape {
        var count = 1
        for d in dims {
            guard d >= 0, d <= Int64(Int.max) else { throw failure("dims \(dims) has a negative or oversized axis") }
            let (p, overflow) = count.multipliedReportingOverflow(by: Int(d))
            guard !overflow else { throw failure("dims \(dims) describe more elements than fit in memory") }
            count = p
        }
        return Shape(dims.map { Int($0) })
    }

    /// The tensor as a Deepseek `Tensor` of the matching dtype.
    ///
    /// - Throws: `ONNXError.unsupported` for an element type Deepseek lacks, external data or
    ///   segments; `ONNXError.invalidModel` when the data does not fill the dims.
    public func tensor() throws(ONNXError) -> Tensor {
        if dataType == .undefined { throw failure("data_type is missing or UNDEFINED") }
        guard let dtype = dataType.dtype else {
            // The reason stays short (no path) so skipped cases group by it; `file` still names the source.
            var error = ONNXError(.unsupported, "dtype \(dataType) unsupported (tensor '\(name)')")
            error.file = file
            throw error
        }
        if isExternal { throw ONNXError(.unsupported, "tensor '\(name)' keeps its data in an external file", file: file) }
        if hasSegment { throw ONNXError(.unsupported, "tensor '\(name)' is a segment of a larger tensor", file: file) }
        let shape = try self.shape()
        let count = shape.elementCount
        // Check the data against the dims before allocating, so a corrupt dims field cannot
        // make us reserve memory the file never fills.
        func check(_ field: String, _ n: Int) throws(ONNXError) {
            guard n == count else { throw failure("dims \(shape) hold \(count) elements but \(field) has \(n) values") }
        }
        if let raw = rawData {
            let (need, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
            guard !overflow, raw.count == need else {
                throw failure("dims \(shape) of \(dataType) need \(count) × \(dtype.byteSize) bytes of raw_data but it holds \(raw.count)")
            }
        } else {
            switch dtype {
            case .float32: try check("float_data", floatData.count)
            case .float64: try check("double_data", doubleData.count)
            case .int64: try check("int64_data", int64Data.count)
            default: try check("int32_data", int32Data.count)
            }
        }
        let out: Tensor
        do { out = try Tensor.empty(shape, dtype: dtype, op: "ONNX tensor '\(name)'") } catch {
            throw ONNXError(.invalidModel, "tensor '\(name)' of shape \(shape) cannot be allocated", file: file, cause: error)
        }
        guard let base = out.storage.baseAddress else { return out }
        if let raw = rawData {
            raw.withUnsafeBytes { src in
                if let s = src.baseAddress { base.copyMemory(from: s, byteCount: raw.count) }
            }
            if dtype == .bool {
                for i in 0..<count where base.load(fromByteOffset: i, as: UInt8.self) > 1 {
                    base.storeBytes(of: 1, toByteOffset: i, as: UInt8.self)
                }
            }
            return out
        }
        switch dtype {
        case .float32:
            for (i, v) in floatData.enumerated() { base.storeBytes(of: v, toByteOffset: i * 4, as: UInt32.self) }
        case .float64:
            for (i, v) in doubleData.enumerated() { base.storeBytes(of: v, toByteOffset: i * 8, as: UInt64.self) }
        case .int64:
            for (i, v) in int64Data.enumerated() { base.storeBytes(of: v, toByteOffset: i * 8, as: UInt64.self) }
        case .int32:
            for (i, v) in int32Data.enumerated() { base.storeBytes(of: UInt32(truncatingIfNeeded: v), toByteOffset: i * 4, as: UInt32.self) }
        case .float16, .bfloat16:
            // Half-precision values travel as their 16-bit patterns in int32_data.
            for (i, v) in int32Data.enumerated() { base.storeBytes(of: UInt16(truncatingIfNeeded: v), toByteOffset: i * 2, as: UInt16.self) }
        case .int8:
            for (i, v) in int32Data.enumerated() { base.storeBytes(of: UInt8(truncatingIfNeeded: v), toByteOffset: i, as: UInt8.self) }
        case .bool:
            for (i, v) in int32Data.enumerated() { base.storeBytes(of: v != 0 ? 1 : 0, toByteOffset: i, as: UInt8.self) }
        }
        return out
    }
}

public import DeepseekTensor

/// An array stored in the IDX format, the container of the MNIST family of data sets.
///
/// An IDX file is a 4-byte magic number — two zero bytes, an element-type byte and the number of
/// dimensions — then each dimension as a big-endian 32-bit count, then the elements in row-major
/// order, big-endian. Parsing checks every part and throws an error naming the file when a part
/// is wrong; the payload is kept as raw bytes until `tensor()` converts it.
///
/// ```swift
/// let labels = try IDXFile.read(path: "/data/t10k-labels-idx1-ubyte.gz")
/// print(labels.elementType, labels.dimensions)   // uint8 [10000]
/// ```
public struct IDXFile: Sendable {
    /// The element types the IDX format defines, keyed by their type byte.
    public enum ElementType: UInt8, Sendable, CaseIterable, CustomStringConvertible {
        case uint8 = 0x08
        case int8 = 0x09
        case int16 = 0x0B
        case int32 = 0x0C
        case float32 = 0x0D
        case float64 = 0x0E

        /// Bytes per element.
        public var byteSize: Int {
            switch self {
            case .uint8, .int8: 1
            case .int16: 2
            case .int32, .float32: 4
            case .float64: 8
            }
        }

        /// The tensor dtype that holds every value of this type exactly (`uint8` and `int16` widen
        /// to `int32`, since tensors have no unsigned byte or 16-bit integer type).
        public var dtype: DType {
            switch self {
            case .uint8, .int16, .int32: .int32
            case .int8: .int8
            case .float32: .float32
            case .float64: .float64
            }
        }

        public var description: String {
            switch self {
            case .uint8: "uint8"
            case .int8: "int8"
            case .int16: "int16"
            case .int32: "int32"
            case .float32: "float32"
            case .float64: "float64"
            }
        }
    }

    /// The type of every element.
    public var elementType: ElementType
    /// The extent of each dimension, outermost first.
    public var dimensions: [Int]
    /// The elements in row-major order, as stored in the file (big-endian).
    public var payload: [UInt8]

    /// The number of elements (the product of the dimensions).
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// Parses an IDX file held in memory.
    ///
    /// - Parameters:
    ///   - bytes: the whole uncompressed file.
    ///   - file: where the bytes came from, named in error messages.
    /// - Throws: `DatasetError.malformed` for a bad magic number, an unknown element type, a header
    ///   or payload that ends early, or a payload longer than the dimensions say.
    public init(parsing bytes: [UInt8], file: String = "<memory>") throws(DatasetError) {
        guard bytes.count >= 4 else {
            throw DatasetError(
                .malformed, "the file has \(bytes.count) bytes, fewer than the 4-byte IDX magic number; it is truncated or not an IDX file",
                file: file)
        }
        guard bytes[0] == 0, bytes[1] == 0 else {
            let shown = bytes.prefix(4).map { hex($0) }.joined(separator: " ")
            let hint = Gzip.isCompressed(bytes) ? " (it looks gzip-compressed: decompress it first, or read it with IDXFile.read(path:))" : ""
            throw DatasetError(
                .malformed, "bad magic number \(shown): an IDX file starts with two zero bytes\(hint); check that this is an IDX file",
                file: file)
        }
        guard let type = ElementType(rawValue: bytes[2]) else {
            let known = ElementType.allCases.map { "\(hex($0.rawValue)) (\($0))" }.joined(separator: ", ")
            throw DatasetError(
                .malformed, "unknown element type byte \(hex(bytes[2])); IDX defines \(known); the file is corrupt or not an IDX file",
                file: file)
        }
        let rank = Int(bytes[3])
        let headerCount = 4 + 4 * rank
        guard bytes.count >= headerCount else {
            throw DatasetError(
                .malformed, "the header declares \(rank) dimensions (\(headerCount) header bytes) but the file has only \(bytes.count) bytes; it is truncated — download or reinstall it",
                file: file)
        }
        var dims: [Int] = []
        dims.reserveCapacity(rank)
        var count = 1
        var overflow = false
        for axis in 0..<rank {
            let at = 4 + 4 * axis
            let dim = Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
            dims.append(dim)
            let (product, o) = count.multipliedReportingOverflow(by: dim)
            count = product
            overflow = overflow || o
        }
        let (payloadCount, o) = count.multipliedReportingOverflow(by: type.byteSize)
        let available = bytes.count - headerCount
        let described =
            dims.isEmpty ? "one \(type) element" : "\(dims.map(String.init).joined(separator: " × ")) \(type) elements"
        guard !overflow && !o && payloadCount <= available else {
            let needs = overflow || o ? "more bytes than memory can hold" : "\(payloadCount) bytes"
            throw DatasetError(
                .malformed, "the header declares \(described) (\(needs)) but only \(available) bytes follow it; the file is truncated or corrupt — download or reinstall it",
                file: file)
        }
        guard payloadCount == available else {
            throw DatasetError(
                .malformed, "the header declares \(described) (\(payloadCount) bytes) but \(available) bytes follow it, \(available - payloadCount) too many; the dimensions do not match the data",
                file: file)
        }
        self.elementType = type
        self.dimensions = dims
        self.payload = Array(bytes[headerCount...])
    }

    /// Creates an IDX array from its parts; `payload` holds big-endian elements.
    ///
    /// - Throws: `DatasetError.malformed` when the payload size does not match the dimensions.
    public init(elementType: ElementType, dimensions: [Int], payload: [UInt8]) throws(DatasetError) {
        var expected: Int? = elementType.byteSize
        for dim in dimensions {
            let product = expected.map { $0.multipliedReportingOverflow(by: dim) }
            expected = product.flatMap { $0.overflow ? nil : $0.partialValue }
        }
        let dimsFit = dimensions.count <= 255 && dimensions.allSatisfy { (0...Int(Int32.max)).contains($0) }
        guard dimsFit, expected == payload.count else {
            throw DatasetError(
                .malformed, "IDXFile: \(payload.count) payload bytes do not hold dimensions \(dimensions) of \(elementType) (\(elementType.byteSize) bytes each, at most 255 dimensions below 2^31)")
        }
        self.elementType = elementType
        self.dimensions = dimensions
        self.payload = payload
    }

    /// Reads and parses an IDX file, inflating it first when it is gzip- or zlib-compressed.
    ///
    /// - Throws: `DatasetError.io` when the file cannot be read, `.corrupt` when it does not
    ///   inflate, `.malformed` when its contents break the IDX format.
    public static func read(path: String) throws(DatasetError) -> IDXFile {
        var bytes = try readWholeFile(path)
        if Gzip.isCompressed(bytes) { bytes = try Gzip.decompress(bytes, file: path) }
        return try IDXFile(parsing: bytes, file: path)
    }

    /// The file as bytes: header and payload.
    public func serialized() -> [UInt8] {
        var bytes: [UInt8] = [0, 0, elementType.rawValue, UInt8(dimensions.count)]
        for dim in dimensions {
            bytes += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: dim >> $0) }
        }
        return bytes + payload
    }

    /// The elements as a tensor of shape `dimensions` and dtype `elementType.dtype`, converted from
    /// big-endian to native values.
    ///
    /// - Throws: `TensorError.outOfMemory` when the tensor does not fit in memory.
    public func tensor() throws(TensorError) -> Tensor {
        // Fresh storage is contiguous and owned by this tensor alone, so it is filled in place.
        let t = try Tensor.empty(Shape(dimensions), dtype: elementType.dtype, op: "IDXFile.tensor")
        let n = elementCount
        guard n > 0, let base = t.storage.baseAddress else { return t }
        payload.withUnsafeBytes { raw in
            let src = raw.bindMemory(to: UInt8.self)
            switch elementType {
            case .uint8:
                let out = base.bindMemory(to: Int32.self, capacity: n)
                for i in 0..<n { out[i] = Int32(src[i]) }
            case .int8:
                let out = base.bindMemory(to: Int8.self, capacity: n)
                for i in 0..<n { out[i] = Int8(bitPattern: src[i]) }
            case .int16:
                let out = base.bindMemory(to: Int32.self, capacity: n)
                for i in 0..<n { out[i] = Int32(Int16(bitPattern: UInt16(src[2 * i]) << 8 | UInt16(src[2 * i + 1]))) }
            case .int32:
                let out = base.bindMemory(to: Int32.self, capacity: n)
                for i in 0..<n { out[i] = Int32(bitPattern: bigEndianWord(src, i)) }
            case .float32:
                let out = base.bindMemory(to: Float.self, capacity: n)
                for i in 0..<n { out[i] = Float(bitPattern: bigEndianWord(src, i)) }
            case .float64:
                let out = base.bindMemory(to: Double.self, capacity: n)
                for i in 0..<n {
                    let high = UInt64(bigEndianWord(src, 2 * i))
                    out[i] = Double(bitPattern: high << 32 | UInt64(bigEndianWord(src, 2 * i + 1)))
                }
            }
        }
        return t
    }
}

@inline(__always)
private func bigEndianWord(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int) -> UInt32 {
    let at = 4 * index
    return UInt32(bytes[at]) << 24 | UInt32(bytes[at + 1]) << 16 | UInt32(bytes[at + 2]) << 8 | UInt32(bytes[at + 3])
}

private func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return "0x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
}

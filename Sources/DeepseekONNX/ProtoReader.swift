/// The wire type in the low three bits of a protocol-buffer field key.
enum WireType: UInt8, CustomStringConvertible {
    case varint = 0
    case fixed64 = 1
    case lengthDelimited = 2
    case startGroup = 3
    case endGroup = 4
    case fixed32 = 5

    var description: String {
        switch self {
        case .varint: "varint"
        case .fixed64: "64-bit"
        case .lengthDelimited: "length-delimited"
        case .startGroup: "start-group"
        case .endGroup: "end-group"
        case .fixed32: "32-bit"
        }
    }
}

/// A cursor over protocol-buffer wire format: varints, 64-bit and 32-bit little-endian values,
/// and length-delimited fields, including packed and unpacked repeated scalars.
///
/// The reader never traps on bad input. Every read checks the bytes that remain before it
/// touches them and reports a truncated or corrupt encoding as an `ONNXError.malformed` that
/// names the file and the absolute byte offset, so a nested message's errors still point into
/// the original file.
struct ProtoReader {
    /// The whole file; nested readers share it and keep absolute offsets.
    let bytes: [UInt8]
    /// The file name used in error messages.
    let file: String
    /// The offset of the next byte to read.
    private(set) var offset: Int
    /// One past the last byte of the message this reader covers.
    let end: Int

    init(bytes: [UInt8], file: String) {
        self.bytes = bytes
        self.file = file
        self.offset = 0
        self.end = bytes.count
    }

    private init(bytes: [UInt8], file: String, range: Range<Int>) {
        self.bytes = bytes
        self.file = file
        self.offset = range.lowerBound
        self.end = range.upperBound
    }

    /// Whether every byte of the message has been read.
    var isAtEnd: Bool { offset >= end }

    func error(_ message: String, at position: Int? = nil) -> ONNXError {
        ONNXError(.malformed, message, file: file, byteOffset: position ?? offset)
    }

    /// Reads a base-128 varint of at most ten bytes.
    mutating func readVarint() throws(ONNXError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < end else {
                throw error("varint runs past the end of the message; the file is truncated or corrupt", at: start)
            }
            let byte = bytes[offset]
            offset += 1
            // The tenth byte may carry only the top bit of a 64-bit value.
            if shift == 63 && byte > 1 {
                throw error("varint does not fit in 64 bits; the file is corrupt", at: start)
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// Reads the next field key, or returns `nil` at the end of the message.
    mutating func readKey() throws(ONNXError) -> (field: Int, wireType: WireType)? {
        if isAtEnd { return nil }
        let start = offset
        let key = try readVarint()
        guard let wireType = WireType(rawValue: UInt8(key & 7)) else {
            throw error("field key \(key) has wire type \(key & 7), which protocol buffers do not define; the file is corrupt", at: start)
        }
        let field = key >> 3
        guard field >= 1 && field <= 0x1FFF_FFFF else {
            throw error("field number \(field) is outside 1...536870911; the file is corrupt", at: start)
        }
        return (Int(field), wireType)
    }

    /// Reads a little-endian 32-bit value.
    mutating func readFixed32() throws(ONNXError) -> UInt32 {
        guard end - offset >= 4 else {
            throw error("32-bit value needs 4 bytes but \(end - offset) remain; the file is truncated or corrupt")
        }
        var v: UInt32 = 0
        for i in 0..<4 { v |= UInt32(bytes[offset + i]) << (8 * UInt32(i)) }
        offset += 4
        return v
    }

    /// Reads a little-endian 64-bit value.
    mutating func readFixed64() throws(ONNXError) -> UInt64 {
        guard end - offset >= 8 else {
            throw error("64-bit value needs 8 bytes but \(end - offset) remain; the file is truncated or corrupt")
        }
        var v: UInt64 = 0
        for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        offset += 8
        return v
    }

    /// Reads a length prefix and returns the absolute range of the payload, advancing past it.
    mutating func readLengthDelimited() throws(ONNXError) -> Range<Int> {
        let start = offset
        let length = try readVarint()
        let remaining = end - offset
        guard length <= UInt64(remaining) else {
            throw error(
                "length-delimited field claims \(length) bytes but only \(remaining) remain; the file is truncated or corrupt",
                at: start)
        }
        let range = offset..<(offset + Int(length))
        offset = range.upperBound
        return range
    }

    /// A reader over a nested message occupying `range` of the same file.
    func nested(_ range: Range<Int>) -> ProtoReader {
        ProtoReader(bytes: bytes, file: file, range: range)
    }

    /// Reads a length-delimited field and returns a reader over its payload.
    mutating func readMessage() throws(ONNXError) -> ProtoReader {
        nested(try readLengthDelimited())
    }

    /// Reads a length-delimited field as bytes.
    mutating func readBytes() throws(ONNXError) -> [UInt8] {
        Array(bytes[try readLengthDelimited()])
    }

    /// Reads a length-delimited field as a UTF-8 string (invalid sequences become U+FFFD).
    mutating func readString() throws(ONNXError) -> String {
        String(decoding: bytes[try readLengthDelimited()], as: UTF8.self)
    }

    /// Skips a field of the given wire type.
    mutating func skip(_ wireType: WireType, field: Int) throws(ONNXError) {
        switch wireType {
        case .varint: _ = try readVarint()
        case .fixed64: _ = try readFixed64()
        case .fixed32: _ = try readFixed32()
        case .lengthDelimited: _ = try readLengthDelimited()
        case .startGroup, .endGroup:
            throw error("field \(field) uses the \(wireType) wire type, which ONNX files never contain; the file is corrupt")
        }
    }

    /// Checks that a field has the wire type its schema declares.
    func expect(_ actual: WireType, _ expected: WireType, field: Int, in message: String, at start: Int) throws(ONNXError) {
        guard actual == expected else {
            throw error("\(message) field \(field) has wire type \(actual) but must be \(expected); the file is corrupt", at: start)
        }
    }

    // MARK: Scalars and repeated scalars

    /// Reads a varint field as a signed 64-bit integer (two's complement, as `int64` encodes it).
    mutating func readInt64(_ wireType: WireType, field: Int, in message: String) throws(ONNXError) -> Int64 {
        try expect(wireType, .varint, field: field, in: message, at: offset)
        return Int64(bitPattern: try readVarint())
    }

    /// Reads a 32-bit float field.
    mutating func readFloat(_ wireType: WireType, field: Int, in message: String) throws(ONNXError) -> Float {
        try expect(wireType, .fixed32, field: field, in: message, at: offset)
        return Float(bitPattern: try readFixed32())
    }

    /// Reads a string field.
    mutating func readString(_ wireType: WireType, field: Int, in message: String) throws(ONNXError) -> String {
        try expect(wireType, .lengthDelimited, field: field, in: message, at: offset)
        return try readString()
    }

    /// Reads a nested message field.
    mutating func readMessage(_ wireType: WireType, field: Int, in message: String) throws(ONNXError) -> ProtoReader {
        try expect(wireType, .lengthDelimited, field: field, in: message, at: offset)
        return try readMessage()
    }

    /// Appends one element, or a packed run of elements, of a repeated varint field.
    mutating func readRepeatedVarint(_ wireType: WireType, field: Int, in message: String, into out: inout [UInt64]) throws(ONNXError) {
        switch wireType {
        case .varint:
            out.append(try readVarint())
        case .lengthDelimited:
            var packed = try readMessage()
            while !packed.isAtEnd { out.append(try packed.readVarint()) }
        default:
            try expect(wireType, .varint, field: field, in: message, at: offset)
        }
    }

    /// Appends one element, or a packed run, of a repeated 32-bit field.
    mutating func readRepeatedFixed32(_ wireType: WireType, field: Int, in message: String, into out: inout [UInt32]) throws(ONNXError) {
        switch wireType {
        case .fixed32:
            out.append(try readFixed32())
        case .lengthDelimited:
            let start = offset
            var packed = try readMessage()
            guard (packed.end - packed.offset) % 4 == 0 else {
                throw error("packed 32-bit field \(field) of \(message) is \(packed.end - packed.offset) bytes, not a multiple of 4", at: start)
            }
            out.reserveCapacity(out.count + (packed.end - packed.offset) / 4)
            while !packed.isAtEnd { out.append(try packed.readFixed32()) }
        default:
            try expect(wireType, .fixed32, field: field, in: message, at: offset)
        }
    }

    /// Appends one element, or a packed run, of a repeated 64-bit field.
    mutating func readRepeatedFixed64(_ wireType: WireType, field: Int, in message: String, into out: inout [UInt64]) throws(ONNXError) {
        switch wireType {
        case .fixed64:
            out.append(try readFixed64())
        case .lengthDelimited:
            let start = offset
            var packed = try readMessage()
            guard (packed.end - packed.offset) % 8 == 0 else {
                throw error("packed 64-bit field \(field) of \(message) is \(packed.end - packed.offset) bytes, not a multiple of 8", at: start)
            }
            out.reserveCapacity(out.count + (packed.end - packed.offset) / 8)
            while !packed.isAtEnd { out.append(try packed.readFixed64()) }
        default:
            try expect(wireType, .fixed64, field: field, in: message, at: offset)
        }
    }
}

/// Protocol-buffer wire encoding, written by hand for the handful of Perfetto messages the
/// exporter emits: varints, fixed 64-bit values and length-delimited fields.
struct ProtoWriter {
    var bytes: [UInt8] = []

    enum WireType: UInt8 {
        case varint = 0, fixed64 = 1, lengthDelimited = 2, fixed32 = 5
    }

    @inline(__always)
    mutating func varint(_ value: UInt64) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    @inline(__always)
    mutating func tag(_ field: Int, _ type: WireType) {
        varint(UInt64(field) << 3 | UInt64(type.rawValue))
    }

    mutating func uint(_ field: Int, _ value: UInt64) {
        tag(field, .varint)
        varint(value)
    }

    /// An `int64`/`int32` field: negative values take ten bytes (two's complement), as protobuf does.
    mutating func int(_ field: Int, _ value: Int64) {
        tag(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    mutating func fixed64(_ field: Int, _ value: UInt64) {
        tag(field, .fixed64)
        for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift))) }
    }

    mutating func double(_ field: Int, _ value: Double) {
        fixed64(field, value.bitPattern)
    }

    mutating func string(_ field: Int, _ value: String) {
        tag(field, .lengthDelimited)
        varint(UInt64(value.utf8.count))
        bytes.append(contentsOf: value.utf8)
    }

    /// A nested message built by `body`.
    mutating func message(_ field: Int, _ body: (inout ProtoWriter) -> Void) {
        var nested = ProtoWriter()
        body(&nested)
        tag(field, .lengthDelimited)
        varint(UInt64(nested.bytes.count))
        bytes.append(contentsOf: nested.bytes)
    }
}

/// Reads protocol-buffer fields back, for the decoder that checks the Perfetto writer.
struct ProtoReader {
    enum Value {
        case varint(UInt64)
        case fixed64(UInt64)
        case bytes(ArraySlice<UInt8>)
        case fixed32(UInt32)

        var integer: UInt64 {
            switch self {
            case .varint(let value), .fixed64(let value): value
            case .fixed32(let value): UInt64(value)
            case .bytes: 0
            }
        }

        var data: ArraySlice<UInt8> { if case .bytes(let data) = self { data } else { [] } }
        var text: String { String(decoding: data, as: UTF8.self) }
    }

    let bytes: ArraySlice<UInt8>
    var position: Int

    init(_ bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        position = bytes.startIndex
    }

    var atEnd: Bool { position >= bytes.endIndex }

    private func failure(_ message: String) -> TraceExportError {
        // Slices share the indices of the whole input, so `position` is the file offset.
        TraceExportError(.malformedTrace, "protobuf trace: byte \(position): \(message)", byteOffset: position)
    }

    mutating func varint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard position < bytes.endIndex else { throw failure("truncated varint") }
            let byte = bytes[position]
            position += 1
            guard shift < 64 else { throw failure("varint longer than 10 bytes") }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// The next field number and value.
    mutating func next() throws -> (field: Int, value: Value) {
        let key = try varint()
        let field = Int(key >> 3)
        guard field > 0 else { throw failure("field number 0") }
        switch key & 7 {
        case 0: return (field, .varint(try varint()))
        case 1:
            guard bytes.endIndex - position >= 8 else { throw failure("truncated fixed64 field \(field)") }
            var value: UInt64 = 0
            for index in 0..<8 { value |= UInt64(bytes[position + index]) << UInt64(8 * index) }
            position += 8
            return (field, .fixed64(value))
        case 2:
            let length = try varint()
            guard length <= UInt64(bytes.endIndex - position) else {
                throw failure("field \(field) claims \(length) bytes, \(bytes.endIndex - position) remain (truncated?)")
            }
            let start = position
            position += Int(length)
            return (field, .bytes(bytes[start..<position]))
        case 5:
            guard bytes.endIndex - position >= 4 else { throw failure("truncated fixed32 field \(field)") }
            var value: UInt32 = 0
            for index in 0..<4 { value |= UInt32(bytes[position + index]) << UInt32(8 * index) }
            position += 4
            return (field, .fixed32(value))
        default: throw failure("unsupported wire type \(key & 7) for field \(field)")
        }
    }
}

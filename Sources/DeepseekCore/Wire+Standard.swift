// Wire encodings of standard types, so distributed functions can take and return them directly.

extension WireCodable where Self: FixedWidthInteger {
    public func encode(to writer: inout WireWriter) { writer.write(self) }
    public static func decode(from reader: inout WireReader) throws -> Self { try reader.read(Self.self) }
}

extension Int: WireCodable {}
extension Int8: WireCodable {}
extension Int16: WireCodable {}
extension Int32: WireCodable {}
extension Int64: WireCodable {}
extension UInt: WireCodable {}
extension UInt8: WireCodable {}
extension UInt16: WireCodable {}
extension UInt32: WireCodable {}
extension UInt64: WireCodable {}

extension Float: WireCodable {
    public func encode(to writer: inout WireWriter) { writer.write(self) }
    public static func decode(from reader: inout WireReader) throws -> Float { try reader.readFloat() }
}

extension Double: WireCodable {
    public func encode(to writer: inout WireWriter) { writer.write(self) }
    public static func decode(from reader: inout WireReader) throws -> Double { try reader.readDouble() }
}

extension Bool: WireCodable {
    public func encode(to writer: inout WireWriter) { writer.write(self) }
    public static func decode(from reader: inout WireReader) throws -> Bool { try reader.readBool() }
}

extension String: WireCodable {
    public func encode(to writer: inout WireWriter) { writer.write(self) }
    public static func decode(from reader: inout WireReader) throws -> String { try reader.readString() }
}

extension Array: WireCodable where Element: WireCodable {
    public func encode(to writer: inout WireWriter) {
        if Element.self == UInt8.self {
            // Bytes encode as themselves: one block copy instead of a call per byte.
            withUnsafeBytes { writer.write(bytes: $0) }
            return
        }
        writer.writeVarint(UInt64(count))
        for e in self { e.encode(to: &writer) }
    }

    public static func decode(from reader: inout WireReader) throws -> [Element] {
        if Element.self == UInt8.self { return unsafeBitCast(try reader.readBytes(), to: [Element].self) }
        let start = reader.offset
        let n = try reader.readLength("array count")
        // Every element takes at least one byte, so a count beyond the bytes left is corrupt.
        guard n <= reader.remaining else {
            throw WireError(.truncated, "an array of \(n) elements cannot fit in \(reader.remaining) bytes", offset: start)
        }
        var result: [Element] = []
        result.reserveCapacity(n)
        for _ in 0..<n { result.append(try Element.decode(from: &reader)) }
        return result
    }
}

extension Optional: WireCodable where Wrapped: WireCodable {
    public func encode(to writer: inout WireWriter) {
        switch self {
        case .none: writer.write(false)
        case .some(let w):
            writer.write(true)
            w.encode(to: &writer)
        }
    }

    public static func decode(from reader: inout WireReader) throws -> Wrapped? {
        try reader.readBool() ? try Wrapped.decode(from: &reader) : nil
    }
}

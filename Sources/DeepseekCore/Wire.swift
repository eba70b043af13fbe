/// An error decoding bytes received from a peer or read from a file.
public struct WireError: DeepseekError {
    /// The kind of decoding failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }
        /// The bytes ended before the value did.
        public static let truncated = Code("truncated")
        /// A value is outside what the format allows (bad tag, oversized length, invalid UTF-8).
        public static let malformed = Code("malformed")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The byte offset in the input where decoding failed.
    public var offset: Int

    public init(_ code: Code, _ message: String, offset: Int, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.offset = offset
        self.cause = nil
        self.location = SourceLocation(file: file, line: line)
    }
}

/// Appends values to a byte buffer in Deepseek's wire format: fixed-width little-endian
/// integers, LEB128 varints, and length-prefixed byte strings.
///
/// `WireWriter`/`WireReader` replace `Codable` on hot paths: they copy numeric buffers in bulk and
/// allocate once. A writer made with an `outOfBandThreshold` leaves large bulk data (`writeBulk`)
/// out of its bytes and lists it in `segments` instead, so a transport can send it from where it
/// lies (see `WireBytes`).
public struct WireWriter: Sendable {
    @usableFromInline
    var storage: [UInt8]
    /// The encoded bytes so far (without the bytes of `segments`).
    public var bytes: [UInt8] { storage }
    /// Bulk writes of at least this many bytes travel beside the message; `nil` keeps everything inline.
    public let outOfBandThreshold: Int?
    /// The bulk data left out of `bytes` so far, each at the position it belongs.
    public internal(set) var segments: [WireSegment] = []

    public init(reservingCapacity capacity: Int = 64, outOfBandThreshold: Int? = nil) {
        storage = []
        storage.reserveCapacity(capacity)
        self.outOfBandThreshold = outOfBandThreshold
    }

    /// Makes room for `additional` more bytes at once, so a large value is not copied while the
    /// buffer grows.
    public mutating func reserveCapacity(additional: Int) {
        storage.reserveCapacity(storage.count + additional)
    }

    @inlinable
    public mutating func write<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { storage.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func write(_ value: Double) { write(value.bitPattern) }

    @inlinable
    public mutating func write(_ value: Float) { write(value.bitPattern) }

    @inlinable
    public mutating func write(_ value: Bool) { write(UInt8(value ? 1 : 0)) }

    /// Writes an unsigned LEB128 varint (1 byte for values below 128).
    @inlinable
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            storage.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        storage.append(UInt8(v))
    }

    /// Writes a length-prefixed byte string.
    public mutating func write(bytes data: some Collection<UInt8>) {
        writeVarint(UInt64(data.count))
        storage.append(contentsOf: data)
    }

    /// Writes raw bytes with no length prefix.
    public mutating func writeRaw(_ raw: UnsafeRawBufferPointer) {
        storage.append(contentsOf: raw)
    }

    /// Writes a length-prefixed UTF-8 string.
    public mutating func write(_ string: String) {
        var s = string
        s.withUTF8 { write(bytes: $0) }
    }

    /// Writes any `WireCodable` value.
    public mutating func encode(_ value: some WireCodable) { value.encode(to: &self) }
}

/// Reads values written by `WireWriter`, throwing `WireError` (with the byte offset) on
/// truncated or malformed input — never trapping, whatever the bytes are.
public struct WireReader: Sendable {
    public let bytes: [UInt8]
    /// Bulk data that arrived beside `bytes`, in position order (empty for plain bytes).
    public let segments: [WireSegment]
    /// The offset of the next byte to read.
    public internal(set) var offset: Int
    /// The index in `segments` of the next segment `readBulk` or `readNested` will meet.
    var nextSegment = 0
    /// The largest length prefix accepted, so a corrupt length cannot request gigabytes.
    public var maximumLength: Int

    public init(_ bytes: [UInt8], maximumLength: Int = 1 << 30) {
        self.bytes = bytes
        self.segments = []
        self.offset = 0
        self.maximumLength = maximumLength
    }

    /// Reads an encoding whose bulk data travelled beside it.
    public init(_ wire: WireBytes, maximumLength: Int = 1 << 30) {
        self.bytes = wire.inline
        self.segments = wire.segments
        self.offset = 0
        self.maximumLength = maximumLength
    }

    /// Bytes not yet read.
    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset >= bytes.count }

    func need(_ n: Int, _ what: String) throws(WireError) {
        guard n <= remaining else {
            throw WireError(.truncated, "\(what) needs \(n) bytes but only \(remaining) remain", offset: offset)
        }
    }

    public mutating func read<T: FixedWidthInteger>(_ type: T.Type = T.self) throws(WireError) -> T {
        let size = MemoryLayout<T>.size
        try need(size, "\(T.self)")
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { dst in
            bytes.withUnsafeBytes { src in dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[offset..<offset + size])) }
        }
        offset += size
        return T(littleEndian: value)
    }

    public mutating func readDouble() throws(WireError) -> Double { Double(bitPattern: try read(UInt64.self)) }
    public mutating func readFloat() throws(WireError) -> Float { Float(bitPattern: try read(UInt32.self)) }

    public mutating func readBool() throws(WireError) -> Bool {
        let start = offset
        switch try read(UInt8.self) {
        case 0: return false
        case 1: return true
        case let b: throw WireError(.malformed, "a Bool must be 0 or 1, found \(b)", offset: start)
        }
    }

    public mutating func readVarint() throws(WireError) -> UInt64 {
        let start = offset
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard offset < bytes.count else {
                throw WireError(.truncated, "a varint runs past the end of the input", offset: start)
            }
            let byte = bytes[offset]
            offset += 1
            if shift == 63 && byte > 1 {
                throw WireError(.malformed, "a varint overflows 64 bits", offset: start)
            }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw WireError(.malformed, "a varint is longer than 10 bytes", offset: start) }
        }
    }

    /// Reads a length prefix and checks it against `maximumLength` and the bytes left.
    public mutating func readLength(_ what: String = "length") throws(WireError) -> Int {
        let start = offset
        let n = try readVarint()
        guard n <= UInt64(maximumLength) else {
            throw WireError(.malformed, "\(what) \(n) exceeds the limit of \(maximumLength) bytes", offset: start)
        }
        return Int(n)
    }

    public mutating func readBytes() throws(WireError) -> [UInt8] {
        let n = try readLength("byte string length")
        return try readRaw(count: n)
    }

    public mutating func readRaw(count n: Int) throws(WireError) -> [UInt8] {
        try need(n, "a byte string")
        defer { offset += n }
        return Array(bytes[offset..<offset + n])
    }

    /// Moves past `n` bytes without copying them.
    public mutating func skip(_ n: Int) throws(WireError) {
        try need(n, "skipped bytes")
        offset += n
    }

    public mutating func readString() throws(WireError) -> String {
        let start = offset
        let raw = try readBytes()
        guard let s = String(validating: raw, as: UTF8.self) else {
            throw WireError(.malformed, "a string is not valid UTF-8", offset: start)
        }
        return s
    }

    /// Reads any `WireCodable` value.
    public mutating func decode<T: WireCodable>(_ type: T.Type = T.self) throws -> T { try T.decode(from: &self) }
}

/// A type with a compact binary encoding for messages between actors.
///
/// Decoding is a static function rather than an initialiser so that distributed actors can conform:
/// decoding an actor reference resolves an existing actor instead of creating one. Actors implement
/// `encode(to:)` as `nonisolated`.
public protocol WireCodable: Sendable {
    /// Appends this value's encoding.
    func encode(to writer: inout WireWriter)
    /// Reads a value, throwing `WireError` (or a domain error) on bad input.
    static func decode(from reader: inout WireReader) throws -> Self
}

extension WireCodable {
    /// The encoded bytes of this value.
    public var wireBytes: [UInt8] {
        var w = WireWriter()
        encode(to: &w)
        return w.bytes
    }

    /// Decodes a value that must use all of `bytes`.
    public init(wireBytes bytes: [UInt8]) throws {
        var r = WireReader(bytes)
        self = try Self.decode(from: &r)
        guard r.isAtEnd else {
            throw WireError(.malformed, "\(r.remaining) bytes left over after decoding \(Self.self)", offset: r.offset)
        }
    }

    /// Decodes a value that must use all of `wire`, its bulk segments included.
    public init(wire: WireBytes) throws {
        var r = WireReader(wire)
        self = try Self.decode(from: &r)
        guard r.isAtEnd else {
            throw WireError(.malformed, "\(r.remaining) bytes left over after decoding \(Self.self)", offset: r.offset)
        }
        guard r.nextSegment == r.segments.count else {
            throw WireError(
                .malformed, "\(r.segments.count - r.nextSegment) bulk segments left over after decoding \(Self.self)", offset: r.offset)
        }
    }
}

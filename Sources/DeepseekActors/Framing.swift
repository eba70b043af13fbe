public import DeepseekCore

/// What a frame on a byte-stream connection carries.
public enum FrameKind: UInt8, Sendable, CaseIterable {
    /// Handshake messages (version, challenge, response, accept, reject).
    case handshake = 1
    /// An encoded `TransportMessage`.
    case message = 2
    /// A liveness probe and its answer, for failure detection.
    case heartbeat = 3
}

/// One length-delimited unit on a stream: `[u32 little-endian body length][u8 kind][body]`.
public struct Frame: Sendable, Equatable {
    public var kind: FrameKind
    public var body: [UInt8]

    public init(kind: FrameKind, body: [UInt8]) {
        self.kind = kind
        self.body = body
    }

    /// Bytes of the header before each body.
    public static let headerSize = 5

    /// The frame's bytes on the wire.
    public var encoded: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.headerSize + body.count)
        Self.appendHeader(kind: kind, bodyCount: body.count, to: &out)
        out.append(contentsOf: body)
        return out
    }

    /// Appends a header for a body of `bodyCount` bytes.
    public static func appendHeader(kind: FrameKind, bodyCount: Int, to out: inout [UInt8]) {
        let n = UInt32(bodyCount)
        out.append(UInt8(truncatingIfNeeded: n))
        out.append(UInt8(truncatingIfNeeded: n >> 8))
        out.append(UInt8(truncatingIfNeeded: n >> 16))
        out.append(UInt8(truncatingIfNeeded: n >> 24))
        out.append(kind.rawValue)
    }
}

/// Why a stream was found corrupt; the connection is closed with this reason.
public struct FramingError: DeepseekError {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }
        /// A frame announced a body larger than the connection allows.
        public static let oversized = Code("oversized")
        /// A frame's kind byte is not one of `FrameKind`.
        public static let unknownKind = Code("unknownKind")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)? { nil }
    public var location: SourceLocation
    /// The stream offset of the offending frame's header.
    public var streamOffset: UInt64

    init(_ code: Code, _ message: String, streamOffset: UInt64, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.streamOffset = streamOffset
        self.location = SourceLocation(file: file, line: line)
    }
}

/// Cuts a byte stream into frames: bytes in, frames out, no I/O.
///
/// The decoder keeps at most one partial frame. A header announcing more than
/// `maximumBodySize` bytes, or an unknown kind, is an error the connection must close on — the
/// decoder never allocates what a corrupt header asks for.
public struct FrameDecoder: Sendable {
    public let maximumBodySize: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var consumed: UInt64 = 0
    private var failed: FramingError?

    public init(maximumBodySize: Int = 256 << 20) {
        precondition(maximumBodySize > 0 && maximumBodySize <= Int(UInt32.max), "maximumBodySize must fit in 32 bits")
        self.maximumBodySize = maximumBodySize
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int { buffer.count - readIndex }

    /// Adds received bytes and returns every frame they complete.
    ///
    /// - Throws: `FramingError` on a corrupt header; every later call throws the same error.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(FramingError) -> [Frame] {
        if let failed { throw failed }
        buffer.append(contentsOf: bytes)
        var frames: [Frame] = []
        while buffer.count - readIndex >= Frame.headerSize {
            let h = readIndex
            let length = Int(buffer[h]) | Int(buffer[h + 1]) << 8 | Int(buffer[h + 2]) << 16 | Int(buffer[h + 3]) << 24
            guard let kind = FrameKind(rawValue: buffer[h + 4]) else {
                let error = FramingError(.unknownKind, "frame kind \(buffer[h + 4]) is not a known kind", streamOffset: consumed)
                failed = error
                throw error
            }
            guard length <= maximumBodySize else {
                let error = FramingError(
                    .oversized, "a frame announces \(length) bytes, more than the limit of \(maximumBodySize)", streamOffset: consumed)
                failed = error
                throw error
            }
            guard buffer.count - h - Frame.headerSize >= length else { break }
            let start = h + Frame.headerSize
            frames.append(Frame(kind: kind, body: Array(buffer[start..<start + length])))
            readIndex = start + length
            consumed += UInt64(Frame.headerSize + length)
        }
        // Compact once the consumed prefix dominates, so the buffer does not grow without bound.
        if readIndex > 0 && readIndex * 2 >= buffer.count {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        return frames
    }
}

public import DeepseekCore

/// What a frame on a byte-stream connection carries.
public enum FrameKind: UInt8, Sendable, CaseIterable {
    /// Handshake messages (version, challenge, response, accept, reject).
    case handshake = 1
    /// An encoded `TransportMessage`.
    case message = 2
    /// A liveness probe and its answer, for failure detection.
    case heartbeat = 3
    /// An encoded `TransportMessage` whose bulk segments follow the frame on the stream: the body
    /// is `[varint n][(varint position, varint length) × n][inline message bytes]`, then the
    /// segments' bytes come back to back. Decoded frames show it as a `.message` with `segments`.
    case segmentedMessage = 4
}

/// One length-delimited unit on a stream: `[u32 little-endian body length][u8 kind][body]`,
/// followed, for a message with bulk segments, by the segments' bytes.
public struct Frame: Sendable, Equatable {
    public var kind: FrameKind
    public var body: [UInt8]
    /// Bulk data of a `.message` frame that travels after it, placed in `body` by position.
    public var segments: [WireSegment]

    public init(kind: FrameKind, body: [UInt8], segments: [WireSegment] = []) {
        self.kind = kind
        self.body = body
        self.segments = segments
    }

    /// Bytes of the header before each body.
    public static let headerSize = 5
    /// The most segments one message may carry.
    public static let maximumSegments = 64

    /// The frame's bytes on the wire, segments included.
    public var encoded: [UInt8] {
        var out = head
        for s in segments { out.append(contentsOf: s.bytes) }
        return out
    }

    /// The header and body on the wire: everything except the segments' bytes, which a transport
    /// sends from where they lie right after it.
    public var head: [UInt8] {
        guard !segments.isEmpty else {
            var out = [UInt8]()
            out.reserveCapacity(Self.headerSize + body.count)
            Self.appendHeader(kind: kind, bodyCount: body.count, to: &out)
            out.append(contentsOf: body)
            return out
        }
        var table = WireWriter(reservingCapacity: 4 + 8 * segments.count)
        table.writeVarint(UInt64(segments.count))
        for s in segments {
            table.writeVarint(UInt64(s.position))
            table.writeVarint(UInt64(s.bytes.count))
        }
        var out = [UInt8]()
        out.reserveCapacity(Self.headerSize + table.bytes.count + body.count)
        Self.appendHeader(kind: .segmentedMessage, bodyCount: table.bytes.count + body.count, to: &out)
        out.append(contentsOf: table.bytes)
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

    /// Frames are equal when their kinds, bodies and segment bytes are.
    public static func == (a: Frame, b: Frame) -> Bool {
        a.kind == b.kind && a.body == b.body && a.segments.count == b.segments.count
            && zip(a.segments, b.segments).allSatisfy { $0.position == $1.position && $0.bytes.elementsEqual($1.bytes) }
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
        /// A segmented message's segment table is inconsistent.
        public static let malformedSegments = Code("malformedSegments")
        /// Memory for a segment could not be had.
        public static let outOfMemory = Code("outOfMemory")
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
/// decoder never allocates what a corrupt header asks for. The segments of a segmented message
/// (together at most `maximumBodySize` bytes) are assembled in `WireBuffer`s, allocated as their
/// bytes arrive; a transport can receive straight into them (`segmentSpace()`).
public struct FrameDecoder: Sendable {
    public let maximumBodySize: Int
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var consumed: UInt64 = 0
    private var failed: FramingError?
    private var assembly: Assembly?

    /// A segmented message whose segments are arriving.
    private struct Assembly: Sendable {
        var body: [UInt8]
        var positions: [Int]
        var lengths: [Int]
        var buffers: [WireBuffer] = []
        /// Bytes of the current (last in `buffers`) segment received so far.
        var filled = 0
        var received = 0
        var isComplete: Bool { buffers.count == lengths.count && (lengths.isEmpty || filled == lengths[lengths.count - 1]) }
    }

    public init(maximumBodySize: Int = 256 << 20) {
        precondition(maximumBodySize > 0 && maximumBodySize <= Int(UInt32.max), "maximumBodySize must fit in 32 bits")
        self.maximumBodySize = maximumBodySize
    }

    /// Bytes received but not yet returned as frames.
    public var bufferedByteCount: Int {
        buffer.count - readIndex + (assembly.map { Frame.headerSize + $0.body.count + $0.received } ?? 0)
    }

    /// Adds received bytes and returns every frame they complete.
    ///
    /// - Throws: `FramingError` on a corrupt header; every later call throws the same error.
    public mutating func feed(_ bytes: some Collection<UInt8>) throws(FramingError) -> [Frame] {
        if let failed { throw failed }
        buffer.append(contentsOf: bytes)
        var frames: [Frame] = []
        while true {
            if assembly != nil {
                guard let frame = try fillSegments() else { break }
                frames.append(frame)
                continue
            }
            guard buffer.count - readIndex >= Frame.headerSize else { break }
            let h = readIndex
            let length = Int(buffer[h]) | Int(buffer[h + 1]) << 8 | Int(buffer[h + 2]) << 16 | Int(buffer[h + 3]) << 24
            guard let kind = FrameKind(rawValue: buffer[h + 4]) else {
                throw fail(.unknownKind, "frame kind \(buffer[h + 4]) is not a known kind")
            }
            guard length <= maximumBodySize else {
                throw fail(.oversized, "a frame announces \(length) bytes, more than the limit of \(maximumBodySize)")
            }
            guard buffer.count - h - Frame.headerSize >= length else { break }
            let start = h + Frame.headerSize
            let body = Array(buffer[start..<start + length])
            readIndex = start + length
            if kind == .segmentedMessage {
                try beginAssembly(body)
            } else {
                frames.append(Frame(kind: kind, body: body))
                consumed += UInt64(Frame.headerSize + length)
            }
        }
        // Compact once the consumed prefix dominates, so the buffer does not grow without bound.
        if readIndex > 0 && readIndex * 2 >= buffer.count {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        return frames
    }

    /// Where the next received bytes can go without passing through the decoder: the unfilled
    /// rest of the segment being assembled. `nil` when the decoder expects frame headers.
    public mutating func segmentSpace() throws(FramingError) -> UnsafeMutableRawBufferPointer? {
        if let failed { throw failed }
        guard assembly != nil, buffer.count == readIndex else { return nil }
        try openSegmentIfNeeded()
        guard let a = assembly, let current = a.buffers.last else { return nil }
        return UnsafeMutableRawBufferPointer(rebasing: current.bytes[a.filled...])
    }

    /// Counts `count` bytes written at the start of the last `segmentSpace()`; returns the frame
    /// they complete, if any.
    public mutating func segmentReceived(_ count: Int) throws(FramingError) -> [Frame] {
        if let failed { throw failed }
        guard var a = assembly, let current = a.buffers.last, count <= current.count - a.filled else {
            throw fail(.malformedSegments, "\(count) bytes were reported into a segment that has no room for them")
        }
        a.filled += count
        a.received += count
        assembly = a
        return try feed(EmptyCollection())
    }

    private mutating func fail(_ code: FramingError.Code, _ message: String) -> FramingError {
        let error = FramingError(code, message, streamOffset: consumed)
        failed = error
        return error
    }

    /// Reads a segmented message's table; its segments are expected next.
    private mutating func beginAssembly(_ raw: [UInt8]) throws(FramingError) {
        var r = WireReader(raw)
        var positions: [Int] = []
        var lengths: [Int] = []
        var total = 0
        do {
            let n = try r.readVarint()
            guard n >= 1 && n <= UInt64(Frame.maximumSegments) else {
                throw fail(.malformedSegments, "a segmented message announces \(n) segments (1...\(Frame.maximumSegments) allowed)")
            }
            for _ in 0..<n {
                let position = try r.readVarint()
                let length = try r.readVarint()
                guard length >= 1, length <= UInt64(maximumBodySize - total), position <= UInt64(raw.count),
                    position >= UInt64(positions.last ?? 0)
                else {
                    throw fail(
                        .malformedSegments,
                        "a segment at \(position) of \(length) bytes is out of order or exceeds the limit of \(maximumBodySize) bytes")
                }
                positions.append(Int(position))
                lengths.append(Int(length))
                total += Int(length)
            }
        } catch let error as FramingError {
            throw error
        } catch {
            throw fail(.malformedSegments, "a segment table is truncated: \(error)")
        }
        let body = Array(raw[r.offset...])
        guard positions.allSatisfy({ $0 <= body.count }) else {
            throw fail(.malformedSegments, "a segment position lies beyond the message's \(body.count) bytes")
        }
        assembly = Assembly(body: body, positions: positions, lengths: lengths)
        consumed += UInt64(Frame.headerSize + raw.count)
    }

    /// Allocates the next segment's buffer once the previous one is full.
    private mutating func openSegmentIfNeeded() throws(FramingError) {
        guard var a = assembly else { return }
        if let last = a.buffers.last, a.filled < last.count { return }
        guard a.buffers.count < a.lengths.count else { return }
        let length = a.lengths[a.buffers.count]
        guard let buffer = WireBuffer(count: length) else {
            throw fail(.outOfMemory, "no memory for a segment of \(length) bytes")
        }
        a.buffers.append(buffer)
        a.filled = 0
        assembly = a
    }

    /// Moves buffered bytes into the segments; returns the message once all have arrived.
    private mutating func fillSegments() throws(FramingError) -> Frame? {
        while true {
            guard let a = assembly else { return nil }
            if a.isComplete {
                assembly = nil
                consumed += UInt64(a.received)
                let segments = a.buffers.enumerated().map { i, b in
                    WireSegment(position: a.positions[i], bytes: UnsafeRawBufferPointer(b.bytes), owner: b)
                }
                return Frame(kind: .message, body: a.body, segments: segments)
            }
            guard buffer.count > readIndex else { return nil }
            try openSegmentIfNeeded()
            guard var b = assembly, let current = b.buffers.last else { return nil }
            let n = min(current.count - b.filled, buffer.count - readIndex)
            buffer.withUnsafeBytes { raw in
                (current.base + b.filled).copyMemory(from: raw.baseAddress! + readIndex, byteCount: n)
            }
            readIndex += n
            b.filled += n
            b.received += n
            assembly = b
        }
    }
}

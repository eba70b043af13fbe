import DeepseekActors
import DeepseekCore

/// A large frame in memory of its own, so the ring can send from it (zero-copy too) while the
/// caller moves on. Freed when the last operation or notification holding it is done.
final class LargeFrameBuffer: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
    let count: Int

    init(kind: FrameKind, body: [UInt8]) {
        count = Frame.headerSize + body.count
        base = .allocate(byteCount: count, alignment: 64)
        var header: [UInt8] = []
        Frame.appendHeader(kind: kind, bodyCount: body.count, to: &header)
        header.withUnsafeBytes { base.copyMemory(from: $0.baseAddress!, byteCount: Frame.headerSize) }
        body.withUnsafeBytes { raw in
            if let src = raw.baseAddress { (base + Frame.headerSize).copyMemory(from: src, byteCount: raw.count) }
        }
    }

    /// Bytes that are already a frame (or its head).
    init(framed bytes: [UInt8]) {
        count = bytes.count
        base = .allocate(byteCount: max(count, 1), alignment: 64)
        bytes.withUnsafeBytes { raw in
            if let src = raw.baseAddress { base.copyMemory(from: src, byteCount: raw.count) }
        }
    }

    deinit { base.deallocate() }
}

/// A frame waiting to be written: small ones are copied into a connection's batch buffer by the
/// ring thread; large ones are sent from their own buffer; a segmented message's head goes with
/// the small ones and its bulk segments are sent from the memory they live in.
enum OutboundFrame: Sendable {
    case small(kind: FrameKind, body: [UInt8])
    case large(LargeFrameBuffer)
    /// Header, segment table and inline message bytes (`Frame.head`), then the segments' bytes.
    case segmented(head: [UInt8], segments: [WireSegment])
    /// The unwritten rest of a frame a sender began writing itself.
    case raw([UInt8])

    var byteCount: Int {
        switch self {
        case .small(_, let body): Frame.headerSize + body.count
        case .large(let buffer): buffer.count
        case .segmented(let head, let segments): segments.reduce(head.count) { $0 + $1.bytes.count }
        case .raw(let bytes): bytes.count
        }
    }
}

/// What the ring thread is asked to do by the other threads.
enum LoopCommand: Sendable {
    /// Frames are waiting for `peer`.
    case flush(NodeID)
    /// Open a connection to `peer` now.
    case connect(NodeID)
    /// A sender finished writing to connection `id` itself; it may close now.
    case directReleased(UInt64)
    /// Close everything and stop.
    case shutdown
}

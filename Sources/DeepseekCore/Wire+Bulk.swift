#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

// Bulk data beside a message: a value's large raw bytes (a tensor's elements) can travel out of
// band — sent by a transport straight from the memory they live in, and received into pooled,
// aligned buffers that the decoded value adopts — while the message itself stays a small
// envelope. The logical encoding is always the same: the inline bytes with each segment spliced
// in at its position, which `WireBytes.flattened()` produces when a transport needs one array.

/// A run of bulk bytes that travels beside an encoded message instead of inside it.
///
/// `position` is the offset in the message's inline bytes where the segment belongs: right after
/// the length prefix `WireWriter.writeBulk` wrote for it. The owner keeps `bytes` valid for as
/// long as the segment exists (a tensor's storage when sending, a `WireBuffer` when received).
public struct WireSegment: @unchecked Sendable {
    public var position: Int
    public let bytes: UnsafeRawBufferPointer
    public let owner: any Sendable & AnyObject

    public init(position: Int, bytes: UnsafeRawBufferPointer, owner: any Sendable & AnyObject) {
        self.position = position
        self.bytes = bytes
        self.owner = owner
    }
}

/// An encoding with its bulk segments: what a writer with an out-of-band threshold produces and
/// what a transport that sends bulk data separately delivers.
public struct WireBytes: Sendable {
    /// The encoding without the segments' bytes.
    public var inline: [UInt8]
    /// The bulk data, in position order.
    public var segments: [WireSegment]

    public init(inline: [UInt8], segments: [WireSegment] = []) {
        self.inline = inline
        self.segments = segments
    }

    /// Bytes in the logical encoding: inline bytes plus every segment.
    public var byteCount: Int { segments.reduce(inline.count) { $0 + $1.bytes.count } }

    /// The logical encoding in one array (a copy of every segment), for consumers that need plain bytes.
    public func flattened() -> [UInt8] {
        guard !segments.isEmpty else { return inline }
        var out: [UInt8] = []
        out.reserveCapacity(byteCount)
        var next = 0
        for s in segments {
            let at = min(max(s.position, next), inline.count)
            out.append(contentsOf: inline[next..<at])
            out.append(contentsOf: s.bytes)
            next = at
        }
        out.append(contentsOf: inline[next...])
        return out
    }
}

/// The bytes of one bulk value read back by `WireReader.readBulk`: a range of the inline bytes, or
/// a segment that arrived beside them.
public struct WireBulk: Sendable {
    enum Source: Sendable {
        case inline([UInt8], start: Int)
        case segment(WireSegment)
    }

    let source: Source
    /// The number of bytes.
    public let count: Int

    /// Calls `body` with the bytes (valid only inside `body`).
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        switch source {
        case .inline(let bytes, let start):
            try bytes.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[start..<start + count])) }
        case .segment(let s):
            try body(s.bytes)
        }
    }

    /// Takes the memory of a received segment for a new owner, so a decoded value can use it as
    /// its storage without a copy: succeeds once, for a whole pooled receive buffer whose address
    /// is a multiple of `alignment`; `nil` otherwise (then copy with `withUnsafeBytes`).
    ///
    /// The new owner must call `deallocate` with `base` when it no longer needs the memory.
    public func adoptMemory(alignment: Int) -> (base: UnsafeMutableRawPointer, deallocate: @Sendable (UnsafeMutableRawPointer) -> Void)? {
        guard case .segment(let s) = source, let buffer = s.owner as? WireBuffer, buffer.count == count,
            UnsafeRawPointer(buffer.base) == s.bytes.baseAddress, Int(bitPattern: buffer.base) % alignment == 0
        else { return nil }
        return buffer.adopt()
    }
}

/// Memory for one received bulk segment: page-aligned for large sizes (64-byte aligned below),
/// taken from `WireBufferPool.shared` and given back there when its last owner is done — so a
/// steady stream of tensors reuses warm pages instead of faulting in fresh ones.
public final class WireBuffer: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let count: Int
    private let capacity: Int
    private let adopted = Atomic<Bool>(false)

    /// A buffer of `count` bytes, or `nil` when the allocator refuses.
    public init?(count: Int) {
        guard let (pointer, capacity) = WireBufferPool.shared.take(byteCount: count) else { return nil }
        self.base = pointer
        self.count = count
        self.capacity = capacity
    }

    /// The whole buffer, for receiving into.
    public var bytes: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base, count: count) }

    /// Hands the memory to a new owner once; afterwards this object no longer frees it.
    public func adopt() -> (base: UnsafeMutableRawPointer, deallocate: @Sendable (UnsafeMutableRawPointer) -> Void)? {
        guard !adopted.exchange(true, ordering: .acquiringAndReleasing) else { return nil }
        let capacity = self.capacity
        return (base, { WireBufferPool.shared.give($0, capacity: capacity) })
    }

    deinit {
        if !adopted.load(ordering: .acquiring) { WireBufferPool.shared.give(base, capacity: capacity) }
    }
}

/// Freed receive buffers by size class, kept up to a byte budget.
public final class WireBufferPool: Sendable {
    /// The pool every `WireBuffer` comes from.
    public static let shared = WireBufferPool(budget: WireBufferPool.defaultBudget)

    static let defaultBudget: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES))
        let size = sysconf(Int32(_SC_PAGESIZE))
        guard pages > 0, size > 0 else { return 256 << 20 }
        return min(pages * size / 16, 1 << 30)
    }()

    private static let pageAligned = 64 << 10
    private let budget: Int
    private let state = Mutex<State>(State())

    struct State: ~Copyable {
        var free: [Int: [UInt]] = [:]  // addresses as integers: pointers are not Sendable
        var cachedBytes = 0
    }

    init(budget: Int) { self.budget = budget }

    /// Rounds a size up to its class: multiples of 1/8 of the enclosing power of two, whole pages
    /// from 64 KiB up.
    static func sizeClass(_ n: Int) -> Int {
        guard n > 4096 else { return (max(n, 1) + 63) / 64 * 64 }
        let high = Int.bitWidth - (n - 1).leadingZeroBitCount
        let step = 1 << max(high - 3, 12)
        return (n + step - 1) / step * step
    }

    /// Memory for `byteCount` bytes and the capacity to give back with it, or `nil`.
    func take(byteCount: Int) -> (UnsafeMutableRawPointer, Int)? {
        let capacity = Self.sizeClass(byteCount)
        let reused = state.withLock { s -> UInt? in
            guard let p = s.free[capacity]?.popLast() else { return nil }
            s.cachedBytes -= capacity
            return p
        }
        if let reused, let p = UnsafeMutableRawPointer(bitPattern: reused) { return (p, capacity) }
        var raw: UnsafeMutableRawPointer?
        let alignment = capacity >= Self.pageAligned ? 4096 : 64
        guard posix_memalign(&raw, alignment, capacity) == 0, let raw else { return nil }
        return (raw, capacity)
    }

    func give(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        let address = UInt(bitPattern: pointer)
        let kept = state.withLock { s -> Bool in
            guard s.cachedBytes + capacity <= budget else { return false }
            s.free[capacity, default: []].append(address)
            s.cachedBytes += capacity
            return true
        }
        if !kept { free(pointer) }
    }

    /// Bytes held for reuse.
    public var cachedByteCount: Int { state.withLock { $0.cachedBytes } }
}

extension WireWriter {
    /// Writes bulk bytes: a length prefix, then the bytes inline — or, when the writer has an
    /// out-of-band threshold and the bytes reach it, a segment pointing at them, kept alive by
    /// `owner` (which must not change the bytes while the encoding exists).
    public mutating func writeBulk(_ bytes: UnsafeRawBufferPointer, owner: any Sendable & AnyObject) {
        writeVarint(UInt64(bytes.count))
        if let threshold = outOfBandThreshold, bytes.count >= threshold, bytes.count > 0 {
            segments.append(WireSegment(position: storage.count, bytes: bytes, owner: owner))
        } else {
            storage.append(contentsOf: bytes)
        }
    }

    /// Writes a length-prefixed nested encoding made by `body` with this writer's threshold.
    /// Without a threshold this is `write(bytes: value.wireBytes)`.
    public mutating func writeNested(_ body: (inout WireWriter) -> Void) {
        var nested = WireWriter(outOfBandThreshold: outOfBandThreshold)
        body(&nested)
        write(nested: nested.wire)
    }

    /// Writes an encoding made elsewhere as a length-prefixed byte string, keeping its segments
    /// out of band when this writer has a threshold (flattening them otherwise).
    public mutating func write(nested: WireBytes) {
        guard outOfBandThreshold != nil, !nested.segments.isEmpty else {
            write(bytes: nested.segments.isEmpty ? nested.inline : nested.flattened())
            return
        }
        // The prefix counts the logical length (segments included), so the flattened encoding is
        // exactly the one a writer without a threshold makes.
        writeVarint(UInt64(nested.byteCount))
        let base = storage.count
        reserveCapacity(additional: nested.inline.count)
        storage.append(contentsOf: nested.inline)
        for var s in nested.segments {
            s.position += base
            segments.append(s)
        }
    }

    /// The encoding so far with its segments.
    public var wire: WireBytes { WireBytes(inline: storage, segments: segments) }
}

extension WireReader {
    /// Reads what `writeBulk` wrote: from the inline bytes, or the segment that belongs here.
    public mutating func readBulk(_ what: String = "bulk data") throws(WireError) -> WireBulk {
        let start = offset
        let n = try readLength(what)
        if nextSegment < segments.count && segments[nextSegment].position == offset {
            let s = segments[nextSegment]
            guard s.bytes.count == n else {
                throw WireError(.malformed, "\(what) announces \(n) bytes but its segment has \(s.bytes.count)", offset: start)
            }
            nextSegment += 1
            return WireBulk(source: .segment(s), count: n)
        }
        try need(n, what)
        defer { offset += n }
        return WireBulk(source: .inline(bytes, start: offset), count: n)
    }

    /// Reads a length-prefixed nested encoding with the segments that belong to it.
    ///
    /// The prefix counts the nested value's logical bytes; the segments positioned within its
    /// inline part account for the difference.
    public mutating func readNested(_ what: String = "nested value") throws(WireError) -> WireBytes {
        let n = try readLength(what)
        let start = offset
        var inlineCount = n
        var nested: [WireSegment] = []
        while nextSegment < segments.count {
            var s = segments[nextSegment]
            guard s.position >= start, s.bytes.count <= inlineCount, s.position <= start + inlineCount - s.bytes.count else { break }
            inlineCount -= s.bytes.count
            s.position -= start
            nested.append(s)
            nextSegment += 1
        }
        try need(inlineCount, what)
        offset += inlineCount
        return WireBytes(inline: Array(bytes[start..<start + inlineCount]), segments: nested)
    }
}

extension WireCodable {
    /// This value's encoding, with bulk data of at least `outOfBandThreshold` bytes left beside it.
    public func wire(outOfBandThreshold: Int?) -> WireBytes {
        var w = WireWriter(outOfBandThreshold: outOfBandThreshold)
        encode(to: &w)
        return w.wire
    }
}

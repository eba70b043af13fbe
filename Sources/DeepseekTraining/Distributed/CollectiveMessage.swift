public import DeepseekCore

/// An immutable block of `Float` values that can be sent without a copy: its memory is the
/// owner of an out-of-band wire segment, so io_uring or RDMA send straight from it.
public final class FloatBlock: @unchecked Sendable {
    // Immutable after `init`: the values are written once, before the block is shared.
    private let base: UnsafeMutablePointer<Float>
    /// The number of values.
    public let count: Int

    /// A block holding a copy of `values`.
    public init(_ values: some Collection<Float>) {
        count = values.count
        base = .allocate(capacity: Swift.max(count, 1))
        _ = UnsafeMutableBufferPointer(start: base, count: count).initialize(from: values)
    }

    /// A block holding `values` rounded to `precision` (one pass; a plain copy for fp32).
    init(copying values: UnsafeBufferPointer<Float>, rounding precision: WirePrecision) {
        count = values.count
        base = .allocate(capacity: Swift.max(count, 1))
        if precision == .fp32 {
            if count > 0 { base.initialize(from: values.baseAddress!, count: count) }
        } else {
            for i in 0..<count { (base + i).initialize(to: precision.round(values[i])) }
        }
    }

    /// A block filled from raw little-endian bytes of `count` values in `precision`.
    init(count: Int, bytes raw: UnsafeRawBufferPointer, precision: WirePrecision) {
        self.count = count
        base = .allocate(capacity: Swift.max(count, 1))
        decodeValues(raw, count: count, precision: precision, into: base)
    }

    init(count: Int, fill: (UnsafeMutableBufferPointer<Float>) -> Void) {
        self.count = count
        base = .allocate(capacity: Swift.max(count, 1))
        base.initialize(repeating: 0, count: count)
        fill(UnsafeMutableBufferPointer(start: base, count: count))
    }

    deinit { base.deallocate() }

    /// The values (valid only inside `body`).
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: base, count: count))
    }

    /// The values as an array (a copy).
    public var values: [Float] { withUnsafeBufferPointer { Array($0) } }
}

/// A sparse gradient: the positions and values of the entries top-k selection kept.
///
/// On the wire the indices are delta-encoded varints (ascending, so gaps are small: about one
/// byte per entry at 1 % density) and the values use the wire precision — at 1 % density a
/// sparse gradient is about 70× smaller than the dense one.
public struct SparseGradient: Sendable, Hashable {
    /// The length of the dense vector the entries belong to.
    public var count: Int
    /// Strictly ascending positions, each below `count`.
    public var indices: [UInt32]
    /// One value per index, already rounded to `precision`.
    public var values: [Float]
    public var precision: WirePrecision

    public init(count: Int, indices: [UInt32], values: [Float], precision: WirePrecision = .fp32) {
        precondition(indices.count == values.count, "SparseGradient needs one value per index")
        self.count = count
        self.indices = indices
        self.values = values
        self.precision = precision
    }

    /// Adds the entries into a dense buffer of `count` values.
    public func add(into dense: inout [Float]) {
        dense.withUnsafeMutableBufferPointer { d in
            for (i, v) in zip(indices, values) { d[Int(i)] += v }
        }
    }

    /// The dense vector (zeros where no entry is).
    public var dense: [Float] {
        var d = [Float](repeating: 0, count: count)
        add(into: &d)
        return d
    }
}

extension SparseGradient: WireCodable {
    public func encode(to writer: inout WireWriter) {
        writer.writeVarint(UInt64(count))
        writer.write(precision.rawValue)
        writer.writeVarint(UInt64(indices.count))
        var previous: UInt32 = 0
        for (n, i) in indices.enumerated() {
            writer.writeVarint(UInt64(n == 0 ? i : i - previous - 1))
            previous = i
        }
        writeValues(values, precision: precision, to: &writer)
    }

    public static func decode(from reader: inout WireReader) throws -> SparseGradient {
        let start = reader.offset
        let count = try reader.readVarint()
        guard count <= UInt64(UInt32.max) else { throw WireError(.malformed, "sparse gradient of \(count) values exceeds 2³²", offset: start) }
        let precision = try readPrecision(&reader)
        let k = try reader.readLength("sparse entry count")
        guard k <= count, k <= reader.remaining else { throw WireError(.malformed, "sparse gradient claims \(k) entries of \(count)", offset: start) }
        var indices: [UInt32] = []
        indices.reserveCapacity(k)
        var next: UInt64 = 0
        for _ in 0..<k {
            let gap = try reader.readVarint()
            let (index, overflow) = next.addingReportingOverflow(gap)
            guard !overflow, index < count else { throw WireError(.malformed, "sparse index past the end of \(count) values", offset: reader.offset) }
            indices.append(UInt32(index))
            next = index + 1
        }
        let values = try readValues(precision: precision, expected: k, from: &reader)
        return SparseGradient(count: Int(count), indices: indices, values: values, precision: precision)
    }

    /// Bytes of the encoding, computed without encoding.
    public var wireByteCount: Int {
        var n = varintSize(UInt64(count)) + 1 + varintSize(UInt64(indices.count))
        var previous: UInt32 = 0
        for (k, i) in indices.enumerated() {
            n += varintSize(UInt64(k == 0 ? i : i - previous - 1))
            previous = i
        }
        let valueBytes = values.count * precision.bytesPerValue
        return n + varintSize(UInt64(valueBytes)) + valueBytes
    }
}

/// What one collective message carries.
public enum CollectivePayload: Sendable {
    /// A dense chunk of values, rounded to `precision` by the sender.
    case dense(FloatBlock, precision: WirePrecision)
    /// A rank's sparse gradient, forwarded around the ring by all-gather.
    case sparse(SparseGradient)
    /// No data (barriers).
    case empty

    /// Values carried (0 for `empty`).
    public var valueCount: Int {
        switch self {
        case .dense(let b, _): b.count
        case .sparse(let s): s.values.count
        case .empty: 0
        }
    }
}

/// One message of a collective operation between two ranks.
public struct CollectiveMessage: Sendable, WireCodable {
    /// Which operation the message belongs to (unique among operations in flight in a group).
    public var tag: UInt64
    /// The sub-operation of a composite collective (hierarchical all-reduce has three).
    public var phase: UInt8
    /// The step of the algorithm the message belongs to.
    public var step: UInt32
    /// The rank that sent it, in the group's numbering.
    public var source: UInt32
    public var payload: CollectivePayload

    public init(tag: UInt64, phase: UInt8 = 0, step: Int, source: Int, payload: CollectivePayload) {
        self.tag = tag
        self.phase = phase
        self.step = UInt32(step)
        self.source = UInt32(source)
        self.payload = payload
    }

    public func encode(to writer: inout WireWriter) {
        writer.writeVarint(tag)
        writer.write(phase)
        writer.writeVarint(UInt64(step))
        writer.writeVarint(UInt64(source))
        switch payload {
        case .empty: writer.write(UInt8(0))
        case .dense(let block, let precision):
            writer.write(UInt8(1))
            writer.write(precision.rawValue)
            writer.writeVarint(UInt64(block.count))
            if precision == .fp32 {
                block.withUnsafeBufferPointer { writer.writeBulk(UnsafeRawBufferPointer($0), owner: block) }
            } else {
                block.withUnsafeBufferPointer { writeValues($0, precision: precision, to: &writer) }
            }
        case .sparse(let sparse):
            writer.write(UInt8(2))
            sparse.encode(to: &writer)
        }
    }

    public static func decode(from reader: inout WireReader) throws -> CollectiveMessage {
        let tag = try reader.readVarint()
        let phase = try reader.read(UInt8.self)
        let step = try reader.readVarint()
        let source = try reader.readVarint()
        guard step <= UInt64(UInt32.max), source <= UInt64(UInt32.max) else {
            throw WireError(.malformed, "collective step or source exceeds 32 bits", offset: reader.offset)
        }
        let kindOffset = reader.offset
        let payload: CollectivePayload
        switch try reader.read(UInt8.self) {
        case 0: payload = .empty
        case 1:
            let precision = try readPrecision(&reader)
            let n = try reader.readVarint()
            guard n <= UInt64(Int32.max) else { throw WireError(.malformed, "dense chunk of \(n) values", offset: reader.offset) }
            // Straight from the received bytes into the block that is the payload: one copy.
            let bulk = try readValueBytes(precision: precision, expected: Int(n), from: &reader)
            payload = .dense(bulk.withUnsafeBytes { FloatBlock(count: Int(n), bytes: $0, precision: precision) }, precision: precision)
        case 2: payload = .sparse(try SparseGradient.decode(from: &reader))
        case let k: throw WireError(.malformed, "unknown collective payload kind \(k)", offset: kindOffset)
        }
        var message = CollectiveMessage(tag: tag, phase: phase, step: 0, source: 0, payload: payload)
        message.step = UInt32(step)
        message.source = UInt32(source)
        return message
    }

    /// Bytes of the encoding, computed without encoding (what byte counters add up).
    public var wireByteCount: Int {
        let header = varintSize(tag) + 1 + varintSize(UInt64(step)) + varintSize(UInt64(source)) + 1
        switch payload {
        case .empty: return header
        case .dense(let b, let p):
            let bytes = b.count * p.bytesPerValue
            return header + 1 + varintSize(UInt64(b.count)) + varintSize(UInt64(bytes)) + bytes
        case .sparse(let s): return header + s.wireByteCount
        }
    }
}

func varintSize(_ v: UInt64) -> Int { v == 0 ? 1 : (64 - v.leadingZeroBitCount + 6) / 7 }

func readPrecision(_ reader: inout WireReader) throws -> WirePrecision {
    let at = reader.offset
    let raw = try reader.read(UInt8.self)
    guard let p = WirePrecision(rawValue: raw) else { throw WireError(.malformed, "unknown wire precision \(raw)", offset: at) }
    return p
}

/// Writes values as one length-prefixed block in `precision` (2-byte formats convert here).
func writeValues(_ values: some Collection<Float>, precision: WirePrecision, to writer: inout WireWriter) {
    switch precision {
    case .fp32:
        writer.writeVarint(UInt64(values.count * 4))
        for v in values { writer.write(v.bitPattern) }
    case .fp16, .bf16:
        var halves = [UInt16]()
        halves.reserveCapacity(values.count)
        for v in values { halves.append(precision == .fp16 ? Float16(v).bitPattern : WirePrecision.bf16Bits(v)) }
        halves.withUnsafeBytes { writer.write(bytes: $0) }
    }
}

/// Reads a block written by `writeValues` (or `writeBulk` for fp32) of exactly `expected` values.
func readValues(precision: WirePrecision, expected: Int, from reader: inout WireReader) throws -> [Float] {
    let bulk = try readValueBytes(precision: precision, expected: expected, from: &reader)
    return bulk.withUnsafeBytes { raw in
        [Float](unsafeUninitializedCapacity: expected) { out, n in
            if expected > 0 { decodeValues(raw, count: expected, precision: precision, into: out.baseAddress!) }
            n = expected
        }
    }
}

/// The bytes of a block of exactly `expected` values in `precision`, checked for their length.
func readValueBytes(precision: WirePrecision, expected: Int, from reader: inout WireReader) throws -> WireBulk {
    let at = reader.offset
    let bulk = try reader.readBulk("collective values")
    guard bulk.count == expected * precision.bytesPerValue else {
        throw WireError(.malformed, "\(expected) \(precision) values need \(expected * precision.bytesPerValue) bytes, found \(bulk.count)", offset: at)
    }
    return bulk
}

/// Decodes `count` little-endian values in `precision` from `raw` into uninitialised `out`.
func decodeValues(_ raw: UnsafeRawBufferPointer, count: Int, precision: WirePrecision, into out: UnsafeMutablePointer<Float>) {
    switch precision {
    case .fp32:
        if count > 0 { UnsafeMutableRawPointer(out).copyMemory(from: raw.baseAddress!, byteCount: count * 4) }
    case .fp16:
        for i in 0..<count { (out + i).initialize(to: Float(Float16(bitPattern: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian))) }
    case .bf16:
        for i in 0..<count { (out + i).initialize(to: Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self).littleEndian) << 16)) }
    }
}

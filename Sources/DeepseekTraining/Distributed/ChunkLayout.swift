/// How a flat buffer of `count` elements is cut into one contiguous chunk per rank.
///
/// Chunk `c` covers `boundaries[c]..<boundaries[c + 1]`. The balanced layout gives every chunk
/// `count / n` or `count / n + 1` elements (some are empty when `count < n`); a ZeRO shard of rank
/// `r` is exactly chunk `r`, so reduce-scatter leaves each rank holding its own shard's gradient.
public struct ChunkLayout: Sendable, Hashable, CustomStringConvertible {
    /// `parts + 1` non-decreasing offsets from 0 to `count`.
    public let boundaries: [Int]

    /// The balanced layout of `count` elements into `parts` chunks.
    public init(count: Int, parts: Int) {
        precondition(count >= 0 && parts >= 1, "ChunkLayout needs count ≥ 0 and parts ≥ 1, got \(count), \(parts)")
        boundaries = (0...parts).map { c in Int((Int64(c) * Int64(count)) / Int64(parts)) }
    }

    /// A layout with explicit boundaries (for shards aligned to tensor boundaries).
    public init(boundaries: [Int]) {
        precondition(boundaries.count >= 2 && boundaries.first == 0, "ChunkLayout boundaries must start at 0 and have at least 2 entries")
        precondition(zip(boundaries, boundaries.dropFirst()).allSatisfy { $0 <= $1 }, "ChunkLayout boundaries must not decrease: \(boundaries)")
        self.boundaries = boundaries
    }

    /// The number of chunks.
    public var parts: Int { boundaries.count - 1 }
    /// The number of elements in all chunks.
    public var count: Int { boundaries[boundaries.count - 1] }
    /// The element range of chunk `c`.
    public func range(_ c: Int) -> Range<Int> { boundaries[c]..<boundaries[c + 1] }

    public var description: String { "ChunkLayout(\(count) in \(parts): \(boundaries))" }
}

/// The number format values travel in between ranks.
///
/// Values are rounded to the format *before* they are sent and kept rounded by the sender, so a
/// transport that hands values over in memory and one that encodes them give the same bits —
/// and every replica stays identical.
public enum WirePrecision: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case fp32 = 0
    case fp16 = 1
    case bf16 = 2

    /// Bytes per value on the wire.
    public var bytesPerValue: Int { self == .fp32 ? 4 : 2 }

    public var description: String {
        switch self {
        case .fp32: "fp32"
        case .fp16: "fp16"
        case .bf16: "bf16"
        }
    }

    /// `x` rounded to this format (to nearest, ties to even) and widened back.
    @inlinable public func round(_ x: Float) -> Float {
        switch self {
        case .fp32: x
        case .fp16: Float(Float16(x))
        case .bf16: Float(bitPattern: UInt32(Self.bf16Bits(x)) << 16)
        }
    }

    /// Rounds every value in place.
    public func round(_ values: inout [Float]) {
        guard self != .fp32 else { return }
        values.withUnsafeMutableBufferPointer { b in
            for i in b.indices { b[i] = round(b[i]) }
        }
    }

    /// The bfloat16 bit pattern nearest to `x` (NaN stays NaN).
    @inlinable static func bf16Bits(_ x: Float) -> UInt16 {
        let bits = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        let roundingBias: UInt32 = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }
}

/// The 64-bit xxHash of a byte stream (the published XXH64 algorithm), fed in pieces of any size.
///
/// Checkpoints carry it over their header fields and payload so a truncated, bit-flipped or
/// partially overwritten file is detected before anything is decoded. It is not a cryptographic
/// hash: it finds accidents, not tampering. It processes 32-byte stripes with four independent
/// lanes, so it runs at memory speed in optimized builds.
///
/// ```swift
/// var hasher = XXHash64()
/// header.withUnsafeBytes { hasher.update($0) }
/// payload.withUnsafeBytes { hasher.update($0) }
/// let digest = hasher.finalize()
/// ```
public struct XXHash64: Sendable {
    static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    private let seed: UInt64
    private var lanes: (UInt64, UInt64, UInt64, UInt64)
    private var totalLength: UInt64 = 0
    /// Bytes that do not yet fill a 32-byte stripe, kept between `update` calls.
    private var pending: [UInt8] = []

    /// Starts a hash; the same bytes with another seed give an unrelated digest.
    public init(seed: UInt64 = 0) {
        self.seed = seed
        lanes = (seed &+ Self.prime1 &+ Self.prime2, seed &+ Self.prime2, seed, seed &- Self.prime1)
        pending.reserveCapacity(32)
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        var hasher = XXHash64(seed: seed)
        hasher.update(bytes)
        return hasher.finalize()
    }

    /// The digest of `bytes` in one call.
    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always)
    private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* prime2, 31) &* prime1
    }

    @inline(__always)
    private static func merge(_ acc: UInt64, _ lane: UInt64) -> UInt64 {
        (acc ^ round(0, lane)) &* prime1 &+ prime4
    }

    @inline(__always)
    private mutating func consumeStripe(_ p: UnsafeRawPointer) {
        lanes.0 = Self.round(lanes.0, UInt64(littleEndian: p.loadUnaligned(as: UInt64.self)))
        lanes.1 = Self.round(lanes.1, UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self)))
        lanes.2 = Self.round(lanes.2, UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self)))
        lanes.3 = Self.round(lanes.3, UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    /// Feeds more bytes.
    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        totalLength &+= UInt64(bytes.count)
        var start = 0
        if !pending.isEmpty {
            let take = min(32 - pending.count, bytes.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base, count: take))
            start = take
            guard pending.count == 32 else { return }
            pending.withUnsafeBytes { consumeStripe($0.baseAddress!) }
            pending.removeAll(keepingCapacity: true)
        }
        while bytes.count - start >= 32 {
            consumeStripe(base + start)
            start += 32
        }
        if start < bytes.count {
            pending.append(contentsOf: UnsafeRawBufferPointer(start: base + start, count: bytes.count - start))
        }
    }

    /// Feeds more bytes.
    public mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything fed so far (the hasher can keep being fed afterwards).
    public func finalize() -> UInt64 {
        var h: UInt64
        if totalLength >= 32 {
            h = Self.rotl(lanes.0, 1) &+ Self.rotl(lanes.1, 7) &+ Self.rotl(lanes.2, 12) &+ Self.rotl(lanes.3, 18)
            h = Self.merge(h, lanes.0)
            h = Self.merge(h, lanes.1)
            h = Self.merge(h, lanes.2)
            h = Self.merge(h, lanes.3)
        } else {
            h = seed &+ Self.prime5
        }
        h &+= totalLength
        pending.withUnsafeBytes { tail in
            var i = 0
            while tail.count - i >= 8 {
                let k = Self.round(0, UInt64(littleEndian: tail.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                h = Self.rotl(h ^ k, 27) &* Self.prime1 &+ Self.prime4
                i += 8
            }
            if tail.count - i >= 4 {
                let k = UInt64(UInt32(littleEndian: tail.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
                h = Self.rotl(h ^ (k &* Self.prime1), 23) &* Self.prime2 &+ Self.prime3
                i += 4
            }
            while i < tail.count {
                h = Self.rotl(h ^ (UInt64(tail[i]) &* Self.prime5), 11) &* Self.prime1
                i += 1
            }
        }
        h ^= h >> 33
        h &*= Self.prime2
        h ^= h >> 29
        h &*= Self.prime3
        h ^= h >> 32
        return h
    }
}

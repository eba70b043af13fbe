/// A 128-bit digest of a structure (a graph, a scheduling problem), equal across processes and
/// runs, used to key caches of work derived from that structure.
///
/// Swift's `Hasher` is seeded randomly per process, so its values cannot key anything that
/// outlives the process or is compared between cluster nodes; this digest is a pure function of
/// the words fed to a `StructuralHasher`.
public struct StructuralHash: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    public static func < (a: Self, b: Self) -> Bool { (a.high, a.low) < (b.high, b.low) }

    /// 32 lowercase hex digits, high word first.
    public var description: String { hex(high) + hex(low) }

    private func hex(_ word: UInt64) -> String {
        let digits = String(word, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// Folds integers, strings and other words into a `StructuralHash`, deterministically.
///
/// Two independent 64-bit lanes absorb each word after a full-avalanche mix, each with its own
/// rotation and multiplier, so the result depends on the order of the words and on every bit of
/// them. Strings are fed with their UTF-8 length first, so `["ab", "c"]` and `["a", "bc"]` differ.
/// This is not a cryptographic hash: it guards against accidents, not adversaries.
///
/// ```swift
/// var hasher = StructuralHasher()
/// hasher.combine("matmul")
/// hasher.combine(64)
/// let key = hasher.finalize()
/// ```
public struct StructuralHasher: Sendable {
    private var a: UInt64
    private var b: UInt64
    private var words: UInt64 = 0

    /// A hasher; different seeds give unrelated digests for the same input.
    public init(seed: UInt64 = 0) {
        a = Self.mix(seed ^ 0x243F_6A88_85A3_08D3)
        b = Self.mix(seed ^ 0x1319_8A2E_0370_7344)
    }

    /// A full-avalanche 64-bit mix (xor-shift-multiply rounds).
    @inline(__always)
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        z = (z ^ (z >> 29)) &* 0xC4CE_B9FE_1A85_EC53
        return z ^ (z >> 32)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Absorbs one 64-bit word.
    public mutating func combine(_ word: UInt64) {
        let m = Self.mix(word &+ words &* 0x9E37_79B9_7F4A_7C15)
        a = Self.rotl(a ^ m, 27) &* 0x9FB2_1C65_1E98_DF25 &+ 0x52DC_E729
        b = Self.rotl(b &+ m, 31) &* 0xD6E8_FEB8_6659_FD93 ^ a
        words &+= 1
    }

    public mutating func combine(_ value: Int) { combine(UInt64(bitPattern: Int64(value))) }
    public mutating func combine(_ value: Bool) { combine(value ? 1 as UInt64 : 0) }

    /// Absorbs a double by its bits; `-0.0` is folded into `0.0` since they compare equal.
    public mutating func combine(_ value: Double) { combine(value == 0 ? 0 : value.bitPattern) }

    /// Absorbs a string's UTF-8 length, then its bytes eight at a time.
    public mutating func combine(_ string: String) {
        combine(UInt64(string.utf8.count))
        var word: UInt64 = 0
        var shift: UInt64 = 0
        for byte in string.utf8 {
            word |= UInt64(byte) << shift
            shift += 8
            if shift == 64 {
                combine(word)
                word = 0
                shift = 0
            }
        }
        if shift > 0 { combine(word) }
    }

    /// Absorbs an optional: a presence flag, then the value.
    public mutating func combine<T: StructurallyHashable>(_ value: T?) {
        if let value {
            combine(true)
            value.structuralHash(into: &self)
        } else {
            combine(false)
        }
    }

    /// Absorbs a structurally hashable value.
    public mutating func combine<T: StructurallyHashable>(_ value: T) { value.structuralHash(into: &self) }

    /// Absorbs a sequence with its length first.
    public mutating func combine<T: StructurallyHashable>(_ values: [T]) {
        combine(values.count)
        for value in values { value.structuralHash(into: &self) }
    }

    /// The digest of everything absorbed so far; the hasher can keep absorbing afterwards.
    public func finalize() -> StructuralHash {
        let x = Self.mix(a ^ Self.rotl(words, 17))
        let y = Self.mix(b &+ x)
        return StructuralHash(high: Self.mix(x ^ Self.rotl(y, 23)), low: y)
    }
}

/// A type whose structure can be folded into a `StructuralHasher`.
///
/// Feed everything that changes what is derived from the value (a plan, a schedule), in a fixed
/// order, and nothing that does not (caches, debug names that never reach the output).
public protocol StructurallyHashable {
    func structuralHash(into hasher: inout StructuralHasher)
}

extension StructurallyHashable {
    /// The value's digest with the default seed.
    public var structuralHash: StructuralHash {
        var hasher = StructuralHasher()
        structuralHash(into: &hasher)
        return hasher.finalize()
    }
}

extension Int: StructurallyHashable {
    public func structuralHash(into hasher: inout StructuralHasher) { hasher.combine(self) }
}

extension UInt64: StructurallyHashable {
    public func structuralHash(into hasher: inout StructuralHasher) { hasher.combine(self) }
}

extension Bool: StructurallyHashable {
    public func structuralHash(into hasher: inout StructuralHasher) { hasher.combine(self) }
}

extension Double: StructurallyHashable {
    public func structuralHash(into hasher: inout StructuralHasher) { hasher.combine(self) }
}

extension String: StructurallyHashable {
    public func structuralHash(into hasher: inout StructuralHasher) { hasher.combine(self) }
}

extension StructuralHash: StructurallyHashable {
    public func structuralHash(into hasher: inout StructuralHasher) {
        hasher.combine(high)
        hasher.combine(low)
    }
}

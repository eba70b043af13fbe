/// A fast, reproducible pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// Every random choice in Deepseek — initialisers, dropout masks, shuffles, simulated faults — draws
/// from an explicitly seeded generator so that a run with the same seed is bit-for-bit repeatable.
/// The generator is a value type: copying it forks the stream, which makes saving RNG state in a
/// checkpoint a plain copy of four words.
///
/// ```swift
/// var rng = SeededRandom(seed: 42)
/// let x = rng.nextFloat()        // uniform in [0, 1)
/// let z = rng.nextNormal()       // standard normal
/// ```
public struct SeededRandom: RandomNumberGenerator, Sendable, Hashable {
    /// The four words of generator state; restoring them restores the stream exactly.
    public private(set) var state: (UInt64, UInt64, UInt64, UInt64)

    /// A spare normal deviate from the last Box–Muller pair, so each pair is used fully.
    private var spareNormal: Double?

    /// Creates a generator whose stream is fully determined by `seed`.
    public init(seed: UInt64) {
        var sm = seed
        func splitMix(_ x: inout UInt64) -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (splitMix(&sm), splitMix(&sm), splitMix(&sm), splitMix(&sm))
        spareNormal = nil
    }

    /// Restores a generator from saved state words (for example from a checkpoint).
    public init(state: (UInt64, UInt64, UInt64, UInt64)) {
        precondition(state != (0, 0, 0, 0), "SeededRandom state must not be all zero")
        self.state = state
        spareNormal = nil
    }

    public static func == (lhs: SeededRandom, rhs: SeededRandom) -> Bool {
        lhs.state == rhs.state && lhs.spareNormal == rhs.spareNormal
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(state.0)
        hasher.combine(state.1)
        hasher.combine(state.2)
        hasher.combine(state.3)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// The next 64 random bits.
    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Self.rotl(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = Self.rotl(state.3, 45)
        return result
    }

    /// A uniform `Float` in [0, 1) with 24 bits of randomness.
    @inline(__always)
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * (1.0 / 16_777_216.0)
    }

    /// A uniform `Double` in [0, 1) with 53 bits of randomness.
    @inline(__always)
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal deviate (Box–Muller, both values of each pair used).
    public mutating func nextNormal() -> Double {
        if let spare = spareNormal {
            spareNormal = nil
            return spare
        }
        var u1 = nextDouble()
        while u1 <= .leastNormalMagnitude { u1 = nextDouble() }
        let u2 = nextDouble()
        let radius = (-2.0 * _log(u1)).squareRoot()
        let angle = 2.0 * Double.pi * u2
        spareNormal = radius * _sin(angle)
        return radius * _cos(angle)
    }

    /// A uniform integer in `0..<bound` without modulo bias.
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0, "nextInt(below:) needs a positive bound, got \(bound)")
        return Int(next(upperBound: UInt64(bound)))
    }

    /// A new generator whose stream is independent of this one (for per-worker streams).
    public mutating func split() -> SeededRandom {
        SeededRandom(seed: next())
    }
}

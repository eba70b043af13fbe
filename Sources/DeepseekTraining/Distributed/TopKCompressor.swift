#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How gradients are compressed before they are exchanged.
public enum GradientCompression: Sendable, Hashable, CustomStringConvertible {
    /// Dense gradients, all-reduced as they are.
    case none
    /// Top-k sparsification (Deep Gradient Compression).
    ///
    /// - Parameters:
    ///   - density: the fraction of entries sent per step once warm, in (0, 1] (0.05, 0.01, 0.001).
    ///   - errorFeedback: keep what was not sent as a residual and add it next step, so nothing
    ///     is lost — only delayed. Without it the unsent part is dropped.
    ///   - momentumCorrection: accumulate momentum locally with this factor (0 for none), so the
    ///     residual carries velocity rather than raw gradients; use an optimizer without momentum then.
    ///   - warmUpSteps: the density falls exponentially from `initialDensity` to `density` over
    ///     this many steps (0: from the first step).
    case topK(density: Double, errorFeedback: Bool = true, momentumCorrection: Double = 0, warmUpSteps: Int = 0, initialDensity: Double = 0.25)

    public var description: String {
        switch self {
        case .none: "none"
        case .topK(let d, let ef, let m, let w, _):
            "top-k \(d * 100)%\(ef ? " with error feedback" : "")\(m > 0 ? ", momentum correction \(m)" : "")\(w > 0 ? ", warm-up \(w) steps" : "")"
        }
    }
}

/// Top-k gradient compression with error feedback, momentum correction and density warm-up,
/// for one flat gradient vector (one bucket).
///
/// Each step: `u = m·u + g` (momentum correction; `u = g` without), `v = v + u` (the residual
/// accumulates), then the `k` entries of `v` largest in magnitude are sent and removed from `v`
/// (and from `u`: momentum factor masking). What is sent plus what stays in `v` equals what was
/// accumulated — exactly, bit for bit: sent entries are taken out, not subtracted, except for the
/// rounding to a 16-bit wire precision, whose error stays in the residual (and `a − round(a)` is
/// exact in `Float`).
///
/// Selection is deterministic: ties in magnitude go to the lower index.
public struct TopKCompressor: Sendable {
    public let count: Int
    public let density: Double
    public let errorFeedback: Bool
    public let momentum: Double
    public let warmUpSteps: Int
    public let initialDensity: Double
    /// What has been accumulated but not sent (`v`).
    public private(set) var residual: [Float]
    /// The locally accumulated momentum (`u`; zeros without momentum correction).
    public private(set) var velocity: [Float]
    /// Steps compressed so far.
    public private(set) var step = 0

    /// - Throws: `CollectiveError.invalidArgument` for a density outside (0, 1] or a negative momentum.
    public init(count: Int, _ compression: GradientCompression) throws {
        guard case .topK(let density, let errorFeedback, let momentum, let warmUpSteps, let initial) = compression else {
            throw CollectiveError(.invalidArgument, "TopKCompressor needs .topK compression, got \(compression)")
        }
        guard density > 0 && density <= 1, initial > 0 && initial <= 1 else {
            throw CollectiveError(.invalidArgument, "top-k density must be in (0, 1], got \(density) (initial \(initial)); 0.01 sends 1 % of the entries")
        }
        guard momentum >= 0 && momentum < 1, warmUpSteps >= 0 else {
            throw CollectiveError(.invalidArgument, "momentum correction must be in [0, 1) and warm-up ≥ 0, got \(momentum), \(warmUpSteps)")
        }
        self.count = count
        self.density = density
        self.errorFeedback = errorFeedback
        self.momentum = momentum
        self.warmUpSteps = warmUpSteps
        self.initialDensity = max(initial, density)
        residual = [Float](repeating: 0, count: count)
        velocity = momentum > 0 ? [Float](repeating: 0, count: count) : []
    }

    /// The density used at `step`: exponential decay from the initial density during warm-up.
    public func density(atStep step: Int) -> Double {
        guard step < warmUpSteps else { return density }
        return initialDensity * pow(density / initialDensity, Double(step) / Double(warmUpSteps))
    }

    /// Entries sent at `step`: at least one when there is anything.
    public func k(atStep step: Int) -> Int { count == 0 ? 0 : min(count, max(1, Int((Double(count) * density(atStep: step)).rounded()))) }

    /// Adds `gradient` to what is accumulated and takes out the top-k entries to send.
    public mutating func compress(_ gradient: [Float], precision: WirePrecision = .fp32) -> SparseGradient {
        precondition(gradient.count == count, "TopKCompressor: gradient of \(gradient.count) values, compressor of \(count)")
        let m = Float(momentum)
        if !errorFeedback { residual.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        gradient.withUnsafeBufferPointer { g in
            residual.withUnsafeMutableBufferPointer { v in
                if m > 0 {
                    velocity.withUnsafeMutableBufferPointer { u in
                        for i in 0..<count {
                            u[i] = m * u[i] + g[i]
                            v[i] = v[i] + u[i]
                        }
                    }
                } else {
                    for i in 0..<count { v[i] = v[i] + g[i] }
                }
            }
        }
        let indices = residual.withUnsafeBufferPointer { topKIndices($0, k: k(atStep: step)) }
        var values: [Float] = []
        values.reserveCapacity(indices.count)
        residual.withUnsafeMutableBufferPointer { v in
            for i in indices {
                let sent = precision.round(v[Int(i)])
                values.append(sent)
                v[Int(i)] = v[Int(i)] - sent  // 0 in fp32; the rounding error otherwise
            }
        }
        if m > 0 { velocity.withUnsafeMutableBufferPointer { u in for i in indices { u[Int(i)] = 0 } } }
        if !errorFeedback { residual.withUnsafeMutableBufferPointer { $0.update(repeating: 0) } }
        step += 1
        return SparseGradient(count: count, indices: indices, values: values, precision: precision)
    }

    /// Restores the residual and velocity saved from another compressor of the same size.
    public mutating func restore(residual: [Float], velocity: [Float], step: Int) {
        precondition(residual.count == count && (velocity.isEmpty || velocity.count == count), "TopKCompressor.restore: sizes differ")
        self.residual = residual
        if momentum > 0 { self.velocity = velocity.isEmpty ? [Float](repeating: 0, count: count) : velocity }
        self.step = step
    }
}


/// Indices of the `k` largest magnitudes (NaN counts as infinite), ascending; ties go to the
/// lower index. Linear time on average (quickselect on a copy of the magnitudes).
func topKIndices(_ v: UnsafeBufferPointer<Float>, k: Int) -> [UInt32] {
    let n = v.count
    guard k > 0 else { return [] }
    if k >= n { return (0..<n).map { UInt32($0) } }
    var mags = v.map { $0.isNaN ? Float.infinity : abs($0) }
    // Quickselect the k-th largest into position k − 1 (descending order).
    var lo = 0
    var hi = n - 1
    let target = k - 1
    while lo < hi {
        let mid = lo + (hi - lo) / 2
        let a = mags[lo], b = mags[mid], c = mags[hi]
        let pivot = max(min(a, b), min(max(a, b), c))
        var i = lo
        var j = hi
        while i <= j {
            while mags[i] > pivot { i += 1 }
            while mags[j] < pivot { j -= 1 }
            if i <= j {
                mags.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if target <= j { hi = j } else if target >= i { lo = i } else { break }
    }
    let threshold = mags[target]
    var greater = 0
    for x in v where (x.isNaN ? Float.infinity : abs(x)) > threshold { greater += 1 }
    var ties = k - greater
    var out: [UInt32] = []
    out.reserveCapacity(k)
    for i in 0..<n {
        let m = v[i].isNaN ? Float.infinity : abs(v[i])
        if m > threshold {
            out.append(UInt32(i))
        } else if m == threshold && ties > 0 {
            out.append(UInt32(i))
            ties -= 1
        }
    }
    return out
}

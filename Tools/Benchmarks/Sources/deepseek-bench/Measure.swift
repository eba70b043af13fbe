#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Monotonic wall-clock time in seconds.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// CPU time this process has used, all threads together, in seconds.
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The per-call times of one contestant over all repetitions.
struct Samples: Sendable {
    /// Seconds per call, one entry per repetition.
    var seconds: [Double]

    /// The median seconds per call: robust against the other work on a shared machine.
    var median: Double {
        let sorted = seconds.sorted()
        guard !sorted.isEmpty else { return .nan }
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    var minimum: Double { seconds.min() ?? .nan }

    /// How many times faster these calls are than `baseline`'s: the median over repetitions of
    /// `baseline time ÷ this time`, each pair timed back to back in the same repetition.
    ///
    /// On a shared machine conditions drift between repetitions (another VM on the host, the
    /// other core busy); a ratio taken inside one repetition cancels that drift, where a ratio of
    /// two medians taken minutes apart does not.
    func pairedSpeedup(over baseline: Samples) -> Double {
        let ratios = zip(baseline.seconds, seconds).map { $0 / $1 }
        return Samples(seconds: ratios).median
    }
    var maximum: Double { seconds.max() ?? .nan }
}

/// One timed piece of work in a comparison.
struct Contestant {
    var name: String
    var body: () throws -> Void
}

/// Times several contestants against each other.
///
/// Every repetition times each contestant once, in an order that rotates from one repetition
/// to the next, so a burst of other work on the machine lands on all of them alike instead of
/// on whichever ran during it. One sample runs the body often enough to last at least
/// `minimumSampleSeconds` (calibrated from a warm-up call), which keeps timer resolution and
/// thread wake-ups out of small cases.
struct Sampler {
    var repetitions: Int
    var minimumSampleSeconds: Double

    func measure(_ contestants: [Contestant]) throws -> [Samples] {
        var inner = [Int](repeating: 1, count: contestants.count)
        for (i, c) in contestants.enumerated() {
            let start = monotonicSeconds()
            try c.body()  // warm-up: first-touch pages, thread pools, program caches
            let first = monotonicSeconds() - start
            if first < minimumSampleSeconds {
                inner[i] = Int(minimumSampleSeconds / max(first, 1e-9)) + 1
            }
        }
        var samples = [Samples](repeating: Samples(seconds: []), count: contestants.count)
        for rep in 0..<repetitions {
            for k in 0..<contestants.count {
                let i = (k + rep) % contestants.count
                let body = contestants[i].body
                let start = monotonicSeconds()
                for _ in 0..<inner[i] { try body() }
                samples[i].seconds.append((monotonicSeconds() - start) / Double(inner[i]))
            }
        }
        return samples
    }
}

/// The 1-minute load average, for the report: results are only comparable on a quiet machine.
func loadAverage() -> Double {
    var loads = [Double](repeating: 0, count: 3)
    return getloadavg(&loads, 3) >= 1 ? loads[0] : .nan
}

import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Splits loops over the cores with `DispatchQueue.concurrentPerform`.
///
/// Kernels hand raw pointers to the workers; each worker writes a disjoint part of the output,
/// which is what makes sharing the pointers sound even though Swift cannot prove it.
struct Parallel: Sendable {
    /// Workers to use (at least 1).
    let threads: Int

    /// Below this many elements a loop runs on the calling thread: waking a second core costs
    /// 30–65 µs on the machines measured, about what one core needs for 256K simple elements.
    static let minimumElements = 1 << 18

    static let onlineCores: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    init(threads: Int?) { self.threads = max(1, threads ?? Self.onlineCores) }

    /// How many parts to cut `work` units into, when each part should hold at least `grain` units.
    func parts(for work: Int, grain: Int = Parallel.minimumElements) -> Int {
        guard threads > 1, work >= 2 * grain else { return 1 }
        return min(threads, work / grain)
    }

    /// Calls `body` with contiguous sub-ranges of `0..<count` that cover it exactly once, on up
    /// to `parts` threads. Ranges are in order of their part index.
    func forEachRange(_ count: Int, parts: Int, _ body: (Range<Int>) -> Void) {
        if parts <= 1 || count <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        let n = min(parts, count)
        withoutActuallyEscaping(body) { escapable in
            let box = UncheckedBox(escapable)
            DispatchQueue.concurrentPerform(iterations: n) { part in
                let lo = count * part / n
                let hi = count * (part + 1) / n
                if lo < hi { box.value(lo..<hi) }
            }
        }
    }

    /// Calls `body(i)` for every `i` in `0..<count`, split over up to `parts` threads.
    func forEach(_ count: Int, parts: Int, _ body: (Int) -> Void) {
        forEachRange(count, parts: parts) { range in
            for i in range { body(i) }
        }
    }
}

/// Carries a value that Swift cannot prove `Sendable` (a closure over raw pointers) into the
/// workers of one `concurrentPerform`; the caller guarantees the workers touch disjoint memory.
struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

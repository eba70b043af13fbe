/// The figures of a memory plan: how many values it covers, and the peak memory without planning,
/// with planning, and at the theoretical lower bound.
///
/// All byte figures count each value rounded up to the plan's alignment, so the three peaks compare
/// like with like: `lowerBoundByteCount ≤ arenaByteCount ≤ unplannedByteCount`.
///
/// `description` is a multi-line summary for logs and the CLI:
///
/// ```
/// Memory plan: 9 steps, 12 values
///   arena:       7 activations (1 graph output) in 5 slots, 2 buffers, 2 in-place reuses
///   outside:     5 values (2 graph inputs, 3 parameters, 0 constants)
///   unplanned:   28.0 KiB (28672 bytes: every activation its own buffer for the whole run)
///   planned:     8.0 KiB (8192 bytes)
///   lower bound: 8.0 KiB (8192 bytes: largest live set, at step 4)
///   saved:       71.4% of the unplanned bytes
/// ```
public struct MemoryPlanReport: Sendable, Hashable, CustomStringConvertible {
    /// The number of steps in the execution order.
    public var stepCount: Int
    /// The number of values in the problem, planned or not.
    public var valueCount: Int
    /// The number of activations placed in the arena.
    public var plannedValueCount: Int
    /// How many of the planned activations are graph outputs (alive until the end of the run).
    public var graphOutputCount: Int
    /// Graph inputs, which live outside the arena.
    public var graphInputCount: Int
    /// Parameters, which live outside the arena.
    public var parameterCount: Int
    /// Constants, which live outside the arena.
    public var constantCount: Int
    /// Allocations after merging in-place pairs: each slot is one contiguous lifetime in the arena.
    public var slotCount: Int
    /// Distinct arena offsets in use by non-empty slots: the buffers the arena is carved into.
    public var bufferCount: Int
    /// The number of in-place pairs honoured.
    public var inPlaceReuseCount: Int
    /// Peak bytes without planning: every activation its own buffer, all alive for the whole run.
    public var unplannedByteCount: Int
    /// Peak bytes with planning: the arena size.
    public var arenaByteCount: Int
    /// The largest sum of live slot sizes over all steps; no placement of these slots can do better.
    public var lowerBoundByteCount: Int
    /// The first step at which the live set reaches ``lowerBoundByteCount``, if any slot exists.
    public var peakStep: Int?

    public init(
        stepCount: Int, valueCount: Int, plannedValueCount: Int, graphOutputCount: Int, graphInputCount: Int,
        parameterCount: Int, constantCount: Int, slotCount: Int, bufferCount: Int, inPlaceReuseCount: Int,
        unplannedByteCount: Int, arenaByteCount: Int, lowerBoundByteCount: Int, peakStep: Int?
    ) {
        self.stepCount = stepCount
        self.valueCount = valueCount
        self.plannedValueCount = plannedValueCount
        self.graphOutputCount = graphOutputCount
        self.graphInputCount = graphInputCount
        self.parameterCount = parameterCount
        self.constantCount = constantCount
        self.slotCount = slotCount
        self.bufferCount = bufferCount
        self.inPlaceReuseCount = inPlaceReuseCount
        self.unplannedByteCount = unplannedByteCount
        self.arenaByteCount = arenaByteCount
        self.lowerBoundByteCount = lowerBoundByteCount
        self.peakStep = peakStep
    }

    /// The fraction of the unplanned bytes the arena saves, in 0...1 (0 when nothing is planned).
    public var savedFraction: Double {
        guard unplannedByteCount > 0 else { return 0 }
        return 1 - Double(arenaByteCount) / Double(unplannedByteCount)
    }

    /// How far the arena is above the lower bound, as a fraction of the lower bound (0 when optimal).
    public var overheadOverLowerBound: Double {
        guard lowerBoundByteCount > 0 else { return 0 }
        return Double(arenaByteCount) / Double(lowerBoundByteCount) - 1
    }

    public var description: String {
        let outside = graphInputCount + parameterCount + constantCount
        let peak = peakStep.map { ", at step \($0)" } ?? ""
        let n = Self.counted
        return """
            Memory plan: \(n(stepCount, "step")), \(n(valueCount, "value"))
              arena:       \(n(plannedValueCount, "activation")) (\(n(graphOutputCount, "graph output"))) in \
            \(n(slotCount, "slot")), \(n(bufferCount, "buffer")), \(n(inPlaceReuseCount, "in-place reuse"))
              outside:     \(n(outside, "value")) (\(n(graphInputCount, "graph input")), \
            \(n(parameterCount, "parameter")), \(n(constantCount, "constant")))
              unplanned:   \(Self.formatBytes(unplannedByteCount)) (\(unplannedByteCount) bytes: every activation \
            its own buffer for the whole run)
              planned:     \(Self.formatBytes(arenaByteCount)) (\(arenaByteCount) bytes)
              lower bound: \(Self.formatBytes(lowerBoundByteCount)) (\(lowerBoundByteCount) bytes: largest live \
            set\(peak))
              saved:       \(Self.formatTenths(savedFraction * 100))% of the unplanned bytes
            """
    }

    /// `3 steps`, `1 step`: English plurals for the nouns of the summary.
    private static func counted(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }

    /// `1536` → `1.5 KiB`; binary units with one decimal, computed in integers so the text is exact
    /// and the same on every platform.
    package static func formatBytes(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var unitIndex = 0
        var scale = 1
        while unitIndex + 1 < units.count, bytes >= scale * 1024 {
            scale *= 1024
            unitIndex += 1
        }
        if unitIndex == 0 { return "\(bytes) bytes" }
        let tenths = (bytes * 10 + scale / 2) / scale
        return "\(tenths / 10).\(tenths % 10) \(units[unitIndex])"
    }

    /// A non-negative number with one decimal, rounded down (so 99.96% saved never reads as 100%),
    /// with a little slack for the binary representation of values such as 80.
    package static func formatTenths(_ value: Double) -> String {
        let tenths = Int((max(0, value) * 10 + 1e-6).rounded(.down))
        return "\(tenths / 10).\(tenths % 10)"
    }
}

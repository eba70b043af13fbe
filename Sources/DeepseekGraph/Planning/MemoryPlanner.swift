/// Options of the memory planner.
public struct MemoryPlannerSettings: Sendable, Hashable {
    /// The alignment of every arena offset, in bytes; a power of two. 64 bytes covers the widest
    /// vector loads and a cache line.
    public var alignment: Int
    /// Whether in-place hints are honoured; turning them off shows what in-place reuse saves.
    public var honorsInPlaceHints: Bool

    public init(alignment: Int = 64, honorsInPlaceHints: Bool = true) {
        self.alignment = alignment
        self.honorsInPlaceHints = honorsInPlaceHints
    }
}

/// Static memory planning for one execution order: liveness intervals, in-place reuse, and arena
/// offsets assigned greedily by size with best fit.
///
/// Planning runs once per graph and schedule (the result can be cached with the plan); executing
/// the schedule then needs a single arena allocation instead of one allocation per activation.
///
/// ```swift
/// let plan = try MemoryPlanner.plan(problem)
/// try MemoryPlanner.validate(plan, against: problem)   // a debug check
/// print(plan.report)
/// ```
public enum MemoryPlanner {
    /// Plans arena offsets for every activation of `problem`.
    ///
    /// A value's lifetime runs from the step that writes it to the last step that reads it, both
    /// inclusive, so an output never shares bytes with an input of the same step unless an
    /// in-place hint allows it; graph outputs live to the last step. An activation that no step
    /// writes or reads gets no placement.
    ///
    /// - Throws: ``MemoryPlanningError`` when a step names an unknown value, writes a value that is
    ///   not an activation or that another step writes, reads an activation no earlier step wrote,
    ///   or gives an in-place hint for a value it does not write or read; and when a byte count is
    ///   negative or absurdly large.
    /// - Complexity: O((V + R) + n log n + Σ k log k) for V values, R reads and writes, n planned
    ///   values and k the number of placed values overlapping each one in time.
    public static func plan(
        _ problem: MemoryPlanningProblem, settings: MemoryPlannerSettings = MemoryPlannerSettings()
    ) throws(MemoryPlanningError) -> MemoryPlan {
        let alignment = settings.alignment
        precondition(
            alignment > 0 && alignment & (alignment - 1) == 0,
            "MemoryPlannerSettings.alignment must be a positive power of two, got \(alignment)")

        let liveness = try Liveness(problem)
        let values = problem.values
        let stepCount = problem.steps.count
        func aligned(_ bytes: Int) -> Int { (bytes + alignment - 1) & ~(alignment - 1) }

        // Slots: one per planned value, merged along honoured in-place pairs. A pair always joins
        // the slot whose latest member is the input, so every slot is a chain in time.
        var slotOf = [Int](repeating: -1, count: values.count)
        var slotStarts: [Int] = []
        var slotEnds: [Int] = []
        var slotSizes: [Int] = []
        var donated = [Bool](repeating: false, count: values.count)
        var reuses: [MemoryPlan.InPlaceReuse] = []

        func openSlot(for value: Int) {
            slotOf[value] = slotStarts.count
            slotStarts.append(liveness.starts[value])
            slotEnds.append(liveness.ends[value])
            slotSizes.append(aligned(values[value].byteCount))
        }

        for (stepIndex, step) in problem.steps.enumerated() {
            for output in step.writes where slotOf[output] < 0 {
                if settings.honorsInPlaceHints,
                    let hint = step.inPlaceHints.first(where: {
                        $0.output == output && canReuse($0.input, for: output, at: stepIndex, donated, liveness, values)
                    })
                {
                    let slot = slotOf[hint.input]
                    slotOf[output] = slot
                    slotEnds[slot] = max(slotEnds[slot], liveness.ends[output])
                    slotSizes[slot] = max(slotSizes[slot], aligned(values[output].byteCount))
                    donated[hint.input] = true
                    reuses.append(.init(step: stepIndex, input: hint.input, output: output))
                } else {
                    openSlot(for: output)
                }
            }
        }

        let (slotOffsets, arenaEnd) = placeGreedyBySize(
            starts: slotStarts, ends: slotEnds, sizes: slotSizes, stepCount: stepCount)

        var placements = [MemoryPlan.Placement?](repeating: nil, count: values.count)
        var released = [[Int]](repeating: [], count: stepCount)
        var unplannedByteCount = 0
        var plannedValueCount = 0
        var graphOutputCount = 0
        for value in values.indices where slotOf[value] >= 0 {
            let lifetime = liveness.starts[value]...liveness.ends[value]
            placements[value] = .init(
                offset: slotOffsets[slotOf[value]], byteCount: values[value].byteCount, lifetime: lifetime)
            unplannedByteCount += aligned(values[value].byteCount)
            plannedValueCount += 1
            if values[value].isGraphOutput {
                graphOutputCount += 1
            } else {
                released[lifetime.upperBound].append(value)
            }
        }

        let (lowerBound, peakStep) = largestLiveSet(
            starts: slotStarts, ends: slotEnds, sizes: slotSizes, stepCount: stepCount)
        var bufferOffsets = Set<Int>()
        for slot in slotSizes.indices where slotSizes[slot] > 0 { bufferOffsets.insert(slotOffsets[slot]) }

        let report = MemoryPlanReport(
            stepCount: stepCount, valueCount: values.count, plannedValueCount: plannedValueCount,
            graphOutputCount: graphOutputCount,
            graphInputCount: values.count(where: { $0.kind == .graphInput }),
            parameterCount: values.count(where: { $0.kind == .parameter }),
            constantCount: values.count(where: { $0.kind == .constant }),
            slotCount: slotSizes.count, bufferCount: bufferOffsets.count, inPlaceReuseCount: reuses.count,
            unplannedByteCount: unplannedByteCount, arenaByteCount: aligned(arenaEnd),
            lowerBoundByteCount: lowerBound, peakStep: peakStep)
        return MemoryPlan(
            alignment: alignment, placements: placements, inPlaceReuses: reuses, arenaByteCount: aligned(arenaEnd),
            releasedAfterStep: released, report: report)
    }

    /// Whether `output` may take over the storage of `input` at `step`: the input is a planned
    /// activation that the caller does not need afterwards, this step is its last reader, it has
    /// not already been given away, and the output fits in it.
    private static func canReuse(
        _ input: Int, for output: Int, at step: Int, _ donated: [Bool], _ liveness: Liveness,
        _ values: [MemoryPlanningProblem.Value]
    ) -> Bool {
        let source = values[input]
        return source.kind == .activation && !source.isGraphOutput && !donated[input]
            && liveness.ends[input] == step && values[output].byteCount <= source.byteCount
    }

    /// The largest sum of live slot sizes over the steps and the first step where it occurs, by a
    /// difference array over the steps.
    private static func largestLiveSet(
        starts: [Int], ends: [Int], sizes: [Int], stepCount: Int
    ) -> (bytes: Int, step: Int?) {
        guard !sizes.isEmpty else { return (0, nil) }
        var delta = [Int](repeating: 0, count: stepCount + 1)
        for slot in sizes.indices {
            delta[starts[slot]] += sizes[slot]
            delta[ends[slot] + 1] -= sizes[slot]
        }
        var live = 0
        var best = 0
        var bestStep = 0
        for step in 0..<stepCount {
            live += delta[step]
            if live > best {
                best = live
                bestStep = step
            }
        }
        return (best, bestStep)
    }
}

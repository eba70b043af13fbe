extension MemoryPlanner {
    /// Proves that `plan` is a correct memory plan for `problem`, or throws the first violation.
    ///
    /// Recomputes every lifetime from the problem (independently of the planner) and checks that:
    /// exactly the written activations are placed, with the problem's byte counts and lifetimes;
    /// every offset is aligned and every value fits inside the arena; every in-place reuse is one
    /// the problem allows (a hinted pair whose input is an activation, not a graph output, read for
    /// the last time by the step that writes the output, at the same offset, no larger than the
    /// input); and no two values live at the same step share a byte, apart from those pairs.
    ///
    /// Meant for tests and as a debug check before executing a plan.
    ///
    /// - Throws: ``MemoryPlanningError`` with code `invalidPlan`, naming the values and step.
    /// - Complexity: O(V + R + n log n + n·m) for n placed values and at most m live at once.
    public static func validate(
        _ plan: MemoryPlan, against problem: MemoryPlanningProblem
    ) throws(MemoryPlanningError) {
        func fail(_ message: String) -> MemoryPlanningError { MemoryPlanningError(.invalidPlan, message) }
        let values = problem.values
        let stepCount = problem.steps.count
        guard plan.placements.count == values.count else {
            throw fail("the plan places \(plan.placements.count) values but the problem has \(values.count)")
        }
        guard plan.alignment > 0, plan.alignment & (plan.alignment - 1) == 0,
            plan.arenaByteCount >= 0, plan.arenaByteCount % plan.alignment == 0
        else {
            throw fail("alignment \(plan.alignment) and arena size \(plan.arenaByteCount) must be a power of two "
                + "and a multiple of it")
        }

        // Lifetimes straight from the definition: writer to last reader, or to the end for outputs.
        var firstStep = [Int](repeating: -1, count: values.count)
        var lastStep = [Int](repeating: -1, count: values.count)
        for (stepIndex, step) in problem.steps.enumerated() {
            for value in step.writes + step.reads where !values.indices.contains(value) {
                throw fail("step \(stepIndex) names value \(value), outside the problem's \(values.count) values")
            }
            for value in step.writes where firstStep[value] < 0 { firstStep[value] = stepIndex }
            for value in step.reads + step.writes { lastStep[value] = max(lastStep[value], stepIndex) }
        }
        for value in values.indices where values[value].isGraphOutput && firstStep[value] >= 0 {
            lastStep[value] = stepCount - 1
        }

        for (value, placement) in plan.placements.enumerated() {
            let expected = values[value].isPlanned && firstStep[value] >= 0
            guard let placement else {
                if expected { throw fail("activation \(value) is written by step \(firstStep[value]) but not placed") }
                continue
            }
            guard expected else {
                throw fail(
                    "value \(value) (\(values[value].kind)) has an arena placement but is not a written activation")
            }
            guard placement.lifetime == firstStep[value]...lastStep[value] else {
                throw fail("value \(value) has lifetime \(placement.lifetime) in the plan but "
                    + "\(firstStep[value])...\(lastStep[value]) in the problem")
            }
            guard placement.byteCount == values[value].byteCount else {
                throw fail("value \(value) has \(placement.byteCount) bytes in the plan but \(values[value].byteCount) "
                    + "in the problem")
            }
            guard placement.offset >= 0, placement.offset % plan.alignment == 0,
                placement.offset + placement.byteCount <= plan.arenaByteCount
            else {
                throw fail("value \(value) at bytes \(placement.byteRange) is misaligned (alignment \(plan.alignment)) "
                    + "or outside the arena of \(plan.arenaByteCount) bytes")
            }
        }

        // In-place pairs chain values into groups that own one region for their joint lifetime.
        var next = [Int](repeating: -1, count: values.count)
        var previous = [Int](repeating: -1, count: values.count)
        for reuse in plan.inPlaceReuses {
            try checkReuse(reuse, plan: plan, problem: problem, next: &next, previous: &previous)
        }

        var groups: [ValidationGroup] = []
        for value in values.indices where plan.placements[value] != nil && previous[value] < 0 {
            var members = [value]
            while next[members[members.count - 1]] >= 0 { members.append(next[members[members.count - 1]]) }
            let placements = members.map { plan.placements[$0]! }
            let size = placements.map(\.byteCount).max()!
            guard size > 0 else { continue }
            groups.append(
                ValidationGroup(
                    members: members, start: placements[0].lifetime.lowerBound,
                    end: placements.map(\.lifetime.upperBound).max()!,
                    bytes: placements[0].offset..<(placements[0].offset + size)))
        }
        try sweepForOverlaps(groups, stepCount: stepCount)
    }

    /// Checks one in-place reuse against the problem and links it into the chains.
    private static func checkReuse(
        _ reuse: MemoryPlan.InPlaceReuse, plan: MemoryPlan, problem: MemoryPlanningProblem,
        next: inout [Int], previous: inout [Int]
    ) throws(MemoryPlanningError) {
        func fail(_ why: String) -> MemoryPlanningError {
            MemoryPlanningError(
                .invalidPlan,
                "in-place reuse of value \(reuse.input) by value \(reuse.output) at step \(reuse.step) is not "
                    + "allowed: \(why)")
        }
        let values = problem.values
        guard problem.steps.indices.contains(reuse.step), values.indices.contains(reuse.input),
            values.indices.contains(reuse.output)
        else { throw fail("the step or a value index is outside the problem") }
        guard problem.steps[reuse.step].inPlaceHints.contains(.init(output: reuse.output, input: reuse.input)) else {
            throw fail("the step gives no such hint")
        }
        let input = values[reuse.input]
        guard input.kind == .activation, !input.isGraphOutput else {
            throw fail("the input is a \(input.kind)\(input.isGraphOutput ? " and a graph output" : ""), still needed")
        }
        guard let source = plan.placements[reuse.input], let target = plan.placements[reuse.output] else {
            throw fail("both values must be placed in the arena")
        }
        guard source.lifetime.upperBound == reuse.step, target.lifetime.lowerBound == reuse.step else {
            throw fail("the input must be read for the last time by the step that writes the output")
        }
        guard source.offset == target.offset, target.byteCount <= source.byteCount else {
            throw fail("the output must sit at the input's offset and be no larger")
        }
        guard next[reuse.input] < 0, previous[reuse.output] < 0 else {
            throw fail("a value may give its storage away once and receive storage once")
        }
        next[reuse.input] = reuse.output
        previous[reuse.output] = reuse.input
    }

    /// A chain of values sharing one arena region, in-place pair by pair.
    private struct ValidationGroup {
        var members: [Int]
        var start: Int
        var end: Int
        var bytes: Range<Int>

        var name: String {
            members.count == 1
                ? "value \(members[0])" : "values \(members.map(String.init).joined(separator: "→")) (in place)"
        }
    }

    /// Sweeps the steps keeping the live groups sorted by offset; since the live set is disjoint,
    /// a newly live group only needs checking against its two neighbours.
    private static func sweepForOverlaps(_ groups: [ValidationGroup], stepCount: Int) throws(MemoryPlanningError) {
        var startingAt = [[Int]](repeating: [], count: stepCount)
        var endingAt = [[Int]](repeating: [], count: stepCount)
        for (index, group) in groups.enumerated() {
            startingAt[group.start].append(index)
            endingAt[group.end].append(index)
        }
        var live: [Int] = []  // group indices sorted by offset
        func firstIndex(notBelow offset: Int) -> Int {
            var low = 0
            var high = live.count
            while low < high {
                let middle = (low + high) / 2
                if groups[live[middle]].bytes.lowerBound < offset { low = middle + 1 } else { high = middle }
            }
            return low
        }
        func conflict(_ a: ValidationGroup, _ b: ValidationGroup, _ step: Int) -> MemoryPlanningError {
            MemoryPlanningError(
                .invalidPlan,
                "\(a.name) and \(b.name) are both live at step \(step) but their arena bytes \(a.bytes) and "
                    + "\(b.bytes) overlap")
        }
        for step in 0..<stepCount {
            for index in startingAt[step] {
                let group = groups[index]
                let position = firstIndex(notBelow: group.bytes.lowerBound)
                if position > 0, groups[live[position - 1]].bytes.upperBound > group.bytes.lowerBound {
                    throw conflict(groups[live[position - 1]], group, step)
                }
                if position < live.count, groups[live[position]].bytes.lowerBound < group.bytes.upperBound {
                    throw conflict(groups[live[position]], group, step)
                }
                live.insert(index, at: position)
            }
            for index in endingAt[step] {
                live.remove(at: firstIndex(notBelow: groups[index].bytes.lowerBound))
            }
        }
    }
}

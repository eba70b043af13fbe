import DeepseekCore
import DeepseekGraph

/// Problem generators and an independent brute-force oracle for the memory planner tests.
enum MemoryPlanningFixtures {
    /// A chain `x → a1 → … → an` of equal-sized activations; the last is a graph output. With
    /// `inPlace`, every step after the first may write its output over its input.
    static func chain(length: Int, byteCount: Int, inPlace: Bool = false) -> MemoryPlanningProblem {
        var problem = MemoryPlanningProblem()
        var previous = problem.addValue(byteCount: byteCount, kind: .graphInput)
        for index in 0..<length {
            let next = problem.addValue(byteCount: byteCount, isGraphOutput: index == length - 1)
            let hints = inPlace && index > 0 ? [MemoryPlanningProblem.InPlaceHint(output: next, input: previous)] : []
            problem.addStep(reads: [previous], writes: [next], inPlace: hints)
            previous = next
        }
        return problem
    }

    /// A random schedule: graph inputs, parameters and constants up front, then steps that each read
    /// one to three earlier values (mostly recent ones, sometimes old ones, which makes long
    /// lifetimes) and write one or two new activations, with random in-place hints that may or may
    /// not be safe to honour. Some activations are graph outputs; some are never read.
    static func randomSchedule(
        stepCount: Int, using rng: inout SeededRandom, maxByteCount: Int = 5000
    ) -> MemoryPlanningProblem {
        var problem = MemoryPlanningProblem()
        func randomBytes() -> Int {
            switch rng.nextInt(below: 10) {
            case 0: 0
            case 1: 1 + rng.nextInt(below: 64)
            default: 1 + rng.nextInt(below: maxByteCount)
            }
        }
        var readable: [Int] = []
        for kind in [MemoryPlanningProblem.Value.Kind.graphInput, .parameter, .constant] {
            for _ in 0..<(1 + rng.nextInt(below: 3)) {
                readable.append(problem.addValue(byteCount: randomBytes(), kind: kind))
            }
        }
        for _ in 0..<stepCount {
            var reads: [Int] = []
            for _ in 0..<(1 + rng.nextInt(below: 3)) {
                let pick =
                    rng.nextInt(below: 4) == 0
                    ? rng.nextInt(below: readable.count)
                    : max(0, readable.count - 1 - rng.nextInt(below: min(readable.count, 4)))
                reads.append(readable[pick])
            }
            var writes: [Int] = []
            var hints: [MemoryPlanningProblem.InPlaceHint] = []
            for _ in 0..<(1 + rng.nextInt(below: 2)) {
                let output = problem.addValue(byteCount: randomBytes(), isGraphOutput: rng.nextInt(below: 12) == 0)
                writes.append(output)
                if rng.nextInt(below: 2) == 0 {
                    let input = reads[rng.nextInt(below: reads.count)]
                    // Often an element-wise op: the output takes the input's size exactly.
                    if rng.nextInt(below: 3) != 0 { problem.values[output].byteCount = problem.values[input].byteCount }
                    hints.append(.init(output: output, input: input))
                }
            }
            problem.addStep(reads: reads, writes: writes, inPlace: hints)
            readable += writes
        }
        return problem
    }

    /// Inference through a stack of transformer-style blocks: a residual stream, attention and an
    /// MLP with a wider hidden layer, element-wise ops hinted in place. Lifetimes are short apart
    /// from the residual, the sparse case most inference graphs are. About 14 activations a block.
    static func inferenceLike(blocks: Int, width: Int = 1 << 16) -> MemoryPlanningProblem {
        var problem = MemoryPlanningProblem()
        func parameter(_ bytes: Int) -> Int { problem.addValue(byteCount: bytes, kind: .parameter) }
        func op(_ reads: [Int], bytes: Int, inPlaceOf input: Int? = nil, output: Bool = false) -> Int {
            let value = problem.addValue(byteCount: bytes, isGraphOutput: output)
            let hints = input.map { [MemoryPlanningProblem.InPlaceHint(output: value, input: $0)] } ?? []
            problem.addStep(reads: reads, writes: [value], inPlace: hints)
            return value
        }
        var residual = problem.addValue(byteCount: width, kind: .graphInput)
        for block in 0..<blocks {
            let normed = op([residual, parameter(width / 64)], bytes: width)
            let query = op([normed, parameter(width)], bytes: width)
            let key = op([normed, parameter(width)], bytes: width)
            let value = op([normed, parameter(width)], bytes: width)
            let scores = op([query, key], bytes: width * 2)
            let weights = op([scores], bytes: width * 2, inPlaceOf: scores)
            let attended = op([weights, value], bytes: width)
            let projected = op([attended, parameter(width)], bytes: width)
            let mid = op([residual, projected], bytes: width, inPlaceOf: projected)
            let normed2 = op([mid, parameter(width / 64)], bytes: width)
            let up = op([normed2, parameter(width * 4)], bytes: width * 4)
            let activated = op([up], bytes: width * 4, inPlaceOf: up)
            let down = op([activated, parameter(width * 4)], bytes: width)
            residual = op([mid, down], bytes: width, inPlaceOf: down, output: block == blocks - 1)
        }
        return problem
    }

    /// A training step of a deep chain: the forward pass saves every activation for the backward
    /// pass, so lifetimes nest and every forward activation is live at the turn, the worst case
    /// for overlap. Produces `2 * layers` activations of mixed sizes.
    static func trainingLike(layers: Int) -> MemoryPlanningProblem {
        var problem = MemoryPlanningProblem()
        let input = problem.addValue(byteCount: 4096, kind: .graphInput)
        var saved = [input]
        for layer in 1...layers {
            let weight = problem.addValue(byteCount: 1 << 16, kind: .parameter)
            let hidden = problem.addValue(byteCount: 4096 * (1 + layer % 4))
            problem.addStep(reads: [saved[layer - 1], weight], writes: [hidden])
            saved.append(hidden)
        }
        var gradient = saved[layers]
        for layer in stride(from: layers, through: 1, by: -1) {
            let bytes = problem.values[saved[layer - 1]].byteCount
            let next = problem.addValue(byteCount: bytes, isGraphOutput: layer == 1)
            problem.addStep(reads: [gradient, saved[layer - 1]], writes: [next])
            gradient = next
        }
        return problem
    }

    /// Lifetimes straight from the definition, for the oracle.
    static func lifetimes(_ problem: MemoryPlanningProblem) -> [ClosedRange<Int>?] {
        var first = [Int?](repeating: nil, count: problem.values.count)
        var last = [Int](repeating: -1, count: problem.values.count)
        for (step, entry) in problem.steps.enumerated() {
            for value in entry.writes where first[value] == nil { first[value] = step }
            for value in entry.reads + entry.writes { last[value] = max(last[value], step) }
        }
        return problem.values.indices.map { value in
            guard problem.values[value].isPlanned, let start = first[value] else { return nil }
            return start...(problem.values[value].isGraphOutput ? problem.steps.count - 1 : last[value])
        }
    }

    /// Every pair of values live at a common step whose bytes overlap and that is not an honoured
    /// in-place pair at its hand-over step: the quadratic check `validate` must agree with.
    static func bruteForceConflicts(_ plan: MemoryPlan, _ problem: MemoryPlanningProblem) -> [(Int, Int)] {
        let pairs = Set(plan.inPlaceReuses.map { [$0.input, $0.output] })
        var conflicts: [(Int, Int)] = []
        let placed = plan.placements.indices.filter { plan.placements[$0] != nil }
        for (i, a) in placed.enumerated() {
            for b in placed[(i + 1)...] {
                let pa = plan.placements[a]!
                let pb = plan.placements[b]!
                guard pa.lifetime.overlaps(pb.lifetime), pa.byteRange.overlaps(pb.byteRange) else { continue }
                if pairs.contains([a, b]) || pairs.contains([b, a]) { continue }
                conflicts.append((a, b))
            }
        }
        return conflicts
    }

    /// The largest sum of aligned live bytes over the steps, by brute force (no in-place sharing).
    static func bruteForceLowerBound(_ problem: MemoryPlanningProblem, alignment: Int) -> Int {
        let lifetimes = lifetimes(problem)
        var best = 0
        for step in problem.steps.indices {
            var live = 0
            for (value, lifetime) in lifetimes.enumerated() where lifetime?.contains(step) == true {
                live += (problem.values[value].byteCount + alignment - 1) / alignment * alignment
            }
            best = max(best, live)
        }
        return best
    }
}

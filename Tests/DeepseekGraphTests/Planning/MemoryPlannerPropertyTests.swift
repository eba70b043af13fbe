import DeepseekCore
import DeepseekGraph
import Testing

@Suite struct MemoryPlannerPropertyTests {
    typealias Fixtures = MemoryPlanningFixtures

    /// Each seed plans eight random schedules of growing size and checks them with `validate`, the
    /// quadratic oracle, the brute-force lower bound and the ordering of the three peaks.
    @Test(arguments: 0..<40 as Range<UInt64>)
    func randomSchedulesPlanValidly(seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        for round in 0..<8 {
            let problem = Fixtures.randomSchedule(stepCount: 1 + round * 6 + rng.nextInt(below: 20), using: &rng)
            for honorsInPlace in [true, false] {
                let alignment = [1, 16, 64][rng.nextInt(below: 3)]
                let settings = MemoryPlannerSettings(alignment: alignment, honorsInPlaceHints: honorsInPlace)
                let plan = try MemoryPlanner.plan(problem, settings: settings)
                try MemoryPlanner.validate(plan, against: problem)

                let conflicts = Fixtures.bruteForceConflicts(plan, problem)
                #expect(conflicts.isEmpty, "seed \(seed) round \(round): conflicts \(conflicts)")
                #expect(plan.placements.map { $0?.lifetime } == Fixtures.lifetimes(problem))
                let report = plan.report
                #expect(report.lowerBoundByteCount <= report.arenaByteCount)
                #expect(report.arenaByteCount <= report.unplannedByteCount)
                if !honorsInPlace {
                    #expect(report.lowerBoundByteCount == Fixtures.bruteForceLowerBound(problem, alignment: alignment))
                }
                #expect(try MemoryPlanner.plan(problem, settings: settings) == plan, "planning is deterministic")
            }
        }
    }

    /// `validate` must reject a plan in which one live value is moved onto another.
    @Test(arguments: 0..<20 as Range<UInt64>)
    func validateCatchesOverlappingLiveValues(seed: UInt64) throws {
        var rng = SeededRandom(seed: 1000 + seed)
        let problem = Fixtures.randomSchedule(stepCount: 30, using: &rng)
        let plan = try MemoryPlanner.plan(problem, settings: .init(honorsInPlaceHints: false))
        let placed = plan.placements.indices.filter { (plan.placements[$0]?.byteCount ?? 0) > 0 }
        var candidates: [(Int, Int)] = []
        for a in placed {
            for b in placed where a != b && plan.placements[a]!.lifetime.overlaps(plan.placements[b]!.lifetime) {
                candidates.append((a, b))
            }
        }
        let (moved, target) = try #require(candidates.randomElement(using: &rng))
        var placements = plan.placements
        placements[moved]!.offset = placements[target]!.offset
        let broken = MemoryPlan(
            alignment: plan.alignment, placements: placements, inPlaceReuses: plan.inPlaceReuses,
            arenaByteCount: plan.arenaByteCount + (plan.placements.compactMap { $0?.byteCount }.max() ?? 0)
                .roundedUp(to: plan.alignment),
            releasedAfterStep: plan.releasedAfterStep, report: plan.report)
        let error = #expect(throws: MemoryPlanningError.self) { try MemoryPlanner.validate(broken, against: problem) }
        #expect(error?.code == .invalidPlan)
        #expect(!Fixtures.bruteForceConflicts(broken, problem).isEmpty)
    }

    @Test func validateRejectsReusesTheProblemDoesNotAllow() throws {
        var problem = MemoryPlanningProblem()
        let x = problem.addValue(byteCount: 64, kind: .graphInput)
        let a = problem.addValue(byteCount: 64)
        let b = problem.addValue(byteCount: 64, isGraphOutput: true)
        problem.addStep(reads: [x], writes: [a])
        problem.addStep(reads: [a], writes: [b])
        let plan = try MemoryPlanner.plan(problem)
        #expect(plan.offset(of: a) != plan.offset(of: b))

        var placements = plan.placements
        placements[b]!.offset = placements[a]!.offset
        let unhinted = MemoryPlan(
            alignment: 64, placements: placements, inPlaceReuses: [.init(step: 1, input: a, output: b)],
            arenaByteCount: plan.arenaByteCount, releasedAfterStep: plan.releasedAfterStep, report: plan.report)
        let error = #expect(throws: MemoryPlanningError.self) { try MemoryPlanner.validate(unhinted, against: problem) }
        #expect(error?.message.contains("no such hint") == true)

        let misaligned = MemoryPlan(
            alignment: 128, placements: plan.placements, inPlaceReuses: [],
            arenaByteCount: 256, releasedAfterStep: plan.releasedAfterStep, report: plan.report)
        #expect(throws: MemoryPlanningError.self) { try MemoryPlanner.validate(misaligned, against: problem) }

        let tooSmall = MemoryPlan(
            alignment: 64, placements: plan.placements, inPlaceReuses: [],
            arenaByteCount: 64, releasedAfterStep: plan.releasedAfterStep, report: plan.report)
        #expect(throws: MemoryPlanningError.self) { try MemoryPlanner.validate(tooSmall, against: problem) }
    }

    @Test func invalidSchedulesAreRejectedWithTheirCode() {
        typealias Problem = MemoryPlanningProblem
        func code(_ build: (inout Problem) -> Void) -> MemoryPlanningError.Code? {
            var problem = Problem()
            build(&problem)
            let error = #expect(throws: MemoryPlanningError.self) { try MemoryPlanner.plan(problem) }
            return error?.code
        }
        #expect(code { $0.addValue(byteCount: -1) } == .invalidByteCount)
        #expect(code { $0.addStep(reads: [3], writes: []) } == .invalidValueIndex)
        #expect(
            code { p in
                let a = p.addValue(byteCount: 8)
                p.addStep(reads: [a], writes: [])
                p.addStep(reads: [], writes: [a])
            } == .readBeforeWrite)
        #expect(
            code { p in
                let a = p.addValue(byteCount: 8)
                p.addStep(reads: [a], writes: [a])
            } == .readBeforeWrite)
        #expect(code { p in _ = p.addValue(byteCount: 8, isGraphOutput: true) } == .readBeforeWrite)
        #expect(
            code { p in
                let a = p.addValue(byteCount: 8)
                p.addStep(reads: [], writes: [a])
                p.addStep(reads: [], writes: [a])
            } == .multipleWriters)
        #expect(
            code { p in
                let w = p.addValue(byteCount: 8, kind: .parameter)
                p.addStep(reads: [w], writes: [w])
            } == .writesUnplannedValue)
        #expect(
            code { p in
                let x = p.addValue(byteCount: 8, kind: .graphInput)
                let a = p.addValue(byteCount: 8)
                let b = p.addValue(byteCount: 8)
                p.addStep(reads: [x], writes: [a], inPlace: [.init(output: b, input: x)])
            } == .invalidInPlaceHint)
    }

    /// A sanity bound on 10,000 activations that holds in debug builds on a loaded machine; the
    /// release figures are measured separately. Schedules where most lifetimes overlap one another
    /// cost greedy placement O(n·k) and run here at 3,000 values, under the same bound.
    @Test(arguments: [(ScaleCase.inferenceLike, 10_000), (.chain, 10_000), (.randomDAG, 3_000), (.trainingLike, 3_000)])
    func largeSchedulesPlanQuickly(shape: ScaleCase, valueCount: Int) throws {
        let problem = shape.problem(valueCount: valueCount)
        #expect(problem.values.count(where: \.isPlanned) >= valueCount)
        let clock = MonotonicClock()
        let start = clock.now()
        let plan = try MemoryPlanner.plan(problem)
        let elapsed = Double(clock.now().nanoseconds(since: start)) / 1e9
        #expect(elapsed < 2, "planning \(problem.values.count) values took \(elapsed) s")
        try MemoryPlanner.validate(plan, against: problem)
        #expect(plan.report.arenaByteCount < plan.report.unplannedByteCount)
        #expect(plan.report.arenaByteCount <= plan.report.lowerBoundByteCount * 2)
    }

    enum ScaleCase: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case inferenceLike
        case chain
        case randomDAG
        case trainingLike

        var testDescription: String { rawValue }

        func problem(valueCount: Int) -> MemoryPlanningProblem {
            switch self {
            case .inferenceLike:
                return Fixtures.inferenceLike(blocks: valueCount / 14 + 1)
            case .chain:
                return Fixtures.chain(length: valueCount, byteCount: 4096)
            case .randomDAG:
                var rng = SeededRandom(seed: 7)
                var problem = Fixtures.randomSchedule(stepCount: valueCount * 2 / 3, using: &rng, maxByteCount: 1 << 20)
                while problem.values.count < valueCount + 10 {
                    let extra = problem.addValue(byteCount: 4096)
                    problem.addStep(reads: [problem.values.count - 2], writes: [extra])
                }
                return problem
            case .trainingLike:
                return Fixtures.trainingLike(layers: valueCount / 2)
            }
        }
    }
}

extension Int {
    fileprivate func roundedUp(to alignment: Int) -> Int { (self + alignment - 1) / alignment * alignment }
}

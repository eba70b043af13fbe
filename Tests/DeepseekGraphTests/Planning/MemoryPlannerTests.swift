import DeepseekCore
import DeepseekGraph
import Testing

@Suite struct MemoryPlannerTests {
    typealias Problem = MemoryPlanningProblem

    @Test func chainReusesTwoPingPongBuffers() throws {
        let problem = MemoryPlanningFixtures.chain(length: 10, byteCount: 1000)
        let plan = try MemoryPlanner.plan(problem)
        try MemoryPlanner.validate(plan, against: problem)

        #expect(plan.arenaByteCount == 2 * 1024)
        #expect(plan.report.bufferCount == 2)
        #expect(plan.report.unplannedByteCount == 10 * 1024)
        #expect(plan.report.lowerBoundByteCount == 2 * 1024)
        #expect(plan.placements[0] == nil)
        let offsets = (1...10).map { plan.offset(of: $0)! }
        for index in 1..<offsets.count {
            #expect(offsets[index] != offsets[index - 1])
            if index >= 2 { #expect(offsets[index] == offsets[index - 2]) }
        }
        #expect(plan.lifetime(of: 1) == 0...1)
        #expect(plan.lifetime(of: 10) == 9...9)
    }

    @Test func diamondKeepsBothBranchesApartAndReusesTheRoot() throws {
        var problem = Problem()
        let x = problem.addValue(byteCount: 4096, kind: .graphInput)
        let a = problem.addValue(byteCount: 4096)
        let b = problem.addValue(byteCount: 4096)
        let c = problem.addValue(byteCount: 4096)
        let d = problem.addValue(byteCount: 4096, isGraphOutput: true)
        problem.addStep(reads: [x], writes: [a])
        problem.addStep(reads: [a], writes: [b])
        problem.addStep(reads: [a], writes: [c])
        problem.addStep(reads: [b, c], writes: [d])

        let plan = try MemoryPlanner.plan(problem)
        try MemoryPlanner.validate(plan, against: problem)
        #expect(plan.lifetime(of: a) == 0...2)
        #expect(plan.lifetime(of: b) == 1...3)
        #expect(plan.lifetime(of: c) == 2...3)
        #expect(Set([a, b, c].map { plan.offset(of: $0)! }).count == 3)
        #expect(plan.offset(of: d) == plan.offset(of: a))
        #expect(plan.arenaByteCount == 3 * 4096)
        #expect(plan.report.lowerBoundByteCount == 3 * 4096)
        #expect(plan.report.peakStep == 2)
        #expect(plan.releasedAfterStep == [[], [], [a], [b, c]])
    }

    @Test func elementWiseChainRunsInPlaceInOneBuffer() throws {
        let problem = MemoryPlanningFixtures.chain(length: 6, byteCount: 4096, inPlace: true)
        let plan = try MemoryPlanner.plan(problem)
        try MemoryPlanner.validate(plan, against: problem)

        #expect(plan.arenaByteCount == 4096)
        #expect(plan.report.inPlaceReuseCount == 5)
        #expect(plan.report.slotCount == 1)
        #expect(plan.report.bufferCount == 1)
        #expect((1...6).allSatisfy { plan.offset(of: $0) == 0 })
        #expect(plan.inPlaceReuses.first == MemoryPlan.InPlaceReuse(step: 1, input: 1, output: 2))

        let without = try MemoryPlanner.plan(problem, settings: .init(honorsInPlaceHints: false))
        try MemoryPlanner.validate(without, against: problem)
        #expect(without.arenaByteCount == 2 * 4096)
        #expect(without.inPlaceReuses.isEmpty)
    }

    @Test func inPlaceHintsAreDeclinedWhenTheInputIsStillNeeded() throws {
        var problem = Problem()
        let x = problem.addValue(byteCount: 256, kind: .graphInput)
        let a = problem.addValue(byteCount: 256)
        let b = problem.addValue(byteCount: 256)
        let c = problem.addValue(byteCount: 256, isGraphOutput: true)
        let d = problem.addValue(byteCount: 256)
        let e = problem.addValue(byteCount: 512)
        let f = problem.addValue(byteCount: 256, isGraphOutput: true)
        problem.addStep(reads: [x], writes: [a], inPlace: [.init(output: a, input: x)])  // graph input
        problem.addStep(reads: [a], writes: [b], inPlace: [.init(output: b, input: a)])  // a read again later
        problem.addStep(reads: [a, b], writes: [c])
        problem.addStep(reads: [c], writes: [d], inPlace: [.init(output: d, input: c)])  // c is a graph output
        problem.addStep(reads: [d], writes: [e], inPlace: [.init(output: e, input: d)])  // e is larger than d
        problem.addStep(reads: [e], writes: [f], inPlace: [.init(output: f, input: e)])  // allowed

        let plan = try MemoryPlanner.plan(problem)
        try MemoryPlanner.validate(plan, against: problem)
        #expect(plan.inPlaceReuses == [MemoryPlan.InPlaceReuse(step: 5, input: e, output: f)])
        #expect(plan.offset(of: b) != plan.offset(of: a))
        #expect(plan.offset(of: d) != plan.offset(of: c))
        #expect(plan.offset(of: f) == plan.offset(of: e))
    }

    @Test func anInputDonatesItsStorageToOnlyOneOutput() throws {
        var problem = Problem()
        let x = problem.addValue(byteCount: 128, kind: .graphInput)
        let a = problem.addValue(byteCount: 128)
        let b = problem.addValue(byteCount: 128, isGraphOutput: true)
        let c = problem.addValue(byteCount: 128, isGraphOutput: true)
        problem.addStep(reads: [x], writes: [a])
        problem.addStep(reads: [a], writes: [b, c], inPlace: [.init(output: b, input: a), .init(output: c, input: a)])

        let plan = try MemoryPlanner.plan(problem)
        try MemoryPlanner.validate(plan, against: problem)
        #expect(plan.inPlaceReuses == [MemoryPlan.InPlaceReuse(step: 1, input: a, output: b)])
        #expect(plan.offset(of: c) != plan.offset(of: b))
    }

    @Test func graphOutputsStayAliveUntilTheEnd() throws {
        var problem = Problem()
        let x = problem.addValue(byteCount: 1024, kind: .graphInput)
        let early = problem.addValue(byteCount: 1024, isGraphOutput: true)
        var previous = early
        var chain: [Int] = []
        for _ in 0..<5 {
            let next = problem.addValue(byteCount: 1024)
            chain.append(next)
            problem.addStep(reads: [previous], writes: [next])
            previous = next
        }
        problem.steps.insert(.init(reads: [x], writes: [early]), at: 0)
        problem.values[previous].isGraphOutput = true

        let plan = try MemoryPlanner.plan(problem)
        try MemoryPlanner.validate(plan, against: problem)
        #expect(plan.lifetime(of: early) == 0...5)
        for value in chain { #expect(plan.offset(of: value) != plan.offset(of: early)) }
        #expect(plan.arenaByteCount == 3 * 1024)
        #expect(plan.report.graphOutputCount == 2)
        #expect(!plan.releasedAfterStep.joined().contains(early))
    }

    @Test func inputsParametersAndConstantsAreNotPlanned() throws {
        var problem = Problem()
        let x = problem.addValue(byteCount: 1 << 20, kind: .graphInput)
        let w = problem.addValue(byteCount: 1 << 20, kind: .parameter)
        let k = problem.addValue(byteCount: 1 << 20, kind: .constant)
        let unused = problem.addValue(byteCount: 1 << 20)
        let y = problem.addValue(byteCount: 100, isGraphOutput: true)
        problem.addStep(reads: [x, w, k], writes: [y], inPlace: [.init(output: y, input: x)])

        let plan = try MemoryPlanner.plan(problem)
        try MemoryPlanner.validate(plan, against: problem)
        #expect([x, w, k, unused].allSatisfy { plan.placements[$0] == nil })
        #expect(plan.offset(of: y) == 0)
        #expect(plan.arenaByteCount == 128)
        #expect(plan.inPlaceReuses.isEmpty)
        let report = plan.report
        #expect(report.graphInputCount == 1 && report.parameterCount == 1 && report.constantCount == 1)
        #expect(report.plannedValueCount == 1)
    }

    @Test(arguments: [1, 8, 64, 256, 4096])
    func offsetsAndTheArenaAreAligned(alignment: Int) throws {
        var problem = Problem()
        let x = problem.addValue(byteCount: 7, kind: .graphInput)
        var readable = [x]
        for (index, bytes) in [1, 63, 65, 100, 0, 4097, 3].enumerated() {
            let value = problem.addValue(byteCount: bytes, isGraphOutput: index % 3 == 0)
            problem.addStep(reads: Array(readable.suffix(2)), writes: [value])
            readable.append(value)
        }
        let plan = try MemoryPlanner.plan(problem, settings: .init(alignment: alignment))
        try MemoryPlanner.validate(plan, against: problem)
        #expect(plan.alignment == alignment)
        #expect(plan.arenaByteCount % alignment == 0)
        for placement in plan.placements.compactMap({ $0 }) { #expect(placement.offset % alignment == 0) }
        let rounded = [1, 63, 65, 100, 0, 4097, 3].map { ($0 + alignment - 1) / alignment * alignment }
        #expect(plan.report.unplannedByteCount == rounded.reduce(0, +))
    }

    @Test func emptyProblemsPlanAnEmptyArena() throws {
        let plan = try MemoryPlanner.plan(Problem())
        try MemoryPlanner.validate(plan, against: Problem())
        #expect(plan.arenaByteCount == 0)
        #expect(plan.report.peakStep == nil)
        #expect(plan.report.savedFraction == 0)
    }

    @Test func reportDescribesAllThreePeaks() throws {
        let problem = MemoryPlanningFixtures.chain(length: 10, byteCount: 1000)
        let report = try MemoryPlanner.plan(problem).report
        #expect(
            report.description == """
                Memory plan: 10 steps, 11 values
                  arena:       10 activations (1 graph output) in 10 slots, 2 buffers, 0 in-place reuses
                  outside:     1 value (1 graph input, 0 parameters, 0 constants)
                  unplanned:   10.0 KiB (10240 bytes: every activation its own buffer for the whole run)
                  planned:     2.0 KiB (2048 bytes)
                  lower bound: 2.0 KiB (2048 bytes: largest live set, at step 1)
                  saved:       80.0% of the unplanned bytes
                """)
        #expect(abs(report.savedFraction - 0.8) < 1e-12)
        #expect(report.overheadOverLowerBound == 0)
    }

    @Test func figuresUseBinaryUnitsAndRoundPercentagesDown() {
        #expect(MemoryPlanReport.formatBytes(0) == "0 bytes")
        #expect(MemoryPlanReport.formatBytes(1023) == "1023 bytes")
        #expect(MemoryPlanReport.formatBytes(1536) == "1.5 KiB")
        #expect(MemoryPlanReport.formatBytes(3 << 20) == "3.0 MiB")
        #expect(MemoryPlanReport.formatBytes(5 << 30 + 1 << 29) == "5.5 GiB")
        #expect(MemoryPlanReport.formatTenths(80) == "80.0")
        #expect(MemoryPlanReport.formatTenths((1 - 0.2) * 100) == "80.0")
        #expect(MemoryPlanReport.formatTenths(99.96) == "99.9")
    }
}

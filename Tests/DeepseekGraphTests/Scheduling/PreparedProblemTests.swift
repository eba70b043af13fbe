import DeepseekGraph
import Testing

@Suite struct PreparedProblemTests {
    // MARK: Ranks

    @Test func chainRanksAreTheCostsStillToRun() throws {
        let prepared = try PreparedProblem(SchedulingFixtures.chain())
        #expect(prepared.ranks == [3.75, 2.75, 0.75, 0.25])
        #expect(prepared.criticalPathSeconds == 3.75)
        #expect(prepared.topologicalOrder == [0, 1, 2, 3])
    }

    @Test func ranksPriceEachNodeOnItsCheapestAllowedDevice() throws {
        let prepared = try PreparedProblem(SchedulingFixtures.diamond())
        // d: 0.25 (OpenCL); b: 1 + 0.25; c: 1.5 (CPU only) + 0.25; a: 1 + max(b, c).
        #expect(prepared.ranks == [2.75, 1.25, 1.75, 0.25])
        #expect(prepared.allowedDevices(of: 2) == [DeviceID(0)])
        #expect(prepared.allowedDevices(of: 0) == [DeviceID(0), DeviceID(1)])
    }

    @Test func ranksAddTransfersOnlyBetweenNodesForcedIntoDifferentProcesses() throws {
        let problem = SchedulingFixtures.twoProcesses()
        let with = try PreparedProblem(problem)
        // a→b moves %1 (2048 B = 2 s); b→d moves %2 (1 s); c may run anywhere, so its edges are free.
        #expect(with.ranks == [6.5, 3.5, 1.5, 0.5])
        let without = try PreparedProblem(problem, includeTransfersInRanks: false)
        #expect(without.ranks == [3.5, 2.5, 1.5, 0.5])
    }

    @Test func pinnedDeviceLimitsTheRankToThatDevicesCost() throws {
        var problem = SchedulingFixtures.diamond()
        problem.nodes[0].pinnedDevice = DeviceID(0)  // a on the CPU: 4 s instead of 1 s.
        let prepared = try PreparedProblem(problem)
        #expect(prepared.ranks[0] == 5.75)
        #expect(prepared.cost(of: 0, on: DeviceID(1)) == 1)
        #expect(prepared.cost(of: 2, on: DeviceID(1)) == nil)
    }

    @Test func emptyProblemPreparesWithNoDevices() throws {
        let prepared = try PreparedProblem(SchedulingProblem())
        #expect(prepared.ranks.isEmpty)
        #expect(prepared.criticalPathSeconds == 0)
    }

    // MARK: Errors

    @Test func cycleNamesTheNodesOnIt() throws {
        var p = SchedulingProblem()
        p.addDevice(kind: "cpu")
        let x = p.addValue(byteCount: 4)
        let v1 = p.addValue(byteCount: 4)
        let v2 = p.addValue(byteCount: 4)
        let v3 = p.addValue(byteCount: 4)
        p.addNode("start", op: "relu", inputs: [x], outputs: [v1])
        p.addNode("left", op: "add", inputs: [v1, v3], outputs: [v2])
        p.addNode("right", op: "mul", inputs: [v2], outputs: [v3])
        for n in 0..<3 { p.costs[node: n, kind: "cpu"] = 1 }
        let error = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(error.code == .cycle)
        #expect(error.message.contains("n1 \"left\" (add) → n2 \"right\" (mul) → n1 \"left\" (add)"))
        #expect(!error.message.contains("start"))
    }

    @Test func nodeReadingItsOwnOutputIsACycle() throws {
        var p = SchedulingProblem()
        p.addDevice(kind: "cpu")
        let v = p.addValue(byteCount: 4)
        p.addNode("loop", op: "relu", inputs: [v], outputs: [v])
        p.costs[node: 0, kind: "cpu"] = 1
        let error = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(error.code == .cycle)
        #expect(error.message.contains("n0 \"loop\" (relu) → n0 \"loop\" (relu)"))
    }

    @Test func opNoDeviceCanRunNamesNodeOpAndKinds() throws {
        var p = SchedulingFixtures.diamond()
        p.costs[node: 2, kind: "cpu"] = nil  // topk now runs nowhere.
        let error = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(error.code == .unsupportedOp)
        #expect(error.message.contains("n2 \"c\" (topk)"))
        #expect(error.message.contains("cpu, opencl"))
    }

    @Test func pinToAProcessWithoutASupportingDeviceIsUnsupported() throws {
        var p = SchedulingFixtures.twoProcesses()
        p.nodes[2].pinnedProcess = 7
        let error = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(error.code == .unsupportedOp)
        #expect(error.message.contains("pinned to process 7"))
    }

    @Test func pinnedDeviceLackingTheOpIsRejected() throws {
        var p = SchedulingFixtures.diamond()
        p.nodes[2].pinnedDevice = DeviceID(1)  // topk on the OpenCL device.
        let error = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(error.code == .pinnedDeviceLacksOp)
        #expect(error.message.contains("n2 \"c\" (topk) is pinned to device 1 (opencl), which lacks topk"))
    }

    @Test func pinnedDeviceContradictingAProcessPinIsRejected() throws {
        var p = SchedulingFixtures.twoProcesses()
        p.nodes[2].pinnedDevice = DeviceID(1)
        p.nodes[2].pinnedProcess = 0
        let error = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(error.code == .pinnedDeviceLacksOp)
    }

    @Test func unknownValueIndicesAreRejected() throws {
        var p = SchedulingFixtures.chain()
        p.nodes[2].inputs = [9]
        let error = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(error.code == .unknownValue)
        #expect(error.message.contains("n2 \"c\" (tanh) reads %9"))

        var q = SchedulingFixtures.chain()
        q.nodes[0].outputs.append(-1)
        #expect(throws: SchedulingError.self) { try PreparedProblem(q) }
    }

    @Test func unknownPinnedDeviceIsRejected() throws {
        var p = SchedulingFixtures.chain()
        p.nodes[1].pinnedDevice = DeviceID(3)
        let error = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(error.code == .unknownDevice)
    }

    @Test func valueWrittenTwiceOrWithAWrongProducerIsRejected() throws {
        var p = SchedulingFixtures.chain()
        p.nodes[2].outputs = [3, 2]  // %2 is already written by n1.
        let twice = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(twice.code == .inconsistentProducer)

        var q = SchedulingFixtures.chain()
        q.values[4].producer = 1  // n1 does not write %4.
        let wrong = try #require(throws: SchedulingError.self) { try PreparedProblem(q) }
        #expect(wrong.code == .inconsistentProducer)
    }

    @Test func negativeOrNonFiniteNumbersAreRejected() throws {
        var p = SchedulingFixtures.chain()
        p.costs[node: 1, kind: "cpu"] = -1
        #expect(throws: SchedulingError.self) { try PreparedProblem(p) }
        p = SchedulingFixtures.chain()
        p.costs[node: 1, kind: "cpu"] = .nan
        #expect(throws: SchedulingError.self) { try PreparedProblem(p) }
        p = SchedulingFixtures.chain()
        p.values[0].byteCount = -4
        #expect(throws: SchedulingError.self) { try PreparedProblem(p) }
        p = SchedulingFixtures.chain()
        p.transferSecondsPerByte = .infinity
        #expect(throws: SchedulingError.self) { try PreparedProblem(p) }
    }

    @Test func nodesWithoutDevicesAreRejected() throws {
        var p = SchedulingFixtures.chain()
        p.devices = []
        let error = try #require(throws: SchedulingError.self) { try PreparedProblem(p) }
        #expect(error.code == .noDevices)
    }
}

import DeepseekGraph
import Testing

@Suite struct SchedulerTests {
    /// `count` independent nodes reading one input, with the given CPU costs.
    func independent(_ costs: [Double], devices: Int) -> SchedulingProblem {
        var p = SchedulingProblem()
        for _ in 0..<devices { p.addDevice(kind: "cpu") }
        let x = p.addValue(byteCount: 64)
        for (i, seconds) in costs.enumerated() {
            let out = p.addValue(byteCount: 64, isGraphOutput: true)
            let n = p.addNode("w\(i)", op: "relu", inputs: [x], outputs: [out])
            p.costs[node: n, kind: "cpu"] = seconds
        }
        return p
    }

    func runs(_ result: SchedulerSimulation.Result) -> [String] {
        result.directives.compactMap { if case .run = $0 { $0.description } else { nil } }
    }

    // MARK: Ready order

    @Test func equalRanksRunInNodeOrder() throws {
        let result = SchedulerSimulation(try PreparedProblem(independent([1, 1, 1, 1], devices: 1))).run()
        #expect(runs(result) == ["run n0 on device 0", "run n1 on device 0", "run n2 on device 0", "run n3 on device 0"])
    }

    @Test func higherRankRunsFirstWhateverItsIndex() throws {
        let result = SchedulerSimulation(try PreparedProblem(independent([1, 2, 1, 4], devices: 1))).run()
        #expect(runs(result) == ["run n3 on device 0", "run n1 on device 0", "run n0 on device 0", "run n2 on device 0"])
    }

    @Test func sameProblemGivesTheSameLog() throws {
        let problem = SchedulingFixtures.randomDAG(nodes: 300, seed: 11, pinEvery: 7)
        let a = SchedulerSimulation(try PreparedProblem(problem)).run()
        let b = SchedulerSimulation(try PreparedProblem(problem)).run()
        #expect(a.log == b.log)
    }

    // MARK: Load balancing

    @Test func idleDeviceTakesReadyWorkOfABusyOneOfTheSameKind() throws {
        let result = SchedulerSimulation(try PreparedProblem(independent([3, 1, 1, 1], devices: 2))).run()
        // n0 holds device 0 for 3 s; device 1 runs the three short nodes meanwhile.
        #expect(runs(result) == ["run n0 on device 0", "run n1 on device 1", "run n2 on device 1", "run n3 on device 1"])
        #expect(result.makespanSeconds == 3)
        #expect(result.utilisation == [1, 1])
    }

    @Test func moreOutstandingPerDeviceBindsWorkEarlierAndCapsEachQueue() throws {
        let problem = independent([3, 1, 1, 1], devices: 2)
        let settings = SchedulerSettings(maxOutstandingPerDevice: 2)
        let result = SchedulerSimulation(try PreparedProblem(problem), settings: settings).run()
        // All four dispatch at once by estimated finish; device 1's two slots fill, so n3 must wait
        // behind n0 on device 0 — the price of binding early.
        #expect(runs(result) == ["run n0 on device 0", "run n1 on device 1", "run n2 on device 1", "run n3 on device 0"])
        #expect(result.makespanSeconds == 4)

        var scheduler = Scheduler(try PreparedProblem(problem), settings: settings)
        _ = scheduler.start()
        #expect(scheduler.outstanding(on: DeviceID(0)) == 2)
        #expect(scheduler.outstanding(on: DeviceID(1)) == 2)
    }

    @Test func fasterDeviceWinsWhenBothAreIdle() throws {
        let result = SchedulerSimulation(try PreparedProblem(SchedulingFixtures.diamond())).run()
        #expect(result.directives.first == .run(node: 0, device: DeviceID(1)))
    }

    @Test func busyTimeAndOpCountsAreReportedPerDevice() throws {
        let result = SchedulerSimulation(try PreparedProblem(SchedulingFixtures.diamond())).run()
        let report = result.report
        #expect(report.devices.map(\.busySeconds) == [1.5, 2.25])
        #expect(report.devices.map(\.nodesRun) == [1, 3])
        #expect(report.devices[1].opCounts == ["matmul": 1, "gelu": 1, "add": 1])
        #expect(report.makespanSeconds == 2.75)
        #expect(report.nodesRun == 4)
    }

    // MARK: Pins

    @Test func devicePinIsHonouredOverAFasterDevice() throws {
        var problem = SchedulingFixtures.diamond()
        problem.nodes[0].pinnedDevice = DeviceID(0)
        let result = SchedulerSimulation(try PreparedProblem(problem)).run()
        #expect(result.directives.first == .run(node: 0, device: DeviceID(0)))
    }

    @Test func processAndKindPinsAreHonoured() throws {
        let problem = SchedulingFixtures.randomDAG(
            nodes: 400, seed: 5, devices: [("cpu", 0), ("opencl", 0), ("cpu", 1), ("cpu", 1)], pinEvery: 3,
            transferSecondsPerByte: 1e-6)
        var pinnedKind = problem
        for n in stride(from: 1, to: 400, by: 10) where pinnedKind.nodes[n].op != "topk" {
            pinnedKind.nodes[n].pinnedKind = "opencl"
            pinnedKind.nodes[n].pinnedProcess = nil
        }
        let result = SchedulerSimulation(try PreparedProblem(pinnedKind)).run()
        var checker = ScheduleChecker(pinnedKind)
        checker.check(result)
        #expect(checker.violations == [])
        for case .run(let n, let device) in result.directives {
            let node = pinnedKind.nodes[n]
            if let process = node.pinnedProcess { #expect(pinnedKind.devices[device.index].process == process) }
            if let kind = node.pinnedKind { #expect(pinnedKind.devices[device.index].kind == kind) }
        }
    }

    // MARK: Cross-process edges and frees

    @Test func valueNeededTwiceInAProcessIsSentOnce() throws {
        var p = SchedulingProblem()
        p.addDevice(kind: "cpu", process: 0)
        p.addDevice(kind: "cpu", process: 1)
        let x = p.addValue(byteCount: 8, homeProcess: 0)
        let y1 = p.addValue(byteCount: 8, isGraphOutput: true)
        let y2 = p.addValue(byteCount: 8, isGraphOutput: true)
        p.addNode("a", op: "relu", inputs: [x, x], outputs: [y1], pinnedProcess: 1)
        p.addNode("b", op: "exp", inputs: [x], outputs: [y2], pinnedProcess: 1)
        p.costs = CostTable(nodeCount: 2, kinds: ["cpu"]) { _, _ in 1 }
        let result = SchedulerSimulation(try PreparedProblem(p)).run()
        #expect(
            result.transcript == """
                0.000000 send %0 from node 0 to node 1
                0.000000 run n0 on device 1
                1.000000 run n1 on device 1
                2.000000 free %0 on node 1
                2.000000 finished
                """)
    }

    @Test func idleRemoteDeviceClaimsOnlyAsMuchWorkAsItHasSlots() throws {
        var p = independent([1, 1, 1, 1, 1, 1], devices: 1)
        p.addDevice(kind: "cpu", process: 1)
        p.transferSecondsPerByte = 1.0 / 128  // %0 (64 bytes) takes 0.5 s to reach process 1.
        let result = SchedulerSimulation(try PreparedProblem(p)).run()
        // Process 1 takes one node and waits for %0; the rest stay unbound until a device frees up,
        // and later nodes there reuse the copy that already arrived.
        #expect(
            result.transcript == """
                0.000000 run n0 on device 0
                0.000000 send %0 from node 0 to node 1
                0.500000 run n1 on device 1
                1.000000 run n2 on device 0
                1.500000 run n3 on device 1
                2.000000 run n4 on device 0
                2.500000 run n5 on device 1
                3.500000 free %0 on node 1
                3.500000 finished
                """)
    }

    @Test func shellDrivenByHandSeesSendThenRunAfterTransfer() throws {
        var scheduler = try Scheduler(SchedulingFixtures.twoProcesses())
        #expect(scheduler.start() == [.run(node: 0, device: DeviceID(0))])
        #expect(
            scheduler.completed(node: 0, on: DeviceID(0)) == [
                .send(value: 1, from: 0, to: 1), .run(node: 2, device: DeviceID(0)),
            ])
        #expect(scheduler.device(of: 1) == nil)  // b waits for %1 in process 1.
        #expect(scheduler.transferred(value: 1, to: 1) == [.run(node: 1, device: DeviceID(1))])
        #expect(scheduler.completed(node: 2, on: DeviceID(0)) == [.free(value: 1, process: 0)])
        #expect(scheduler.completed(node: 1, on: DeviceID(1)) == [.free(value: 1, process: 1), .send(value: 2, from: 1, to: 0)])
        #expect(scheduler.transferred(value: 2, to: 0) == [.free(value: 2, process: 1), .run(node: 3, device: DeviceID(0))])
        #expect(scheduler.isFinished == false)
        #expect(
            scheduler.completed(node: 3, on: DeviceID(0)) == [
                .free(value: 2, process: 0), .free(value: 3, process: 0), .finished,
            ])
        #expect(scheduler.isFinished)
    }

    @Test(arguments: [false, true])
    func everyCopyIsFreedExactlyOnceAfterItsLastUse(freesGraphInputs: Bool) throws {
        let problem = SchedulingFixtures.randomDAG(
            nodes: 600, seed: 23, devices: [("cpu", 0), ("opencl", 0), ("cpu", 1), ("cpu", 2)], pinEvery: 2,
            transferSecondsPerByte: 1e-5)
        let settings = SchedulerSettings(freesGraphInputs: freesGraphInputs)
        let result = SchedulerSimulation(try PreparedProblem(problem), settings: settings).run()
        var checker = ScheduleChecker(problem)
        checker.check(result, freesGraphInputs: freesGraphInputs)
        #expect(checker.violations == [])
        #expect(result.report.sends > 0)
    }

    @Test func deadValueIsFreedAsSoonAsItIsWritten() throws {
        var p = SchedulingFixtures.chain()
        let unused = p.addValue(byteCount: 16)
        p.nodes[1].outputs.append(unused)
        p.values[unused].producer = 1
        let result = SchedulerSimulation(try PreparedProblem(p)).run()
        #expect(result.log.contains { $0.seconds == 3 && $0.directive == .free(value: unused, process: 0) })
    }

    @Test func emptyProblemFinishesAtStart() throws {
        var scheduler = try Scheduler(SchedulingProblem())
        #expect(scheduler.start() == [.finished])
    }

    @Test func completingANodeThatIsNotRunningIsAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            var scheduler = try Scheduler(SchedulingFixtures.chain())
            _ = scheduler.start()
            _ = scheduler.completed(node: 1, on: DeviceID(0))
        }
    }

    // MARK: Scale

    @Test func tenThousandNodeRandomDAGRunsEveryNodeOnceAndFinishes() throws {
        let problem = SchedulingFixtures.randomDAG(
            nodes: 10_000, seed: 2024, devices: [("cpu", 0), ("cpu", 0), ("opencl", 0), ("cpu", 1), ("opencl", 1)],
            pinEvery: 50, transferSecondsPerByte: 1e-7)
        // Best of three, so the printed figures are not the first touch of fresh memory.
        let clock = ContinuousClock()
        var prepared: PreparedProblem?
        var result: SchedulerSimulation.Result?
        var prepare = Duration.seconds(1000)
        var simulate = Duration.seconds(1000)
        for _ in 0..<3 {
            prepare = min(prepare, try clock.measure { prepared = try PreparedProblem(problem) })
            simulate = min(simulate, clock.measure { result = SchedulerSimulation(prepared!).run() })
        }
        let run = try #require(result)
        var seen = [Int](repeating: 0, count: problem.nodes.count)
        for case .run(let n, _) in run.directives { seen[n] += 1 }
        #expect(seen.allSatisfy { $0 == 1 })
        #expect(run.directives.last == .finished)
        var checker = ScheduleChecker(problem)
        checker.check(run)
        #expect(checker.violations.isEmpty, "\(checker.violations.prefix(5))")
        #expect(run.makespanSeconds >= prepared!.criticalPathSeconds - 1e-9)
        print("scheduling 10000 nodes: prepare \(prepare), simulate \(simulate), makespan \(run.makespanSeconds) s, critical path \(prepared!.criticalPathSeconds) s")
    }
}

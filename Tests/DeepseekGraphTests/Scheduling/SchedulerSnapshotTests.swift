import DeepseekGraph
import Testing

/// The directive sequences of the reference graphs, driven on virtual time. A change here changes
/// what every runtime does with these graphs: read the diff, not just the test result.
@Suite struct SchedulerSnapshotTests {
    @Test func chainOnOneCPURunsInOrderAndFreesEachIntermediateAfterItsConsumer() throws {
        let result = SchedulerSimulation(try PreparedProblem(SchedulingFixtures.chain())).run()
        #expect(
            result.transcript == """
                0.000000 run n0 on device 0
                1.000000 run n1 on device 0
                3.000000 free %1 on node 0
                3.000000 run n2 on device 0
                3.500000 free %2 on node 0
                3.500000 run n3 on device 0
                3.750000 free %3 on node 0
                3.750000 finished
                """)
        #expect(result.makespanSeconds == 3.75)
    }

    @Test func diamondOnCPUAndOpenCLRunsBranchesInParallelByRank() throws {
        let result = SchedulerSimulation(try PreparedProblem(SchedulingFixtures.diamond())).run()
        // c (rank 1.75, CPU only) is placed before b (rank 1.25); b then takes the OpenCL device.
        #expect(
            result.transcript == """
                0.000000 run n0 on device 1
                1.000000 run n2 on device 0
                1.000000 run n1 on device 1
                2.500000 free %1 on node 0
                2.500000 run n3 on device 1
                2.750000 free %2 on node 0
                2.750000 free %3 on node 0
                2.750000 finished
                """)
        #expect(result.makespanSeconds == 2.75)
        #expect(
            result.report.description == """
                nodes 4, sends 0 (0 bytes), frees 3, critical path 2.750000 s, makespan 2.750000 s
                device 0 (cpu, node 0): busy 1.500000 s (55%), 1 nodes: topk 1
                device 1 (opencl, node 0): busy 2.250000 s (82%), 3 nodes: add 1, gelu 1, matmul 1
                """)
    }

    @Test func graphSplitAcrossTwoProcessesSendsBeforeRunningAndFreesBothCopies() throws {
        let result = SchedulerSimulation(try PreparedProblem(SchedulingFixtures.twoProcesses())).run()
        #expect(
            result.transcript == """
                0.000000 run n0 on device 0
                1.000000 send %1 from node 0 to node 1
                1.000000 run n2 on device 0
                3.000000 free %1 on node 0
                3.000000 run n1 on device 1
                5.000000 free %1 on node 1
                5.000000 send %2 from node 1 to node 0
                6.000000 free %2 on node 1
                6.000000 run n3 on device 0
                6.500000 free %2 on node 0
                6.500000 free %3 on node 0
                6.500000 finished
                """)
        #expect(result.makespanSeconds == 6.5)
        #expect(result.report.sends == 2)
        #expect(result.report.bytesSent == 3072)
    }
}

import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct ElementwiseFusionTests {
    /// `gelu((x · scale + bias) · 0.5)` over `[rows, columns]`, with a `[columns]` bias.
    func chain(rows: Int = 8, columns: Int = 40) throws -> Graph {
        var b = GraphBuilder()
        b.input("x", TensorType([rows, columns]))
        b.parameter("scale", TensorType([rows, columns]))
        b.parameter("bias", TensorType([columns]))
        b.constant("half", Tensor(scalar: Float(0.5)))
        b.op("scaled", .binary(.mul), ["x", "scale"])
        b.op("shifted", .binary(.add), ["scaled", "bias"])
        b.op("halved", .binary(.mul), ["shifted", "half"])
        b.op("act", .unary(.geluExact), ["halved"])
        b.outputs(["act"])
        return try b.build()
    }

    @Test func chainBecomesOneKernelWithTheSameResult() throws {
        let g = try chain()
        let (fused, report) = try ElementwiseFusionPass().run(g)
        #expect(report.opCountBefore == 4 && report.opCountAfter == 1)
        #expect(report.kernelCountBefore == 4 && report.kernelCountAfter == 1)
        #expect(FusionCheck.opLabels(fused) == ["fused[mul,add,mul,gelu]"])
        // The scalar constant is held inline, so the constant node is gone.
        #expect(!fused.nodes.contains { if case .constant = $0.op { true } else { false } })
        #expect(fused.nodes.last?.name == "scaled+shifted+halved+act")
        #expect(report.peakBytesAfter! < report.peakBytesBefore!)
        FusionCheck.expectSameInterface(g, fused)
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g))
        print(report)
    }

    @Test func fusedNodeInfersTheTypeOfTheChainItReplaces() throws {
        let g = try chain(rows: 3, columns: 5)
        let (fused, _) = try ElementwiseFusionPass().run(g)
        let node = try #require(fused.nodes.last)
        #expect(fused[value: node.outputs[0]].type == TensorType([3, 5]))
        try FusionCheck.expectFusedTypesMatch(g, fused)
        guard case .custom(let op) = node.op else { Issue.record("expected a custom op"); return }
        let meta = try KernelBackends.using(MetaBackend()) {
            try op.evaluate([.meta([3, 5]), .meta([3, 5]), .meta([5])])
        }
        #expect(meta[0].isMeta && meta[0].shape == [3, 5] && meta[0].dtype == .float32)
    }

    @Test func valueWithTwoReadersIsNotFusedAway() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([4, 6]))
        b.op("e", .unary(.exp), ["x"])
        b.op("n", .unary(.neg), ["e"])
        b.op("t", .unary(.tanh), ["n"])
        b.op("s", .unary(.sigmoid), ["e"])  // a second reader of e
        b.op("sum", .binary(.add), ["t", "s"])
        b.outputs(["sum"])
        let g = try b.build()
        let (fused, report) = try ElementwiseFusionPass().run(g)
        // e stays (two readers); n, t, s and sum fuse into one node reading e.
        #expect(fused.node(named: "e") != nil)
        #expect(report.opCountAfter == 2)
        let last = try #require(fused.nodes.last)
        #expect(last.inputs == [fused.node(named: "e")!.outputs[0]])
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g))
    }

    @Test func graphOutputInsideAChainStaysMaterialised() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([16]))
        b.op("a", .unary(.abs), ["x"])
        b.op("b", .unary(.sqrt), ["a"])
        b.op("c", .unary(.log), ["b"])
        b.op("d", .unary(.neg), ["c"])
        b.outputs(["d", "b"])
        let g = try b.build()
        let (fused, report) = try ElementwiseFusionPass().run(g)
        #expect(report.opCountBefore == 4 && report.opCountAfter == 2)
        #expect(FusionCheck.opLabels(fused) == ["fused[abs,sqrt]", "fused[log,neg]"])
        // The second output is the end of the first group, read by the second.
        let first = try #require(fused.node(named: "a+b"))
        #expect(fused.outputs[1] == first.outputs[0])
        FusionCheck.expectSameInterface(g, fused)
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g))
    }

    @Test func smallerIntermediateStaysABroadcastInput() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([6, 10]))
        b.parameter("bias", TensorType([10]))
        b.constant("two", Tensor(scalar: Float(2)))
        b.op("doubled", .binary(.mul), ["bias", "two"])  // [10]: not recomputed per row
        b.op("y", .binary(.add), ["x", "doubled"])
        b.op("r", .unary(.relu), ["y"])
        b.outputs(["r"])
        let g = try b.build()
        let (fused, _) = try ElementwiseFusionPass().run(g)
        #expect(FusionCheck.opLabels(fused) == ["mul", "fused[add,relu]"])
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g))
    }

    @Test func comparisonsSelectAndCastsFuseWithBoolRegisters() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([5, 7]))
        b.input("y", TensorType([7]))
        b.constant("zero", Tensor(scalar: Float(0)))
        b.op("positive", .binary(.greater), ["x", "zero"])
        b.op("big", .binary(.greater), ["x", "y"])
        b.op("either", .binary(.logicalOr), ["positive", "big"])
        b.op("flag", .cast(.float32), ["either"])
        b.op("picked", .select, ["either", "x", "y"])
        b.op("mixed", .binary(.add), ["picked", "flag"])
        b.op("not", .unary(.logicalNot), ["either"])
        b.outputs(["mixed", "not"])
        let g = try b.build()
        let (fused, _) = try ElementwiseFusionPass().run(g)
        FusionCheck.expectSameInterface(g, fused)
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g), tolerance: Tolerance(absolute: 0, relative: 0))
    }

    @Test func nonFloat32ChainsFuseAndRunOpByOp() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([3, 4], .float64))
        b.input("i", TensorType([3, 4], .int32))
        b.op("e", .unary(.exp), ["x"])
        b.op("s", .binary(.mul), ["e", "x"])
        b.op("k", .binary(.add), ["i", "i"])
        b.op("m", .binary(.mul), ["k", "i"])
        b.outputs(["s", "m"])
        let g = try b.build()
        let (fused, report) = try ElementwiseFusionPass().run(g)
        #expect(report.opCountAfter == 2)
        #expect(report.notes.contains { $0.contains("op by op") })
        try FusionCheck.expectFusedTypesMatch(g, fused)
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g), tolerance: Tolerance(absolute: 1e-12, relative: 1e-12))
    }

    @Test func nodesPinnedDifferentlyStayApart() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([4]))
        b.op("a", .unary(.exp), ["x"], on: DevicePin(device: 0))
        b.op("b", .unary(.neg), ["a"], on: DevicePin(device: 1))
        b.op("c", .unary(.abs), ["b"], on: DevicePin(device: 1))
        b.outputs(["c"])
        let (fused, _) = try ElementwiseFusionPass().run(try b.build())
        #expect(FusionCheck.opLabels(fused) == ["exp", "fused[neg,abs]"])
        #expect(fused.nodes.last?.pin == DevicePin(device: 1))
    }

    @Test func runningThePassTwiceChangesNothing() throws {
        let (once, _) = try ElementwiseFusionPass().run(try chain())
        let (twice, report) = try ElementwiseFusionPass().run(once)
        #expect(report.opCountBefore == report.opCountAfter)
        #expect(twice.description == once.description)
    }
}

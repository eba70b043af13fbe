import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct ConvBatchNormFusionTests {
    static let statistics = ["gamma", "beta", "mean", "variance"]

    /// `relu(batchNorm(conv2d(x, w, b)))` with the statistics as parameters or constants.
    func block(convolutionBias: Bool = true, constantStatistics: Bool = false, relu: Bool = true) throws -> Graph {
        var b = GraphBuilder()
        b.input("x", TensorType([2, 3, 9, 9]))
        b.parameter("w", TensorType([4, 3, 3, 3]))
        if convolutionBias { b.parameter("b", TensorType([4])) }
        for (k, name) in Self.statistics.enumerated() {
            if constantStatistics {
                var values = try Tensor.testValues([4], seed: UInt64(40 + k))
                if name == "variance" { values = try values.abs() + 0.5 }
                b.constant(name, values)
            } else {
                b.parameter(name, TensorType([4]))
            }
        }
        b.op("conv", .conv2d(Conv2dParameters(stride: 2, padding: 1)), convolutionBias ? ["x", "w", "b"] : ["x", "w"])
        b.op("bn", .batchNorm(epsilon: 1e-3), ["conv"] + Self.statistics)
        if relu {
            b.op("act", .unary(.relu), ["bn"])
            b.outputs(["act"])
        } else {
            b.outputs(["bn"])
        }
        return try b.build()
    }

    @Test func batchNormOnParametersFoldsThroughOneNode() throws {
        let g = try block(relu: false)
        let (folded, report) = try ConvBatchNormFoldingPass().run(g)
        #expect(FusionCheck.opLabels(folded) == ["foldBatchNorm", "conv2d"])
        #expect(folded.nodes.last?.name == "conv+bn")
        // The fold works on the [4, 3, 3, 3] weight, not on the [2, 4, 5, 5] activations.
        #expect(report.opCountBefore == 2 && report.opCountAfter == 2)
        FusionCheck.expectSameInterface(g, folded)
        try FusionCheck.expectFusedTypesMatch(g, folded)
        try FusionCheck.expectSameOutputs(g, folded, feeds: FusionCheck.feeds(for: g, positive: ["variance"]))
    }

    @Test func foldFollowsParameterChanges() throws {
        let g = try block(relu: false)
        let (folded, _) = try ConvBatchNormFoldingPass().run(g)
        for seed in [3, 4] as [UInt64] {
            try FusionCheck.expectSameOutputs(g, folded, feeds: FusionCheck.feeds(for: g, seed: seed, positive: ["variance"]))
        }
    }

    @Test func constantStatisticsFoldAtPassTimeWhenWeightsAreConstant() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([1, 2, 5, 5]))
        b.constant("w", try Tensor.testValues([3, 2, 3, 3], seed: 5))
        for (k, name) in Self.statistics.enumerated() {
            var values = try Tensor.testValues([3], seed: UInt64(50 + k))
            if name == "variance" { values = try values.abs() + 0.5 }
            b.constant(name, values)
        }
        b.op("conv", .conv2d(Conv2dParameters(padding: 1)), ["x", "w"])
        b.op("bn", .batchNorm(epsilon: 1e-5), ["conv"] + Self.statistics)
        b.outputs(["bn"])
        let g = try b.build()
        let (folded, report) = try ConvBatchNormFoldingPass().run(g)
        #expect(report.opCountBefore == 2 && report.opCountAfter == 1)
        #expect(FusionCheck.opLabels(folded) == ["conv2d"])
        // Only the folded weight and bias remain as constants.
        #expect(folded.nodes.filter { if case .constant = $0.op { true } else { false } }.map(\.name) == ["conv+bn.weight", "conv+bn.bias"])
        #expect(report.notes.contains { $0.contains("at pass time") })
        try FusionCheck.expectSameOutputs(g, folded, feeds: FusionCheck.feeds(for: g))
    }

    @Test func constantStatisticsWithParameterWeightsFoldThroughANode() throws {
        let g = try block(convolutionBias: false, constantStatistics: true, relu: false)
        let (folded, _) = try ConvBatchNormFoldingPass().run(g)
        #expect(FusionCheck.opLabels(folded) == ["foldBatchNorm", "conv2d"])
        try FusionCheck.expectSameOutputs(g, folded, feeds: FusionCheck.feeds(for: g))
    }

    @Test func convolutionWithASecondReaderIsNotFolded() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([1, 2, 5, 5]))
        b.parameter("w", TensorType([3, 2, 3, 3]))
        for name in Self.statistics { b.parameter(name, TensorType([3])) }
        b.op("conv", .conv2d(Conv2dParameters()), ["x", "w"])
        b.op("bn", .batchNorm(epsilon: 1e-5), ["conv"] + Self.statistics)
        b.op("raw", .unary(.abs), ["conv"])
        b.outputs(["bn", "raw"])
        let g = try b.build()
        let (folded, report) = try ConvBatchNormFoldingPass().run(g)
        #expect(report.opCountAfter == report.opCountBefore)
        #expect(FusionCheck.opLabels(folded) == ["conv2d", "batchNorm", "abs"])
    }

    @Test func convBatchNormReluBlockThroughTheFullPass() throws {
        let g = try block()
        let (fused, report) = try FusionPass().run(g)
        // conv + batchNorm + relu (three passes over the activations) → fold + conv2d[relu] (one).
        #expect(report.opCountBefore == 3 && report.opCountAfter == 2)
        #expect(FusionCheck.opLabels(fused) == ["foldBatchNorm", "conv2d[relu]"])
        #expect(fused.nodes.last?.name == "conv+bn+act")
        FusionCheck.expectSameInterface(g, fused)
        try FusionCheck.expectFusedTypesMatch(g, fused)
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g, positive: ["variance"]))
        print(report)

        let constant = try block(constantStatistics: true)
        let (fusedConstant, constantReport) = try FusionPass().run(constant)
        #expect(FusionCheck.opLabels(fusedConstant) == ["foldBatchNorm", "conv2d[relu]"])
        try FusionCheck.expectSameOutputs(constant, fusedConstant, feeds: FusionCheck.feeds(for: constant))
        print(constantReport)
    }
}

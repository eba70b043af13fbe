import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct LinearFusionTests {
    func linear(_ activation: UnaryOp?, biasShape: Shape = [5], biasFirst: Bool = false) throws -> Graph {
        var b = GraphBuilder()
        b.input("x", TensorType([4, 6]))
        b.parameter("w", TensorType([6, 5]))
        b.parameter("b", TensorType(biasShape))
        b.op("fc", .matmul, ["x", "w"])
        b.op("biased", .binary(.add), biasFirst ? ["b", "fc"] : ["fc", "b"])
        if let activation {
            b.op("act", .unary(activation), ["biased"])
            b.outputs(["act"])
        } else {
            b.outputs(["biased"])
        }
        return try b.build()
    }

    static let activations: [UnaryOp] = [.relu, .geluExact, .geluTanh, .sigmoid, .tanh, .silu, .leakyRelu(alpha: 0.1), .elu(alpha: 1), .softplus]

    @Test(arguments: activations)
    func matmulBiasActivationBecomesOneNode(_ activation: UnaryOp) throws {
        let g = try linear(activation)
        let (fused, report) = try LinearFusionPass().run(g)
        #expect(report.opCountBefore == 3 && report.opCountAfter == 1)
        #expect(FusionCheck.opLabels(fused) == ["linear[matmul,add,\(activation)]"])
        #expect(fused.nodes.last?.name == "fc+biased+act")
        FusionCheck.expectSameInterface(g, fused)
        try FusionCheck.expectFusedTypesMatch(g, fused)
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g))
    }

    @Test func biasOnTheLeftRowShapedOrScalarFuses() throws {
        for (shape, first) in [(Shape([5]), true), (Shape([1, 5]), false), (Shape([]), false), (Shape([4, 1]), true)] {
            let g = try linear(.relu, biasShape: shape, biasFirst: first)
            let (fused, report) = try LinearFusionPass().run(g)
            #expect(report.opCountAfter == 1, "bias \(shape)")
            try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g))
        }
    }

    @Test func biasThatGrowsTheResultIsNotFused() throws {
        // [4, 5] + [3, 4, 5] broadcasts to [3, 4, 5]: not a bias of the product.
        let g = try linear(nil, biasShape: [3, 4, 5])
        let (fused, report) = try LinearFusionPass().run(g)
        #expect(report.opCountAfter == report.opCountBefore)
        #expect(FusionCheck.opLabels(fused) == ["matmul", "add"])
    }

    @Test func matmulWithOnlyABiasOrOnlyAnActivationFuses() throws {
        let withBias = try linear(nil)
        let (a, _) = try LinearFusionPass().run(withBias)
        #expect(FusionCheck.opLabels(a) == ["linear[matmul,add]"])
        try FusionCheck.expectSameOutputs(withBias, a, feeds: FusionCheck.feeds(for: withBias))

        var b = GraphBuilder()
        b.input("x", TensorType([2, 3, 4]))
        b.parameter("w", TensorType([4, 7]))
        b.op("fc", .matmul, ["x", "w"])
        b.op("act", .unary(.silu), ["fc"])
        b.outputs(["act"])
        let g = try b.build()
        let (fused, _) = try LinearFusionPass().run(g)
        #expect(FusionCheck.opLabels(fused) == ["linear[matmul,silu]"])
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g))
    }

    @Test func productWithTwoReadersOrAsAnOutputStays() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([4, 6]))
        b.parameter("w", TensorType([6, 5]))
        b.parameter("b", TensorType([5]))
        b.op("fc", .matmul, ["x", "w"])
        b.op("biased", .binary(.add), ["fc", "b"])
        b.op("act", .unary(.relu), ["biased"])
        b.op("other", .unary(.exp), ["fc"])
        b.outputs(["act", "other"])
        let g = try b.build()
        let (fused, _) = try LinearFusionPass().run(g)
        #expect(FusionCheck.opLabels(fused) == ["matmul", "add", "relu", "exp"])

        var c = GraphBuilder()
        c.input("x", TensorType([4, 6]))
        c.parameter("w", TensorType([6, 5]))
        c.parameter("b", TensorType([5]))
        c.op("fc", .matmul, ["x", "w"])
        c.op("biased", .binary(.add), ["fc", "b"])
        c.op("act", .unary(.relu), ["biased"])
        c.outputs(["act", "biased"])
        let h = try c.build()
        let (fusedH, _) = try LinearFusionPass().run(h)
        // The biased value is an output: matmul and add fuse, the activation stays.
        #expect(FusionCheck.opLabels(fusedH) == ["linear[matmul,add]", "relu"])
        FusionCheck.expectSameInterface(h, fusedH)
        try FusionCheck.expectSameOutputs(h, fusedH, feeds: FusionCheck.feeds(for: h))
    }

    @Test func convolutionFollowedByReluBecomesFusedConv2d() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([2, 3, 8, 8]))
        b.parameter("w", TensorType([4, 3, 3, 3]))
        b.parameter("b", TensorType([4]))
        b.op("conv", .conv2d(Conv2dParameters(padding: 1)), ["x", "w", "b"])
        b.op("act", .unary(.relu), ["conv"])
        b.outputs(["act"])
        let g = try b.build()
        let (fused, report) = try LinearFusionPass().run(g)
        #expect(report.opCountBefore == 2 && report.opCountAfter == 1)
        #expect(FusionCheck.opLabels(fused) == ["conv2d[relu]"])
        try FusionCheck.expectFusedTypesMatch(g, fused)
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g))
    }

    @Test func float64LinearRunsThroughTheFrontEnd() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([3, 4], .float64))
        b.parameter("w", TensorType([4, 2], .float64))
        b.parameter("b", TensorType([2], .float64))
        b.op("fc", .matmul, ["x", "w"])
        b.op("biased", .binary(.add), ["fc", "b"])
        b.op("act", .unary(.tanh), ["biased"])
        b.outputs(["act"])
        let g = try b.build()
        let (fused, _) = try LinearFusionPass().run(g)
        #expect(FusionCheck.opLabels(fused) == ["linear[matmul,add,tanh]"])
        #expect(fused[value: fused.outputs[0]].type == TensorType([3, 2], .float64))
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g), tolerance: Tolerance(absolute: 1e-12, relative: 1e-12))
    }
}

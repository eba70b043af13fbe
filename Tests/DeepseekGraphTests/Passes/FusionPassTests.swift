import DeepseekCore
import DeepseekGraph
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct FusionPassTests {
    /// Two linear layers and an affine output head, traced like a model author would write it.
    func mlp() throws -> Graph {
        let tracer = GraphTracer()
        let x = try tracer.input("x", TensorType([32, 64]))
        let w1 = try tracer.parameter("w1", TensorType([64, 128]))
        let b1 = try tracer.parameter("b1", TensorType([128]))
        let w2 = try tracer.parameter("w2", TensorType([128, 10]))
        let b2 = try tracer.parameter("b2", TensorType([10]))
        let scale = try tracer.parameter("scale", TensorType([10]))
        let h = try (x.matmul(w1, name: "fc1") + b1).gelu()
        let z = try (h.matmul(w2, name: "fc2") + b2).tanh()
        let y = try (z * scale) + 0.5
        return tracer.finish(outputs: [y])
    }

    @Test func mlpFusesIntoThreeKernels() throws {
        let g = try mlp()
        let (fused, report) = try FusionPass().run(g)
        #expect(report.opCountBefore == 8 && report.opCountAfter == 3)
        #expect(report.kernelCountBefore == 8 && report.kernelCountAfter == 3)
        #expect(FusionCheck.opLabels(fused) == ["linear[matmul,add,gelu]", "linear[matmul,add,tanh]", "fused[mul,add]"])
        #expect(report.steps.map(\.passName) == ["convBatchNormFolding", "linearFusion", "elementwiseFusion"])
        #expect(report.peakBytesAfter! < report.peakBytesBefore!)
        FusionCheck.expectSameInterface(g, fused)
        try FusionCheck.expectFusedTypesMatch(g, fused)
        try FusionCheck.expectSameOutputs(g, fused, feeds: FusionCheck.feeds(for: g))
        print(report)
    }

    @Test func reportDescribesCountsMemoryAndSteps() throws {
        let (_, report) = try FusionPass().run(try mlp())
        let text = report.description
        #expect(text.hasPrefix("fusion: ops 8 → 3, kernels 8 → 3, peak "))
        #expect(text.contains("  linearFusion: ops 8 → 4"))
        #expect(text.contains("fused \"fc1\""))
    }

    @Test func settingsSelectThePasses() throws {
        let g = try mlp()
        let (onlyElementwise, report) = try FusionPass(settings: FusionSettings(foldsBatchNorm: false, fusesLinear: false)).run(g)
        #expect(report.steps.map(\.passName) == ["elementwiseFusion"])
        // add+gelu, add+tanh and mul+add fuse; the matmuls stay.
        #expect(FusionCheck.opLabels(onlyElementwise) == ["matmul", "fused[add,gelu]", "matmul", "fused[add,tanh,mul,add]"])
        try FusionCheck.expectSameOutputs(g, onlyElementwise, feeds: FusionCheck.feeds(for: g))
    }

    @Test func statisticsCountSourcesViewsAndPeakMemory() throws {
        var b = GraphBuilder()
        b.input("x", TensorType([4, 8]))  // 128 bytes
        b.op("e", .unary(.exp), ["x"])  // 128 bytes, live until "r" has run
        b.op("r", .reshape([8, 4]), ["e"])  // a view of e
        b.op("n", .unary(.neg), ["r"])  // 128 bytes
        b.outputs(["n"])
        let s = GraphStatistics(try b.build())
        #expect(s.opCount == 3 && s.kernelCount == 2)
        // While n runs, e (through the view) and n are both alive.
        #expect(s.peakBytes == 256)
    }

    @Test func pipelineRejectsAPassThatChangesTheInterface() throws {
        struct DropsOutputs: GraphPass {
            var name: String { "dropsOutputs" }
            func run(_ graph: Graph) throws -> (Graph, PassReport) {
                var g = graph
                g.outputs = []
                let s = GraphStatistics(g)
                return (g, PassReport(passName: name, before: s, after: s))
            }
        }
        let error = try #require(throws: GraphError.self) { try PassPipeline([DropsOutputs()]).run(try mlp()) }
        #expect(error.message.contains("dropsOutputs"))
    }
}

import ArgumentParser
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekTensor

/// `deepseek passes`: what fusion and memory planning do to real model blocks.
struct PassesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passes",
        abstract: "Trace a ViT encoder block and a ResNet basic block, then report fusion and memory planning on them.",
        discussion: """
            For each block: the fusion pass's op and kernel counts before and after and the largest
            difference of its output from the unfused graph's; the memory plan's arena against every
            activation in its own buffer; and whether the planned run's output is bit-for-bit the
            plain run's.
            """
    )

    @Option(help: "Batch size of both blocks.") var batch = 8

    func run() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
        KernelBackends.default = CPUBackend()
        var rng = SeededRandom(seed: 7)
        let vit = try TransformerEncoderBlock(dim: 192, heads: 3, rng: &rng)
        let resnet = try ResidualBlock(inChannels: 64, outChannels: 64, rng: &rng)
        try report("ViT encoder block (dim 192, 3 heads, 197 tokens)", vit, input: TensorType([batch, 197, 192]), rng: &rng)
        print("")
        try report("ResNet basic block (64 channels, 56×56)", resnet, input: TensorType([batch, 64, 56, 56]), rng: &rng)
    }

    func report(_ title: String, _ model: any Module, input: TensorType, rng: inout SeededRandom) throws {
        let graph = try model.trace(input, name: "x")
        let feeds = GraphFeeds(inputs: ["x": try Tensor.normal(input.shape, rng: &rng)], parameters: model.parameterValues)
        print("\(title), batch \(batch): \(graph.nodes.count) nodes")

        let reference = try graph.run(feeds)[0]
        let (fused, fusion) = try FusionPass().run(graph)
        let fusedOutput = try fused.run(feeds)[0]
        let difference = try (fusedOutput - reference).abs().max().item(as: Float.self)
        print("  fusion: ops \(fusion.opCountBefore) → \(fusion.opCountAfter), kernels \(fusion.kernelCountBefore) → \(fusion.kernelCountAfter); largest output difference \(difference)")

        let plan = try graph.memoryPlan()
        let (planned, stats) = try graph.run(feeds, memory: plan)
        let identical = try planned[0].scalars(as: Float.self).map(\.bitPattern) == reference.scalars(as: Float.self).map(\.bitPattern)
        let saved = 100 * (1 - Double(stats.arenaBytes) / Double(stats.unplannedBytes))
        print("  memory plan: arena \(mib(stats.arenaBytes)) vs \(mib(stats.unplannedBytes)) unplanned (\(Int(saved.rounded()))% less), lower bound \(mib(plan.report.lowerBoundByteCount)), \(plan.report.inPlaceReuseCount) in-place reuses")
        print("  planned run: output \(identical ? "bit-for-bit identical to" : "DIFFERS from") the plain run; \(stats.copiedIntoSlot) outputs copied into their slot, \(stats.outsideArena) outside the arena")
        guard identical else { throw ValidationError("the planned run's output differs from the plain run") }
    }

    func mib(_ bytes: Int) -> String { "\(Double(bytes * 10 / (1 << 20)) / 10) MiB" }
}

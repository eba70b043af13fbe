import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekNN
import DeepseekTensor

// The `vision` group: ResNet-50 inference (batch 8, 3×224×224, float32) on the CPU backend, against
// the same network in PyTorch with the same number of threads.

func runVision(_ options: Options, pytorch: inout PyTorchBaseline) throws -> GroupReport {
    let batch = 8
    let name = "ResNet-50 inference, batch \(batch), 224x224"
    var report = GroupReport(
        group: Group.vision.rawValue, title: "Model zoo — vision: ResNet-50 inference, batch \(batch), 3×224×224, float32 vs PyTorch",
        command: options.command(for: .vision))
    report.columns = [
        Column("threads", "threads"), Column("ms", "Deepseek ms per batch", .fixed(0)), Column("rate", "Deepseek images/s", .fixed(1)),
        Column("gflops", "Deepseek GFLOP/s", .fixed(0)), Column("unfused_rate", "unfused graph images/s", .fixed(1)),
        Column("torch_ms", "PyTorch ms per batch", .fixed(0)), Column("torch_rate", "PyTorch images/s", .fixed(1)),
        Column("speed", "speed vs PyTorch", .ratio),
    ]
    pytorch.measure(group: "vision", threads: options.threads, repetitions: options.repetitions, minimumSampleSeconds: 0)

    // Random weights with running statistics that are not the identity, so batch-norm folding does
    // real work; the time does not depend on the values.
    let zoo = try ModelZoo.build(name: "resnet50", batch: batch, seed: 21)
    var rng = SeededRandom(seed: 22)
    for p in zoo.module.parameters where p.name.hasSuffix("running_var") {
        p.value = try Tensor.uniform(p.value.shape, low: 0.5, high: 1.5, rng: &rng)
    }
    let graph = try zoo.trace()
    let (fused, passReport) = try FusionPass().run(graph)
    let x = try Tensor.uniform(zoo.input.type.shape, low: 0, high: 1, rng: &rng)
    let feeds = GraphFeeds(inputs: [zoo.input.name: x], parameters: zoo.parameterFeeds(for: graph))
    let flops = try zoo.simulate().cost.flops / Double(batch)  // per image

    let sampler = Sampler(repetitions: options.repetitions, minimumSampleSeconds: 0)
    var misses: [String] = []
    for threads in options.threads {
        progress("vision: \(name), \(threads) thread(s)")
        let backend = try makeCPUBackend(threads: threads)
        let plain = try KernelBackends.using(backend) { try graph.run(feeds)[0] }
        let optimised = try KernelBackends.using(backend) { try fused.run(feeds)[0] }
        let largest = try plain.abs().max().item(as: Float.self)
        let difference = try (plain - optimised).abs().max().item(as: Float.self) / Swift.max(largest, 1e-6)
        if difference > 1e-3 { report.notes.append("The fused graph's logits differ from the unfused ones by \(difference) (relative) at \(threads) thread(s).") }
        let samples = try sampler.measure([
            Contestant(name: "fused") { _ = try KernelBackends.using(backend) { try fused.run(feeds) } },
            Contestant(name: "unfused") { _ = try KernelBackends.using(backend) { try graph.run(feeds) } },
        ])
        let seconds = samples[0].median
        let torch = pytorch.seconds(group: "vision", name: name, threads: threads)
        if threads == 2, let torch, torch / seconds < 0.9 { misses.append(formatNumber(torch / seconds, digits: 2) + "×") }
        let images = Double(batch)
        var record: [String: Value] = ["threads": .integer(threads), "deepseek_seconds": .numbers(samples[0].seconds)]
        record["ms"] = .number(seconds * 1e3)
        record["rate"] = .number(images / seconds)
        record["gflops"] = .number(flops * images / seconds / 1e9)
        record["unfused_rate"] = .number(images / samples[1].median)
        if let torch {
            record["torch_ms"] = .number(torch * 1e3)
            record["torch_rate"] = .number(images / torch)
            record["speed"] = .number(torch / seconds)
        }
        report.records.append(record)
    }
    report.notes.append(
        "One image is \(formatNumber(flops / 1e9, digits: 2)) GFLOP as MetaBackend counts the forward pass (convolutions and the classifier: 4.09 G multiply-accumulates, torchvision's figure). "
            + "Deepseek traces ModelZoo's resnet50, applies FusionPass (\(passReport.kernelCountBefore) → \(passReport.kernelCountAfter) kernels: batch norm folded into the convolutions, ReLU fused) and runs the graph with Graph.run on CPUBackend; "
            + "PyTorch \(pytorch.version ?? "—") runs the same network (torch.nn, eval mode, inference_mode) from Tools/Benchmarks/pytorch_baselines.py with torch.set_num_threads(threads), in the same run.")
    if options.threads.contains(2), pytorch.unavailableReason == nil {
        report.notes.append("Target ≥ 0.9× PyTorch at 2 threads: " + (misses.isEmpty ? "met." : "missed (\(misses.joined(separator: ", ")))."))
    }
    if let reason = pytorch.unavailableReason { report.notes.append(reason) }
    return report
}

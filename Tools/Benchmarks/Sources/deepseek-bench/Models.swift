import DeepseekCore
import DeepseekKernelsBLAS
import DeepseekModels
import DeepseekTensor

// The `models` group: sentence embeddings with an all-MiniLM-L6-v2-sized BERT (6 layers, 384 wide,
// 12 heads, FFN 1536) at batch 32 × 128 tokens, against the same model in PyTorch.

func runModels(_ options: Options, pytorch: inout PyTorchBaseline) throws -> GroupReport {
    let name = "MiniLM-L6 sentence embeddings, batch 32, seq 128"
    let (batch, tokens) = (32, 128)
    var report = GroupReport(group: Group.models.rawValue, title: "Model zoo: MiniLM-L6 sentence embeddings vs PyTorch", command: options.command(for: .models))
    report.columns = [
        Column("case", "case"), Column("threads", "threads"), Column("ms", "Deepseek ms per batch", .fixed(1)),
        Column("torch_ms", "PyTorch ms per batch", .fixed(1)), Column("rate", "Deepseek embeddings/s", .fixed(1)),
        Column("torch_rate", "PyTorch embeddings/s", .fixed(1)), Column("speed", "speed vs PyTorch", .ratio), Column("target", "target"),
    ]
    let threads = options.threads.max() ?? 2
    pytorch.measure(group: "models", threads: [threads], repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)

    // Random weights and ids: the time does not depend on the values, and the benchmark needs no
    // download. (The pretrained model is checked for correctness by the MiniLM tests.)
    let model = try BERTModel(.miniLML6, seed: 11)
    let tokenizer = try WordPieceTokenizer(vocabulary: ["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    let embedder = SentenceEmbedder(model: model, tokenizer: tokenizer)
    var rng = SeededRandom(seed: 12)
    let ids = try Tensor((0..<(batch * tokens)).map { _ in Int64(rng.next() % 29_000 + 1000) }, shape: [batch, tokens])
    let mask = try Tensor.ones([batch, tokens])
    let backend = try makeCPUBackend(threads: threads)
    _ = try KernelBackends.using(backend) { try embedder.embed(ids: ids, mask: mask) }  // traces and warms up
    progress("models: \(name), \(threads) thread(s)")
    let sampler = Sampler(repetitions: options.repetitions, minimumSampleSeconds: 0)
    let samples = try sampler.measure([Contestant(name: "deepseek") { _ = try KernelBackends.using(backend) { try embedder.embed(ids: ids, mask: mask) } }])
    let seconds = samples[0].median
    let torch = pytorch.seconds(group: "models", name: name, threads: threads)
    report.records.append([
        "case": .text(name), "threads": .integer(threads), "ms": .number(seconds * 1e3), "deepseek_seconds": .numbers(samples[0].seconds),
        "torch_ms": torch.map { .number($0 * 1e3) } ?? .missing, "rate": .number(Double(batch) / seconds),
        "torch_rate": torch.map { .number(Double(batch) / $0) } ?? .missing, "speed": torch.map { .number($0 / seconds) } ?? .missing,
        "target": .text("≥ 1.0×"),
    ])
    let flops = 6.0 * 2 * Double(batch * tokens) * (4 * 384 * 384 + 2 * 384 * 1536) + 6.0 * 4 * Double(batch * 12 * tokens * tokens * 32)
    report.notes.append(
        "One batch is \(formatNumber(flops / 1e9, digits: 1)) GFLOP of matrix products (linear layers and attention). Deepseek runs SentenceEmbedder's graph (the traced graph rewritten by InferenceGraph.optimized: each product fused with its bias or mask add) with Graph.run on CPUBackend (embedding lookup, 6 encoder layers, mean pooling, L2 normalisation); PyTorch \(pytorch.version ?? "—") runs the same model in inference mode (scaled_dot_product_attention) from Tools/Benchmarks/pytorch_baselines.py with torch.set_num_threads(\(threads)), in the same run. \(pytorch.unavailableReason ?? "")")
    return report
}

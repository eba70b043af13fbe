import CBenchBaselines
import DeepseekKernelsBLAS
import DeepseekTensor

/// The `conv2d` group: a ResNet-sized 3×3 convolution on the CPU backend against PyTorch CPU
/// with the same number of threads.
///
/// For the gap analysis it also times the matrix products alone that an im2col lowering of the
/// same convolution performs: 64 calls of `cblas_sgemm` with [64 × 288] · [288 × 784], one per
/// image, on a patch matrix that is already built (and stays in cache).
func runConv2d(_ options: Options, pytorch: inout PyTorchBaseline) throws -> GroupReport {
    let (n, c, h, w, o, k) = (64, 32, 28, 28, 64, 3)
    let flops = 2.0 * Double(n * o * h * w * c * k * k)
    var report = GroupReport(
        group: Group.conv2d.rawValue,
        title: "conv2d: x [64, 32, 28, 28] * w [64, 32, 3, 3], padding 1, bias, float32 on CPUBackend vs PyTorch",
        command: options.command(for: .conv2d))
    report.columns = [
        Column("threads", "threads"),
        Column("deepseek_ms", "Deepseek ms", .fixed(1)),
        Column("deepseek_gflops", "Deepseek GFLOP/s", .fixed(1)),
        Column("torch_ms", "PyTorch ms", .fixed(1)),
        Column("torch_gflops", "PyTorch GFLOP/s", .fixed(1)),
        Column("speed_vs_torch", "Deepseek speed ÷ PyTorch", .ratio),
        Column("gemm_ms", "cblas GEMM part ms", .fixed(1)),
    ]
    pytorch.measure(
        group: "conv2d", threads: options.threads, repetitions: options.repetitions,
        minimumSampleSeconds: options.minimumSampleSeconds)
    let blasReady = cbenchBLASReady(&report)

    let x = try randomTensor([n, c, h, w], seed: 5)
    let weight = try randomTensor([o, c, k, k], seed: 6, low: -0.1, high: 0.1)
    let bias = try randomTensor([o], seed: 7)
    let parameters = Conv2dParameters(padding: 1)
    let gemmK = c * k * k
    let gemmN = h * w
    let gemmA = FloatBuffer(count: o * gemmK)
    let gemmB = FloatBuffer(count: gemmK * gemmN)
    let gemmC = FloatBuffer(count: n * o * gemmN)
    let sampler = Sampler(repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
    var misses: [String] = []
    for threads in options.threads {
        progress("conv2d: \(threads) thread(s)")
        let backend = try makeCPUBackend(threads: threads)
        try checkConv(x: x, weight: weight, bias: bias, parameters: parameters, backend: backend, report: &report)
        var contestants = [
            Contestant(name: "deepseek") {
                _ = try KernelBackends.using(backend) { try x.conv2d(weight, bias: bias, parameters: parameters) }
            }
        ]
        if blasReady {
            contestants.append(
                Contestant(name: "gemm") {
                    for image in 0..<n {
                        cbench_blas_sgemm(
                            Int32(o), Int32(gemmN), Int32(gemmK), gemmA.pointer, gemmB.pointer, gemmC.pointer + image * o * gemmN)
                    }
                })
        }
        let samples = try sampler.measure(contestants)
        var record: [String: Value] = [
            "threads": .integer(threads), "deepseek_ms": .number(samples[0].median * 1000),
            "deepseek_gflops": .number(flops / samples[0].median / 1e9), "deepseek_seconds": .numbers(samples[0].seconds),
        ]
        if samples.count > 1 {
            record["gemm_ms"] = .number(samples[1].median * 1000)
            record["gemm_seconds"] = .numbers(samples[1].seconds)
        }
        if let s = pytorch.seconds(group: "conv2d", name: "conv2d 64x32x28x28 * 64x32x3x3 pad 1", threads: threads) {
            record["torch_ms"] = .number(s * 1000)
            record["torch_gflops"] = .number(flops / s / 1e9)
            let speed = s / samples[0].median
            record["speed_vs_torch"] = .number(speed)
            if threads == 2 && speed < 0.8 { misses.append("\(formatNumber(speed, digits: 2))×") }
        }
        report.records.append(record)
    }
    report.notes.append(
        "FLOPs counted as 2·N·O·H·W·C·3·3 = \(formatNumber(flops / 1e9, digits: 2)) GFLOP per call (bias not counted).")
    if options.threads.contains(2), pytorch.unavailableReason == nil {
        report.notes.append(
            "Target Deepseek ≥ 0.8× PyTorch speed at 2 threads: "
                + (misses.isEmpty ? "met." : "missed (\(misses.joined(separator: ", ")))."))
    }
    report.notes.append(
        "cblas GEMM part: the 64 per-image cblas_sgemm calls ([64 × 288] · [288 × 784]) of an im2col lowering, on "
            + "the same OpenBLAS, without building the patch matrices or adding the bias.")
    if let reason = pytorch.unavailableReason { report.notes.append(reason) }
    return report
}

/// Compares the backend with the reference backend on the first image, so a wrong kernel is not benchmarked.
private func checkConv(
    x: Tensor, weight: Tensor, bias: Tensor, parameters: Conv2dParameters, backend: any KernelBackend,
    report: inout GroupReport
) throws {
    let first = try x.sliced(axis: 0, start: 0, end: 1)
    let ours = try KernelBackends.using(backend) { try first.conv2d(weight, bias: bias, parameters: parameters) }
    let expected = try KernelBackends.using(ReferenceBackend()) { try first.conv2d(weight, bias: bias, parameters: parameters) }
    let difference = try relativeDifference(ours, FloatBuffer(copying: expected))
    if difference > 1e-4 {
        report.notes.append("conv2d differs from the reference backend by \(difference) (relative) on image 0")
    }
}

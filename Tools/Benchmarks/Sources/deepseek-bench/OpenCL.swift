import CBenchBaselines
import DeepseekKernelsBLAS
import DeepseekKernelsOpenCL
import DeepseekTensor

/// The `opencl-sgemm` group: `Tensor.matmul` on the OpenCL backend with its register-blocked
/// kernel, against the same backend with its naive kernel (one output per work-item) and against
/// the CPU backend with the most threads asked for.
func runOpenCLSgemm(_ options: Options) throws -> GroupReport {
    let sizes = options.sizes ?? [512, 1024]
    let cpuThreads = options.threads.max() ?? 1
    var report = GroupReport(
        group: Group.openclSgemm.rawValue, title: "OpenCL sgemm: Tensor.matmul on OpenCLBackend (float32, n×n × n×n)",
        command: options.command(for: .openclSgemm))
    report.columns = [
        Column("n", "n"),
        Column("opencl_gflops", "OpenCL GFLOP/s", .fixed(1)),
        Column("naive_gflops", "naive kernel GFLOP/s", .fixed(1)),
        Column("ratio_naive", "OpenCL ÷ naive", .ratio),
        Column("cpu_gflops", "CPUBackend GFLOP/s (\(cpuThreads) thr.)", .fixed(1)),
        Column("ratio_cpu", "OpenCL ÷ CPU", .ratio),
    ]
    guard OpenCLBackend.isAvailable else {
        report.notes.append("OpenCL unavailable: \(OpenCLBackend.unavailableReason ?? "unknown reason"); nothing measured.")
        return report
    }
    let tuned = try OpenCLBackend(matmulKernel: .registerBlocked)
    let naive = try OpenCLBackend(device: .default, matmulKernel: .naive)
    progress("opencl-sgemm: compiling programs on \(tuned.device.name)")
    try tuned.warmUp()
    try naive.warmUp()
    let cpu = try makeCPUBackend(threads: cpuThreads)
    let sampler = Sampler(repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
    var misses: [String] = []
    for n in sizes {
        progress("opencl-sgemm: n = \(n)")
        let a = try randomTensor([n, n], seed: 8)
        let b = try randomTensor([n, n], seed: 9)
        let flops = 2 * Double(n) * Double(n) * Double(n)
        let expected = try FloatBuffer(copying: KernelBackends.using(cpu) { try a.matmul(b) })
        for (label, backend) in [("register-blocked", tuned), ("naive", naive)] {
            let product = try KernelBackends.using(backend) { try a.matmul(b) }
            let difference = try relativeDifference(product, expected)
            if difference > 1e-4 {
                report.notes.append("n = \(n): the \(label) kernel differs from the CPU backend by \(difference) (relative)")
            }
        }
        let samples = try sampler.measure([
            Contestant(name: "opencl") { _ = try KernelBackends.using(tuned) { try a.matmul(b) } },
            Contestant(name: "naive") { _ = try KernelBackends.using(naive) { try a.matmul(b) } },
            Contestant(name: "cpu") { _ = try KernelBackends.using(cpu) { try a.matmul(b) } },
        ])
        let g = samples.map { flops / $0.median / 1e9 }
        report.records.append([
            "n": .integer(n), "opencl_gflops": .number(g[0]), "naive_gflops": .number(g[1]),
            "ratio_naive": .number(samples[0].pairedSpeedup(over: samples[1])), "cpu_gflops": .number(g[2]),
            "ratio_cpu": .number(samples[0].pairedSpeedup(over: samples[2])),
            "opencl_seconds": .numbers(samples[0].seconds), "naive_seconds": .numbers(samples[1].seconds),
            "cpu_seconds": .numbers(samples[2].seconds), "cpu_threads": .integer(cpuThreads),
        ])
        if n == 1024 && g[0] < 100 { misses.append("\(formatNumber(g[0], digits: 1)) GFLOP/s at n = 1024") }
    }
    report.notes.insert(
        "Device: \(tuned.device.name) (\(tuned.device.vendor), \(tuned.device.computeUnits) compute units, "
            + "\(tuned.device.version), driver \(tuned.device.driverVersion)).", at: 0)
    report.notes.append(
        "Timed through Tensor.matmul, host tensors in and out (what a caller pays). Ratios are medians of "
            + "per-repetition ratios (timed back to back).")
    if sizes.contains(1024) {
        report.notes.append(
            "Target ≥ 100 GFLOP/s at n = 1024: " + (misses.isEmpty ? "met." : "missed (\(misses.joined(separator: ", "))).")
        )
    }
    return report
}

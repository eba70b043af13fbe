import CBenchBaselines
import DeepseekKernelsBLAS
import DeepseekTensor

/// The `sgemm` group: `Tensor.matmul` on the CPU backend against `cblas_sgemm` called directly on
/// the same OpenBLAS library (pre-allocated output, nothing in between), against the FMA peak,
/// and against PyTorch's matmul with the same thread count.
func runSgemm(_ options: Options, peak: [Int: Double], pytorch: inout PyTorchBaseline) throws -> GroupReport {
    let sizes = options.sizes ?? [256, 512, 1024, 2048]
    var report = GroupReport(
        group: Group.sgemm.rawValue, title: "sgemm: Tensor.matmul on CPUBackend vs cblas_sgemm (float32, n×n × n×n)",
        command: options.command(for: .sgemm))
    report.columns = [
        Column("n", "n"), Column("threads", "threads"),
        Column("deepseek_gflops", "Deepseek GFLOP/s", .fixed(1)),
        Column("cblas_gflops", "cblas_sgemm GFLOP/s", .fixed(1)),
        Column("ratio_cblas", "Deepseek ÷ cblas", .ratio),
        Column("peak_fraction", "Deepseek % of peak", .percent),
        Column("cblas_peak_fraction", "cblas % of peak", .percent),
        Column("torch_gflops", "PyTorch GFLOP/s", .fixed(1)),
        Column("ratio_torch", "Deepseek ÷ PyTorch", .ratio),
    ]
    guard cbenchBLASReady(&report) else { return report }

    pytorch.measure(
        group: "sgemm", threads: options.threads, sizes: sizes, repetitions: options.repetitions,
        minimumSampleSeconds: options.minimumSampleSeconds)
    let sampler = Sampler(repetitions: options.repetitions, minimumSampleSeconds: options.minimumSampleSeconds)
    var misses: [String] = []
    for n in sizes {
        let a = try randomTensor([n, n], seed: 1)
        let b = try randomTensor([n, n], seed: 2)
        let rawA = try FloatBuffer(copying: a)
        let rawB = try FloatBuffer(copying: b)
        let rawC = FloatBuffer(count: n * n)
        let flops = 2 * Double(n) * Double(n) * Double(n)
        for threads in options.threads {
            progress("sgemm: n = \(n), \(threads) thread(s)")
            let backend = try makeCPUBackend(threads: threads)
            let deepseek = Contestant(name: "deepseek") {
                _ = try KernelBackends.using(backend) { try a.matmul(b) }
            }
            let cblas = Contestant(name: "cblas") {
                cbench_blas_sgemm(Int32(n), Int32(n), Int32(n), rawA.pointer, rawB.pointer, rawC.pointer)
            }
            // Check once that the two compute the same product before timing them.
            let product = try KernelBackends.using(backend) { try a.matmul(b) }
            try cblas.body()
            let difference = try relativeDifference(product, rawC)
            if difference > 1e-4 {
                report.notes.append("n = \(n), \(threads) thread(s): the backend's product differs from cblas_sgemm by \(difference) (relative)")
            }

            let samples = try sampler.measure([deepseek, cblas])
            let ours = flops / samples[0].median / 1e9
            let theirs = flops / samples[1].median / 1e9
            var record: [String: Value] = [
                "n": .integer(n), "threads": .integer(threads),
                "deepseek_gflops": .number(ours), "cblas_gflops": .number(theirs), "ratio_cblas": .number(samples[0].pairedSpeedup(over: samples[1])),
                "deepseek_seconds": .numbers(samples[0].seconds), "cblas_seconds": .numbers(samples[1].seconds),
                "max_relative_difference": .number(difference),
            ]
            if let p = peak[threads] {
                record["peak_gflops"] = .number(p)
                record["peak_fraction"] = .number(ours / p)
                record["cblas_peak_fraction"] = .number(theirs / p)
            }
            if let seconds = pytorch.seconds(group: "sgemm", name: "matmul \(n)", threads: threads) {
                record["torch_gflops"] = .number(flops / seconds / 1e9)
                record["ratio_torch"] = .number(ours / (flops / seconds / 1e9))
            }
            report.records.append(record)
            let ratio = samples[0].pairedSpeedup(over: samples[1])
            if n >= 512 && ratio < 0.97 {
                misses.append("n = \(n), \(threads) thread(s): \(formatNumber(ratio, digits: 3))×")
            }
        }
    }
    let peakText = options.threads.compactMap { t in peak[t].map { "\(t) thread(s) \(formatNumber($0, digits: 1))" } }
    report.notes.insert(
        "Peak (FMA loop, GFLOP/s): " + (peakText.isEmpty ? "not measured" : peakText.joined(separator: ", ")) + ".", at: 0)
    report.notes.append(
        "Target Deepseek ÷ cblas ≥ 0.97 from n = 512 up: "
            + (misses.isEmpty ? "met in every case." : "missed for " + misses.joined(separator: "; ") + "."))
    report.notes.append(
        "Deepseek ÷ cblas is the median of per-repetition ratios (both timed back to back); GFLOP/s columns are "
            + "medians of their own samples. PyTorch runs in a child process after the Swift cases.")
    if let reason = pytorch.unavailableReason { report.notes.append(reason) }
    return report
}

/// Opens OpenBLAS for the direct baseline (after the backend has loaded it, so it is the same
/// library); on failure adds a note and returns false.
func cbenchBLASReady(_ report: inout GroupReport) -> Bool {
    var message = [CChar](repeating: 0, count: 512)
    guard cbench_blas_open(&message, message.count) == 0 else {
        report.notes.append("OpenBLAS unavailable: " + String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        return false
    }
    return true
}

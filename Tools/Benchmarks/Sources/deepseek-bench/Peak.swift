import CBenchBaselines
#if canImport(Glibc)
import Glibc
#endif

/// The `peak` group: single-precision FMA throughput of the cores, the ceiling for sgemm.
///
/// Returns the report and the median GFLOP/s per thread count with the widest vector width,
/// which the sgemm table divides by.
func runPeak(_ options: Options) -> (report: GroupReport, gflops: [Int: Double]) {
    var report = GroupReport(
        group: Group.peak.rawValue, title: "Peak single-precision FMA throughput",
        command: options.command(for: .peak))
    report.columns = [
        Column("isa", "loop"), Column("threads", "threads"), Column("gflops", "GFLOP/s (median)", .fixed(1)),
        Column("min", "min", .fixed(1)), Column("max", "max", .fixed(1)),
        Column("cpu_share", "CPU share", .percent),
    ]
    var best: [Int: Double] = [:]
    let widest = cbench_fma_best_lanes()
    let widths: [Int32] = widest == 16 ? [16, 8] : [widest]
    for lanes in widths {
        for threads in options.threads {
            progress("peak: \(String(cString: cbench_fma_isa_name(lanes))), \(threads) thread(s)")
            guard let (samples, share) = measurePeak(threads: threads, lanes: lanes, repetitions: options.repetitions)
            else { continue }
            let gflops = 1 / samples.median
            if lanes == widest { best[threads] = gflops }
            report.records.append([
                "isa": .text(String(cString: cbench_fma_isa_name(lanes))), "threads": .integer(threads),
                "gflops": .number(gflops), "min": .number(1 / samples.maximum), "max": .number(1 / samples.minimum),
                "samples_gflops": .numbers(samples.seconds.map { 1 / $0 }), "cpu_share": .number(share),
            ])
        }
    }
    report.notes.append(
        "Unrolled loop of 12 independent FMA accumulators per thread (registers only): the cores' FMA "
            + "throughput, which no sgemm can exceed. CPU share: process CPU time ÷ (wall time × threads); "
            + "below 100 % other work took the cores for part of the run and the figure is low.")
    return (report, best)
}

/// Prints a progress line on standard error, so standard output stays a clean table or JSON.
func progress(_ line: String) {
    let text = line + "\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
}

import CBenchBaselines
import DeepseekKernelsBLAS
import Foundation

/// What the numbers were measured on, printed above the tables and in `--json`.
struct MachineReport: Sendable, Encodable {
    var cpu: String
    var cores: Int
    var loadAverageAtStart: Double
    var loadAverageAtEnd: Double?
    var fmaISA: String
    var openBLASPath: String?
    var openBLASConfig: String?
    var openBLASCore: String?
    var torch: String?
    /// The OpenBLAS load report of the CPU backend.
    var blasBackend: BLASReport?
    var build: String

    static func current() -> MachineReport {
        var blasMessage = [CChar](repeating: 0, count: 512)
        let blasOpened = cbench_blas_open(&blasMessage, blasMessage.count) == 0
        #if DEBUG
        let build = "debug (numbers are not representative: use -c release)"
        #else
        let build = "release"
        #endif
        return MachineReport(
            cpu: cpuModel(),
            cores: sysconf(Int32(_SC_NPROCESSORS_ONLN)),
            loadAverageAtStart: loadAverage(),
            fmaISA: String(cString: cbench_fma_isa_name(cbench_fma_best_lanes())),
            openBLASPath: blasOpened ? String(cString: cbench_blas_path()) : nil,
            openBLASConfig: blasOpened ? String(cString: cbench_blas_config()) : nil,
            openBLASCore: blasOpened ? String(cString: cbench_blas_corename()) : nil,
            build: build
        )
    }

    var markdown: String {
        var lines = [
            "- CPU: \(cpu), \(cores) cores online; FMA peak loop uses \(fmaISA)",
            "- load average (1 min): \(formatNumber(loadAverageAtStart, digits: 2)) at start"
                + (loadAverageAtEnd.map { ", \(formatNumber($0, digits: 2)) at end" } ?? ""),
        ]
        if let openBLASConfig, let openBLASCore {
            lines.append("- OpenBLAS: \(openBLASConfig); core chosen by the library: \(openBLASCore)")
        }
        if let openBLASPath { lines.append("- OpenBLAS library: \(openBLASPath)") }
        if let blasBackend {
            lines.append(
                "- CPUBackend's OpenBLAS load: core \(blasBackend.coreType) (\(blasBackend.selection)), "
                    + "verified: \(blasBackend.verified)")
        }
        if let torch { lines.append("- PyTorch: \(torch)") }
        lines.append("- build: \(build)")
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The CPU model name from /proc/cpuinfo, or "unknown CPU".
func cpuModel() -> String {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
    for line in text.split(separator: "\n") where line.hasPrefix("model name") {
        if let colon = line.firstIndex(of: ":") {
            return line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
    }
    return "unknown CPU"
}

/// Measures the single-precision FMA peak on `threads` threads with vectors of `lanes` floats
/// (0: the widest the CPU has). Each sample holds seconds per GFLOP, so its median inverts to
/// the median GFLOP/s; nil when the CPU lacks that width.
///
/// The loop keeps twelve independent vector accumulators in registers, enough to cover FMA
/// latency on every port, so it runs at the cores' FMA throughput; each sample lasts about
/// `seconds` so clock ramp-up and thread start-up do not count.
/// `cpuShare` is the process's CPU time over wall time × threads, median over the samples: below
/// 1 the threads were descheduled for other work, and the figure understates the peak.
func measurePeak(
    threads: Int, lanes: Int32 = 0, repetitions: Int, seconds: Double = 0.2
) -> (samples: Samples, cpuShare: Double)? {
    var iterations: Int64 = 1 << 18
    // Calibrate on one thread: every thread runs the same count in parallel.
    while true {
        let start = monotonicSeconds()
        guard cbench_fma_run(1, iterations, lanes) > 0 else { return nil }
        let elapsed = monotonicSeconds() - start
        if elapsed >= seconds / 4 {
            iterations = Int64(Double(iterations) * seconds / elapsed)
            break
        }
        iterations *= 4
    }
    var samples = Samples(seconds: [])
    var shares = Samples(seconds: [])
    for _ in 0..<repetitions {
        let cpuStart = processCPUSeconds()
        let start = monotonicSeconds()
        let flops = cbench_fma_run(Int32(threads), iterations, lanes)
        let elapsed = monotonicSeconds() - start
        samples.seconds.append(elapsed / (flops / 1e9))
        shares.seconds.append((processCPUSeconds() - cpuStart) / (elapsed * Double(threads)))
    }
    return (samples, shares.median)
}

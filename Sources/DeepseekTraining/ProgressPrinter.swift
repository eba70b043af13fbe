#if canImport(Glibc)
import Glibc
#endif

/// Shows training progress: a bar redrawn in place when standard output is a terminal (step,
/// loss, samples/s, ETA), a plain line every few steps otherwise, and one line per epoch.
final class ProgressPrinter: @unchecked Sendable {
    let style: ProgressStyle
    private var lastLength = 0
    private var secondsPerStep = 0.0

    init(style: ProgressStyle) {
        switch style {
        case .automatic: self.style = isatty(1) != 0 ? .bar : .lines
        default: self.style = style
        }
    }

    func step(_ r: StepReport, every: Int, totalEpochs: Int) {
        // Smoothed seconds per step, for the ETA.
        secondsPerStep = secondsPerStep == 0 ? r.seconds : 0.9 * secondsPerStep + 0.1 * r.seconds
        switch style {
        case .none: return
        case .lines:
            guard r.stepInEpoch % max(every, 1) == 0 || r.stepInEpoch == r.stepsInEpoch else { return }
            write("epoch \(r.epoch + 1)/\(totalEpochs) step \(r.stepInEpoch)/\(r.stepsInEpoch): loss \(Self.fixed(r.loss, 4)), lr \(Self.fixed(r.learningRate, 5)), \(Int(r.samplesPerSecond)) samples/s\n")
        case .bar, .automatic:
            let width = 24
            let filled = r.stepsInEpoch > 0 ? width * r.stepInEpoch / r.stepsInEpoch : width
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            let eta = Double(r.stepsInEpoch - r.stepInEpoch) * secondsPerStep
            let line = "epoch \(r.epoch + 1)/\(totalEpochs) [\(bar)] \(r.stepInEpoch)/\(r.stepsInEpoch) loss \(Self.fixed(r.loss, 4)) \(Int(r.samplesPerSecond)) samples/s ETA \(Int(eta.rounded())) s"
            let pad = max(0, lastLength - line.count)
            lastLength = line.count
            write("\r" + line + String(repeating: " ", count: pad))
        }
    }

    func epoch(_ r: EpochReport) {
        switch style {
        case .none: return
        case .bar, .automatic:
            write("\r" + String(repeating: " ", count: lastLength) + "\r")
            lastLength = 0
            write(r.description + "\n")
        case .lines: write(r.description + "\n")
        }
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { _ = Glibc.write(1, $0.baseAddress, $0.count) }
    }

    static func fixed(_ x: Double, _ digits: Int) -> String {
        guard x.isFinite else { return "\(x)" }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        return "\((x * scale).rounded() / scale)"
    }
}

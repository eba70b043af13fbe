import Foundation
import Testing

/// `deepseek train --trace` writes a timeline that a trace viewer opens: steps, kernels, the
/// engine's dispatches and flows, with every begin matched by an end.
@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"))
struct TrainTraceTests {
    /// Writes a small Fashion-MNIST-shaped dataset (IDX, gzip) with `count` examples per split.
    static func writeMiniDataset(to directory: URL, count: Int) throws {
        func idx(_ dims: [Int], type: UInt8, payload: [UInt8]) -> Data {
            var bytes: [UInt8] = [0, 0, type, UInt8(dims.count)]
            for d in dims { bytes += [UInt8(d >> 24 & 0xFF), UInt8(d >> 16 & 0xFF), UInt8(d >> 8 & 0xFF), UInt8(d & 0xFF)] }
            return Data(bytes + payload)
        }
        var state: UInt64 = 7
        func next() -> UInt8 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(truncatingIfNeeded: state >> 56)
        }
        for (prefix, n) in [("train", count), ("t10k", count / 2)] {
            let labels = (0..<n).map { _ in next() % 10 }
            // Each class brightens its own band of rows, so the data is learnable.
            var pixels: [UInt8] = []
            for label in labels {
                for row in 0..<28 { for _ in 0..<28 { pixels.append(row / 3 == Int(label) ? 200 &+ next() % 55 : next() % 60) } }
            }
            try idx([n, 28, 28], type: 0x08, payload: pixels).write(to: directory.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try idx([n], type: 0x08, payload: labels).write(to: directory.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
        let gzip = runProcess("/bin/gzip", ["-f"] + ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"].map { directory.appendingPathComponent($0).path })
        #expect(gzip.exitCode == 0, "gzip: \(gzip.stderr)")
    }

    @Test func aTracedTrainingRunWritesAValidTimeline() throws {
        let binary = try #require(deepseekBinary)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deepseek-trace-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.writeMiniDataset(to: directory, count: 512)
        let path = directory.appendingPathComponent("train.json").path
        let result = runProcess(
            binary, ["train", "--model", "mlp", "--hidden", "32", "--epochs", "1", "--steps-per-epoch", "6", "--data", directory.path, "--trace", path])
        #expect(result.exitCode == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("trace: "), "\(result.stdout)")

        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let events = try #require(root["traceEvents"] as? [[String: Any]])
        let names = Set(events.compactMap { $0["name"] as? String })
        for step in 0..<6 { #expect(names.contains("step \(step)")) }
        #expect(events.contains { ($0["cat"] as? String) == "kernel" })
        let phases = events.compactMap { $0["ph"] as? String }
        #expect(phases.filter { $0 == "B" }.count == phases.filter { $0 == "E" }.count)
        #expect(phases.contains("s") && phases.contains("f"))
        // The trace's own checks and analysis read it back without complaint.
        let validation = runProcess(binary, ["trace", "validate", path])
        #expect(validation.exitCode == 0, "\(validation.stdout)\n\(validation.stderr)")
        let summary = runProcess(binary, ["trace", "summary", path])
        #expect(summary.exitCode == 0, "\(summary.stdout)\n\(summary.stderr)")
        #expect(summary.stdout.contains("Trainer"), "\(summary.stdout)")
    }
}

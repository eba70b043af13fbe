import Foundation
import Testing

/// `deepseek train --nodes N` starts N rank processes on loopback: they train like one process
/// with the same global batch, keep identical replicas, compress gradients on request, stop
/// with a clear error when a rank dies, and resume from the last checkpoint on another count.
@Suite(.enabled(if: deepseekBinary != nil, "the deepseek binary is not built next to the test bundle"), .serialized)
struct TrainClusterTests {
    /// A directory holding the mini dataset; removed by the caller.
    static func dataset(_ name: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("deepseek-\(name)-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try TrainTraceTests.writeMiniDataset(to: directory, count: 512)
        return directory
    }

    static func common(_ data: URL) -> [String] {
        ["train", "--model", "mlp", "--hidden", "32", "--batch-size", "24", "--steps-per-epoch", "4", "--data", data.path]
    }

    static func metrics(_ path: String) throws -> [String: Double] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        return try #require(object as? [String: Any]).compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    /// `[rank r] parameter checksum X` lines, by rank.
    static func checksums(_ output: String) -> [Int: String] {
        var out: [Int: String] = [:]
        for line in output.split(separator: "\n") where line.contains("parameter checksum") {
            let words = line.split(separator: " ")
            if words.count >= 4, let r = Int(words[1].dropLast()) { out[r] = String(words.last!) }
        }
        return out
    }

    @Test(.timeLimit(.minutes(3)))
    func fourProcessesTrainLikeOneProcessAndKeepIdenticalReplicas() throws {
        let binary = try #require(deepseekBinary)
        let data = try Self.dataset("cluster-equal")
        defer { try? FileManager.default.removeItem(at: data) }
        let one = data.appendingPathComponent("one.json").path
        let four = data.appendingPathComponent("four.json").path
        let single = runProcess(binary, Self.common(data) + ["--epochs", "2", "--metrics-json", one])
        #expect(single.exitCode == 0, "\(single.stdout)\n\(single.stderr)")
        let cluster = runProcess(binary, Self.common(data) + ["--epochs", "2", "--nodes", "4", "--metrics-json", four], timeout: 150)
        #expect(cluster.exitCode == 0 && !cluster.timedOut, "\(cluster.stdout)\n\(cluster.stderr)")
        #expect(cluster.stdout.contains("all 4 ranks finished"), "\(cluster.stdout)")
        let a = try Self.metrics(one)
        let b = try Self.metrics(four)
        for key in ["train_loss", "test_loss"] {
            let x = try #require(a[key])
            let y = try #require(b[key])
            #expect(abs(x - y) <= 1e-4 * max(1, abs(x)), "\(key): one process \(x), four \(y)")
        }
        #expect(b["world_size"] == 4)
        #expect((b["bytes_sent"] ?? 0) > 0)
        let sums = Self.checksums(cluster.stdout)
        #expect(sums.count == 4 && Set(sums.values).count == 1, "\(sums)")
    }

    @Test(.timeLimit(.minutes(3)))
    func topKCompressionSendsFewerBytesAndStageThreeShardsTheParameters() throws {
        let binary = try #require(deepseekBinary)
        let data = try Self.dataset("cluster-topk")
        defer { try? FileManager.default.removeItem(at: data) }
        var sent: [String: Double] = [:]
        for (name, extra) in [("dense", [String]()), ("topk", ["--compression", "topk:0.01"]), ("topk-no-ef", ["--compression", "topk:0.01", "--no-error-feedback"])] {
            let path = data.appendingPathComponent("\(name).json").path
            let run = runProcess(binary, Self.common(data) + ["--epochs", "1", "--nodes", "4", "--metrics-json", path] + extra, timeout: 150)
            #expect(run.exitCode == 0 && !run.timedOut, "\(name): \(run.stdout)\n\(run.stderr)")
            sent[name] = try Self.metrics(path)["bytes_sent"]
            #expect(Set(Self.checksums(run.stdout).values).count == 1, "\(name): replicas differ")
        }
        let dense = try #require(sent["dense"])
        let topK = try #require(sent["topk"])
        // With top-k every rank applies the same summed sparse gradient itself, so only the
        // compressed gradients travel.
        #expect(dense / topK >= 20, "dense \(dense) bytes, top-k \(topK) bytes")
        #expect(dense / (sent["topk-no-ef"] ?? .infinity) >= 20)
        let sharded = runProcess(binary, Self.common(data) + ["--epochs", "1", "--nodes", "2", "--compression", "topk:0.01", "--zero-stage", "2"], timeout: 150)
        #expect(sharded.exitCode != 0)
        #expect((sharded.stdout + sharded.stderr).contains("has nothing to shard"), "\(sharded.stdout)\n\(sharded.stderr)")

        let path = data.appendingPathComponent("zero3.json").path
        let run = runProcess(
            binary, Self.common(data) + ["--epochs", "1", "--nodes", "2", "--zero-stage", "3", "--optimizer", "adam", "--metrics-json", path], timeout: 150)
        #expect(run.exitCode == 0 && !run.timedOut, "\(run.stdout)\n\(run.stderr)")
        let m = try Self.metrics(path)
        #expect(m["memory_model_parameter_bytes"] == 0)
        // MLP 784-32-10: 25 450 parameters; Adam's two moments of half of them per rank.
        #expect(m["memory_optimizer_state_bytes"] == Double(2 * 4 * 25_450 / 2))
        #expect(Set(Self.checksums(run.stdout).values).count == 1)
    }

    @Test(.timeLimit(.minutes(3)))
    func aKilledRankStopsTheJobNamingItAndThreeRanksResume() throws {
        let binary = try #require(deepseekBinary)
        let data = try Self.dataset("cluster-kill")
        defer { try? FileManager.default.removeItem(at: data) }
        let checkpoints = data.appendingPathComponent("checkpoints").path
        let start = ContinuousClock.now
        let crashed = runProcess(
            binary, Self.common(data) + ["--epochs", "2", "--nodes", "4", "--checkpoint-dir", checkpoints, "--crash-rank", "2", "--crash-at-step", "6"], timeout: 120)
        let elapsed = ContinuousClock.now - start
        #expect(!crashed.timedOut && crashed.exitCode != 0, "\(crashed.stdout)\n\(crashed.stderr)")
        #expect(crashed.stderr.contains("rank 2 (node2, pid"), "\(crashed.stderr)")
        #expect(crashed.stderr.contains("killed by signal 9"), "\(crashed.stderr)")
        #expect(elapsed < .seconds(60), "the job took \(elapsed) to stop")
        // The surviving ranks notice too, naming a lost peer.
        #expect(crashed.stderr.contains("peerUnreachable"), "\(crashed.stderr)")

        let resumed = runProcess(binary, Self.common(data) + ["--epochs", "2", "--nodes", "3", "--checkpoint-dir", checkpoints, "--resume"], timeout: 120)
        #expect(resumed.exitCode == 0 && !resumed.timedOut, "\(resumed.stdout)\n\(resumed.stderr)")
        #expect(resumed.stdout.contains("resumed from \(checkpoints) after epoch 1, step 4 (saved by 4 ranks, continuing on 3)"), "\(resumed.stdout)")
        #expect(resumed.stdout.contains("epoch 2: 4 steps"), "\(resumed.stdout)")
        #expect(Set(Self.checksums(resumed.stdout).values).count == 1)
    }

    @Test func aBatchThatDoesNotSplitEvenlyIsRefusedBeforeAnyRankStarts() throws {
        let binary = try #require(deepseekBinary)
        let data = try Self.dataset("cluster-batch")
        defer { try? FileManager.default.removeItem(at: data) }
        let run = runProcess(binary, ["train", "--nodes", "4", "--batch-size", "10", "--data", data.path], timeout: 60)
        #expect(run.exitCode != 0)
        #expect(run.stderr.contains("--batch-size 10 must be a multiple of the 4 ranks"), "\(run.stderr)")
        #expect(!run.stdout.contains("launched"))
    }
}

import CBenchBaselines
import DeepseekCore
import DeepseekStorage
import DeepseekTensor
#if canImport(Glibc)
import Glibc
#endif

// The storage group: the SSD tier's sequential and random I/O against a raw C io_uring loop
// doing the same requests on the same file system, both with O_DIRECT where it is allowed.

/// Seconds of one raw C run, or a thrown message with the errno.
func rawFileIO(_ path: String, write: Bool, direct: Bool, offsets: [UInt64], requestBytes: Int, queueDepth: Int) throws -> Double {
    let s = offsets.withUnsafeBufferPointer {
        cbench_uring_file_io(path, write ? 1 : 0, direct ? 1 : 0, $0.baseAddress, Int32(offsets.count), UInt32(requestBytes), Int32(queueDepth))
    }
    guard s >= 0 else { throw BenchFailure("raw io_uring file I/O on \(path) failed: errno \(Int(-s))") }
    return s
}

struct BenchFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

func runStorage(_ options: Options) async throws -> GroupReport {
    let directory = "/var/tmp"
    let fileSystem = SSDTier.fileSystem(of: directory)
    var report = GroupReport(
        group: "storage", title: "Tiered storage: SSD tier vs raw C io_uring (\(fileSystem), O_DIRECT)",
        command: "swift run -c release --package-path Tools/Benchmarks deepseek-bench storage --repetitions \(options.repetitions)")
    report.columns = [
        Column("case", "case"), Column("tier", "SSD tier", .fixed(0)), Column("raw", "raw C io_uring", .fixed(0)),
        Column("unit", "unit"), Column("ratio", "tier / raw", .ratio),
    ]
    let tensorBytes = 4 << 20
    let count = 256  // 1 GiB
    var rng = SeededRandom(seed: 7)
    let tensors = try (0..<count).map { i -> Tensor in
        var t = try Tensor.zeros([tensorBytes / 4])
        try t.withUnsafeMutableBufferPointer(as: UInt32.self) { b in for j in stride(from: 0, to: b.count, by: 1024) { b[j] = UInt32(truncatingIfNeeded: rng.next()) &+ UInt32(i) } }
        return t
    }
    let keys = (0..<count).map { StorageKey("t\($0)") }
    let rawPath = directory + "/deepseek-bench-raw-\(getpid()).data"
    defer { unlink(rawPath) }
    let sequential = (0..<count).map { UInt64($0 * tensorBytes) }
    var tierWrite: [Double] = [], rawWrite: [Double] = [], tierRead: [Double] = [], rawRead: [Double] = []
    for rep in 0..<options.repetitions {
        progress("storage: sequential 1 GiB, repetition \(rep + 1)/\(options.repetitions)")
        let tier = try SSDTier(SSDTierSettings(directory: directory, bufferBytes: tensorBytes, buffers: 8))
        var start = monotonicSeconds()
        for batch in stride(from: 0, to: count, by: 16) {
            try await tier.store((batch..<batch + 16).map { (key: keys[$0], tensor: tensors[$0]) })
        }
        tierWrite.append(monotonicSeconds() - start)
        start = monotonicSeconds()
        for batch in stride(from: 0, to: count, by: 16) { _ = try await tier.load(Array(keys[batch..<batch + 16])) }
        tierRead.append(monotonicSeconds() - start)
        rawWrite.append(try rawFileIO(rawPath, write: true, direct: true, offsets: sequential, requestBytes: tensorBytes, queueDepth: 8))
        rawRead.append(try rawFileIO(rawPath, write: false, direct: true, offsets: sequential, requestBytes: tensorBytes, queueDepth: 8))
        report.notes.append(contentsOf: rep == 0 ? ["The SSD tier used O_DIRECT: \(tier.usesDirectIO) (file system \(tier.fileSystem))."] : [])
    }
    let gib = Double(count * tensorBytes) / 1e6
    func add(_ name: String, _ tier: [Double], _ raw: [Double], amount: Double, unit: String) {
        let t = amount / Samples(seconds: tier).median
        let r = amount / Samples(seconds: raw).median
        report.records.append(["case": .text(name), "tier": .number(t), "raw": .number(r), "unit": .text(unit), "ratio": .number(t / r)])
    }
    add("sequential write, 1 GiB in 4 MiB tensors, 8 in flight", tierWrite, rawWrite, amount: gib, unit: "MB/s")
    add("sequential read, 1 GiB in 4 MiB tensors, 8 in flight", tierRead, rawRead, amount: gib, unit: "MB/s")

    // Random 64 KiB reads over 256 MiB.
    let small = 64 << 10
    let smallCount = 4096
    let reads = 2048
    let smallTensor = try Tensor.zeros([small / 4])
    let smallKeys = (0..<smallCount).map { StorageKey("s\($0)") }
    let order = (0..<reads).map { _ in Int(rng.next() % UInt64(smallCount)) }
    for depth in [1, 32] {
        var tierSamples: [Double] = [], rawSamples: [Double] = []
        for rep in 0..<options.repetitions {
            progress("storage: random 64 KiB reads at queue depth \(depth), repetition \(rep + 1)/\(options.repetitions)")
            let tier = try SSDTier(SSDTierSettings(directory: directory, bufferBytes: small, buffers: 32))
            for batch in stride(from: 0, to: smallCount, by: 256) {
                try await tier.store((batch..<batch + 256).map { (key: smallKeys[$0], tensor: smallTensor) })
            }
            let start = monotonicSeconds()
            for batch in stride(from: 0, to: reads, by: depth) {
                _ = try await tier.load(order[batch..<min(batch + depth, reads)].map { smallKeys[$0] })
            }
            tierSamples.append(monotonicSeconds() - start)
            _ = try rawFileIO(rawPath, write: true, direct: true, offsets: (0..<smallCount).map { UInt64($0 * small) }, requestBytes: small, queueDepth: 32)
            rawSamples.append(try rawFileIO(rawPath, write: false, direct: true, offsets: order.map { UInt64($0 * small) }, requestBytes: small, queueDepth: depth))
        }
        add("random 64 KiB reads, queue depth \(depth)", tierSamples, rawSamples, amount: Double(reads), unit: "reads/s")
    }
    report.notes.append(
        "Both sides use O_DIRECT (no page cache) and registered 4096-aligned buffers; the tier also copies each tensor into "
            + "or out of its staging buffers, and at queue depth 32 a batch of 32 loads is one actor call. Medians of \(options.repetitions) runs.")
    return report
}

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
    // Tensors in 4096-aligned storage are written in place: those the tier loads or
    // `AlignedTensors` makes, and ordinary tensors of 64 KiB and more, whose pooled buffers start
    // on a page. Both kinds are measured.
    report.columns = [
        Column("case", "case"), Column("tier", "SSD tier", .fixed(0)), Column("raw", "raw C io_uring", .fixed(0)),
        Column("unit", "unit"), Column("ratio", "tier / raw", .ratio),
    ]
    let tensorBytes = 4 << 20
    let count = 256  // 1 GiB
    var rng = SeededRandom(seed: 7)
    func fill(_ t: inout Tensor, _ i: Int) throws {
        try t.withUnsafeMutableBufferPointer(as: UInt32.self) { b in
            b.initialize(repeating: 0)
            for j in stride(from: 0, to: b.count, by: 1024) { b[j] = UInt32(truncatingIfNeeded: rng.next()) &+ UInt32(i) }
        }
    }
    let tensors = try (0..<count).map { i -> Tensor in
        var t = try AlignedTensors.empty([tensorBytes / 4])
        try fill(&t, i)
        return t
    }
    let plainTensors = try (0..<count).map { i -> Tensor in
        var t = try Tensor.zeros([tensorBytes / 4])
        try fill(&t, i)
        return t
    }
    let keys = (0..<count).map { StorageKey("t\($0)") }
    let rawPath = directory + "/deepseek-bench-raw-\(getpid()).data"
    defer { unlink(rawPath) }
    let sequential = (0..<count).map { UInt64($0 * tensorBytes) }
    var tierFresh: [Double] = [], tierRewrite: [Double] = [], plainRewrite: [Double] = [], tierRead: [Double] = []
    var rawFresh: [Double] = [], rawOverwrite: [Double] = [], rawRead: [Double] = []
    func storeAll(_ tier: SSDTier, _ source: [Tensor]) async throws -> Double {
        let start = monotonicSeconds()
        for batch in stride(from: 0, to: count, by: 16) {
            try await tier.store((batch..<batch + 16).map { (key: keys[$0], tensor: source[$0]) })
        }
        return monotonicSeconds() - start
    }
    for rep in 0..<options.repetitions {
        progress("storage: sequential 1 GiB, repetition \(rep + 1)/\(options.repetitions)")
        // The tier: a first fill of a new tier (its file grows into fresh, preallocated space),
        // then the same keys stored again (steady state: new extents reuse the space the old
        // values freed, which the disk has written before), aligned and ordinary tensors.
        let tier = try SSDTier(SSDTierSettings(directory: directory, bufferBytes: tensorBytes, buffers: 8))
        tierFresh.append(try await storeAll(tier, tensors))
        tierRewrite.append(try await storeAll(tier, tensors))
        plainRewrite.append(try await storeAll(tier, plainTensors))
        let start = monotonicSeconds()
        for batch in stride(from: 0, to: count, by: 16) { _ = try await tier.load(Array(keys[batch..<batch + 16])) }
        tierRead.append(monotonicSeconds() - start)
        // The raw loop: a fresh file preallocated in full beforehand (not timed), then the same
        // file overwritten, then read.
        unlink(rawPath)
        let rawFD = open(rawPath, O_RDWR | O_CREAT, 0o644)
        guard rawFD >= 0, posix_fallocate(rawFD, 0, off_t(count * tensorBytes)) == 0 else { throw BenchFailure("cannot preallocate \(rawPath)") }
        close(rawFD)
        rawFresh.append(try rawFileIO(rawPath, write: true, direct: true, offsets: sequential, requestBytes: tensorBytes, queueDepth: 8))
        rawOverwrite.append(try rawFileIO(rawPath, write: true, direct: true, offsets: sequential, requestBytes: tensorBytes, queueDepth: 8))
        rawRead.append(try rawFileIO(rawPath, write: false, direct: true, offsets: sequential, requestBytes: tensorBytes, queueDepth: 8))
        report.notes.append(contentsOf: rep == 0 ? ["The SSD tier used O_DIRECT: \(tier.usesDirectIO) (file system \(tier.fileSystem))."] : [])
    }
    let gib = Double(count * tensorBytes) / 1e6
    func add(_ name: String, _ tier: [Double], _ raw: [Double], amount: Double, unit: String) {
        let t = amount / Samples(seconds: tier).median
        let r = amount / Samples(seconds: raw).median
        report.records.append(["case": .text(name), "tier": .number(t), "raw": .number(r), "unit": .text(unit), "ratio": .number(t / r)])
    }
    add("sequential write, 1 GiB in 4 MiB tensors, new file, aligned tensors (in place)", tierFresh, rawFresh, amount: gib, unit: "MB/s")
    add("sequential write, 1 GiB in 4 MiB tensors, rewrite, aligned tensors (in place)", tierRewrite, rawOverwrite, amount: gib, unit: "MB/s")
    add("sequential write, 1 GiB in 4 MiB tensors, rewrite, ordinary tensors (Tensor.zeros)", plainRewrite, rawOverwrite, amount: gib, unit: "MB/s")
    add("sequential read, 1 GiB in 4 MiB tensors (into aligned storage)", tierRead, rawRead, amount: gib, unit: "MB/s")

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
    try await appendOffloadTraining(options, directory: directory, to: &report)
    report.notes.append(
        "Both sides use O_DIRECT (no page cache). The raw loop uses registered 4096-aligned buffers; the tier reads into "
            + "4096-aligned tensor storage and writes aligned tensors in place (plain READ/WRITE on the tensor's memory; tensors "
            + "of 64 KiB and more are page-aligned by the tensor pool), copying only a partial last block or an unaligned tensor "
            + "through registered staging buffers. 8 requests in flight on both sides. New file: the tier's "
            + "file grows by preallocated chunks (timed), the raw loop writes a file preallocated in full (not timed); rewrite: "
            + "the tier stores the same keys again, the raw loop overwrites its file. Batches of 16 tensors per actor call; at "
            + "queue depth 32 a batch of 32 loads is one actor call. "
            + "Medians of \(options.repetitions) runs.")
    return report
}

import DeepseekCore
import DeepseekStorage
import DeepseekTensor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The checkpoint the crash tests write at `step`: every value depends on the step, so a
/// checkpoint that loads can be checked against exactly what was written.
func crashTestCheckpoint(step: Int) throws -> TensorCheckpoint {
    var tensors: [String: Tensor] = [:]
    for i in 0..<6 {
        let n = 20_000 + i * 7_001  // ~80–220 KB each, several staging buffers, odd sizes
        tensors["layer\(i).weight"] = try Tensor.full([n], value: Double(step * 100 + i))
    }
    return TensorCheckpoint(tensors: tensors, metadata: Array("step \(step)".utf8))
}

func isExactly(_ checkpoint: TensorCheckpoint, step: Int) throws -> Bool {
    let expected = try crashTestCheckpoint(step: step)
    guard checkpoint.metadata == expected.metadata, checkpoint.tensors.keys.sorted() == expected.tensors.keys.sorted() else { return false }
    for (name, t) in expected.tensors {
        guard let got = checkpoint.tensors[name], got.shape == t.shape, try got.scalars(as: Float.self) == t.scalars(as: Float.self) else {
            return false
        }
    }
    return true
}

func freshDirectory(_ label: String) -> String {
    let path = scratchDirectory() + "/\(label)-\(UInt64.random(in: 0..<UInt64.max))"
    mkdir(path, 0o755)
    return path
}

/// Overwrites `count` bytes at `offset` of `path` with `byte`.
func damage(_ path: String, at offset: Int, count: Int = 1, byte: UInt8 = 0xA5) {
    let fd = open(path, O_WRONLY)
    let bytes = [UInt8](repeating: byte, count: count)
    _ = bytes.withUnsafeBytes { pwrite(fd, $0.baseAddress, count, off_t(offset)) }
    close(fd)
}

@Suite struct TensorCheckpointTests {
    @Test func aCheckpointRoundTripsEveryDTypeBitForBit() throws {
        let dir = freshDirectory("roundtrip")
        var tensors: [String: Tensor] = [:]
        for dtype in DType.allCases { tensors["t.\(dtype)"] = try StorageTierContractTests.sample(dtype, [7, 3], seed: UInt64(dtype.rawValue)) }
        tensors["scalar"] = Tensor(scalar: Float(2))
        tensors["empty"] = try Tensor.zeros([0])
        let path = dir + "/one.dstensors"
        try TensorCheckpointFile.write(TensorCheckpoint(tensors: tensors, metadata: [1, 2, 3]), to: path)
        let back = try TensorCheckpointFile.read(from: path)
        #expect(back.metadata == [1, 2, 3])
        for (name, t) in tensors {
            #expect(try StorageTierContractTests.bytes(back.tensors[name]!) == StorageTierContractTests.bytes(t), "\(name)")
            #expect(back.tensors[name]!.dtype == t.dtype)
        }
    }

    @Test func aFlippedByteInATensorIsNamedWithFileTensorAndReason() throws {
        let dir = freshDirectory("flip")
        let path = dir + "/c.dstensors"
        try TensorCheckpointFile.write(crashTestCheckpoint(step: 1), to: path)
        damage(path, at: 4096 + 100)  // inside the first tensor, "layer0.weight"
        let error = #expect(throws: StorageError.self) { try TensorCheckpointFile.read(from: path) }
        #expect(error?.code == .checksumMismatch)
        #expect(error?.file == path)
        #expect(error?.tensor == "layer0.weight")
        #expect(error?.message.contains("damaged") == true)
    }

    @Test func aTornFileIsDetected() throws {
        let dir = freshDirectory("torn")
        let path = dir + "/c.dstensors"
        try TensorCheckpointFile.write(crashTestCheckpoint(step: 1), to: path)
        let fd = open(path, O_WRONLY)
        ftruncate(fd, 200_000)
        close(fd)
        let error = #expect(throws: StorageError.self) { try TensorCheckpointFile.read(from: path) }
        #expect(error?.code == .truncated)
        #expect(error?.message.contains("torn") == true)
        let tiny = dir + "/tiny.dstensors"
        let t = open(tiny, O_WRONLY | O_CREAT, 0o644)
        close(t)
        #expect(throws: StorageError.self) { try TensorCheckpointFile.read(from: tiny) }
    }

    @Test func aDamagedHeaderOrIndexOrAForeignFileIsRefused() throws {
        let dir = freshDirectory("header")
        let path = dir + "/c.dstensors"
        try TensorCheckpointFile.write(crashTestCheckpoint(step: 1), to: path)
        damage(path, at: 20)
        #expect((#expect(throws: StorageError.self) { try TensorCheckpointFile.read(from: path) })?.code == .checksumMismatch)
        try TensorCheckpointFile.write(crashTestCheckpoint(step: 1), to: path)
        damage(path, at: 0)
        #expect((#expect(throws: StorageError.self) { try TensorCheckpointFile.read(from: path) })?.code == .corrupt)
        #expect((#expect(throws: StorageError.self) { try TensorCheckpointFile.read(from: dir + "/missing") })?.code == .notFound)
    }

    @Test func theDirectoryFallsBackToThePreviousGoodCheckpoint() throws {
        let dir = try TensorCheckpointDirectory(freshDirectory("fallback"), keepLast: 3)
        for step in [10, 20, 30] { try dir.save(crashTestCheckpoint(step: step), step: step) }
        damage(dir.path(step: 30), at: 4096 + 5)
        let latest = try #require(try dir.loadLatest())
        #expect(latest.step == 20)
        #expect(try isExactly(latest.checkpoint, step: 20))
        #expect(latest.rejected.count == 1)
        #expect(latest.rejected[0].file == dir.path(step: 30))
        #expect(latest.rejected[0].tensor == "layer0.weight")
        try dir.save(crashTestCheckpoint(step: 40), step: 40)
        #expect(try dir.steps() == [20, 30, 40])
    }
}

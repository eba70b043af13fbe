#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import DeepseekCore
import DeepseekNN
import DeepseekTensor
@testable import DeepseekTraining
import Testing

/// A fresh directory under /tmp, removed with everything in it by `remove()`.
struct ScratchDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/deepseek-ckpt-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = String(cString: try #require(made))
    }

    func file(_ name: String) -> String { path + "/" + name }

    /// File names in the directory (hidden ones included), sorted.
    func listing(_ directory: String? = nil) -> [String] {
        guard let dir = opendir(directory ?? path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    func remove(_ directory: String? = nil) {
        let target = directory ?? path
        for name in listing(target) {
            let child = target + "/" + name
            var info = stat()
            if lstat(child, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { remove(child) } else { unlink(child) }
        }
        rmdir(target)
    }
}

func writeBytes(_ bytes: [UInt8], to path: String) {
    let f = fopen(path, "wb")!
    _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, f) }
    fclose(f)
}

/// The bit-exact identity of a tensor: dtype, shape and raw bytes.
func bits(_ t: Tensor) -> [UInt8] { t.wireBytes }

func bits(_ tensors: [String: Tensor]) -> [String: [UInt8]] { tensors.mapValues(bits) }

func parameterBits(_ model: any Module) -> [String: [UInt8]] { bits(model.parameterValues) }

/// A checkpoint with every piece filled in, from a model that took one SGD step with momentum.
func fullCheckpoint(seed: UInt64 = 1) throws -> (Checkpoint, MLP, SGD) {
    let model = try MLP(sizes: [4, 3, 2], seed: seed)
    var optimizer = try SGD(learningRate: 0.1, momentum: 0.9)
    let gradients = model.parameterValues.mapValues { (try? Tensor.ones($0.shape)) ?? $0 }
    try optimizer.step(model.parameters, gradients: gradients)
    var rng = SeededRandom(seed: 99)
    _ = rng.next()
    var scaler = DynamicLossScaler()
    _ = scaler.update(gradientsFinite: false)
    _ = scaler.update(gradientsFinite: true)
    var precisionSwitch = try AdaptivePrecisionSwitch(settings: .init(precision: .fp16, cooldownSteps: 4))
    precisionSwitch.record(maxAbs: ["0.weight": 1e-12, "2.weight": 1], lossScale: 1)
    var checkpoint = Checkpoint.capture(
        model: model, optimizer: optimizer, lossScaler: scaler, precisionSwitch: precisionSwitch, random: rng,
        dataOrder: DataOrderState(seed: 7, epoch: 2, stepInEpoch: 40),
        progress: TrainingProgress(globalStep: 1240, metrics: ["loss": [2.3, 1.1, .nan, -0.0], "accuracy": [], "lr": [0.1]]),
        tags: ["run": "unit", "note": "ünïcödé ✓", "": "empty key"])
    // Tensors of every kind the format must carry bit for bit.
    checkpoint.parameters["extra.half"] = try Tensor([Float16(1.5), Float16(-0.0), .infinity, Float16(bitPattern: 0x7E01)], shape: [2, 2])
    checkpoint.parameters["extra.bf16"] = try Tensor([BFloat16(bitPattern: 0x3F80), BFloat16(bitPattern: 0xFFC1), BFloat16(bitPattern: 0x0001)], shape: [3])
    checkpoint.parameters["extra.int64"] = try Tensor([Int64.min, -1, 0, Int64.max], shape: [4])
    checkpoint.parameters["extra.f64"] = Tensor([Double.pi, -Double.leastNonzeroMagnitude])
    checkpoint.parameters["extra.f32nan"] = Tensor([Float(bitPattern: 0x7FC0_0001), -0.0, .greatestFiniteMagnitude])
    checkpoint.parameters["extra.int8"] = Tensor([Int8(-128), 127])
    checkpoint.parameters["extra.bool"] = Tensor([true, false, true])
    checkpoint.parameters["extra.scalar"] = Tensor(scalar: Float(42))
    checkpoint.parameters["extra.empty"] = try Tensor.zeros([0, 3])
    checkpoint.parameters["extra.transposed"] = try Tensor([Float(1), 2, 3, 4, 5, 6], shape: [2, 3]).transposed()
    return (checkpoint, model, optimizer)
}

@Suite struct CheckpointTests {
    @Test func roundTripPreservesEveryPieceBitForBit() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let (original, _, _) = try fullCheckpoint()
        let path = scratch.file("all.dsckpt")
        try original.write(to: path)
        let read = try Checkpoint.read(from: path)

        #expect(bits(read.parameters) == bits(original.parameters))
        #expect(try read.parameters["extra.transposed"]!.scalars(as: Float.self) == [1, 4, 2, 5, 3, 6])
        let optimizer = try #require(read.optimizer)
        #expect(optimizer.kind == "sgd")
        #expect(optimizer.step == 1)
        #expect(optimizer.scalars == ["learningRate": 0.1])
        #expect(bits(optimizer.tensors) == bits(original.optimizer!.tensors))
        #expect(optimizer.tensors.keys.sorted() == ["momentum.0.bias", "momentum.0.weight", "momentum.2.bias", "momentum.2.weight"])
        #expect(read.lossScaler == original.lossScaler)
        #expect(read.lossScaler == DynamicLossScaler.State(scale: 32768, cleanSteps: 1, consecutiveSkips: 0, skippedSteps: 1))
        #expect(read.precisionSwitch == original.precisionSwitch)
        #expect(read.precisionSwitch?.float32Layers == ["0": 4])
        var restored = try #require(read.random)
        var expected = original.random!
        #expect(restored.state == expected.state)
        #expect((0..<5).map { _ in restored.next() } == (0..<5).map { _ in expected.next() })
        #expect(read.dataOrder == DataOrderState(seed: 7, epoch: 2, stepInEpoch: 40))
        #expect(read.progress.globalStep == 1240)
        #expect(read.progress.metrics.mapValues { $0.map(\.bitPattern) } == original.progress.metrics.mapValues { $0.map(\.bitPattern) })
        #expect(read.metadata == original.metadata)
        #expect(read.metadata.formatVersion == 1)
        #expect(read.signature == original.signature)
        // The format is deterministic: the checkpoint read back encodes to the file's bytes.
        #expect(try read.encoded() == CheckpointFile.readAll(path))
    }

    @Test func minimalCheckpointLeavesOptionalPiecesAbsent() throws {
        let model = try MLP(sizes: [2, 2], seed: 3)
        let checkpoint = try Checkpoint.decode(Checkpoint.capture(model: model).encoded())
        #expect(checkpoint.optimizer == nil)
        #expect(checkpoint.lossScaler == nil)
        #expect(checkpoint.precisionSwitch == nil)
        #expect(checkpoint.random == nil)
        #expect(bits(checkpoint.parameters) == parameterBits(model))
    }

    @Test func restoringResumesTrainingExactly() throws {
        let (checkpoint, trained, trainedOptimizer) = try fullCheckpoint(seed: 1)
        let weightsOnly = Checkpoint(parameters: trained.parameterValues, optimizer: checkpoint.optimizer)
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        try weightsOnly.write(to: scratch.file("resume.dsckpt"))

        let fresh = try MLP(sizes: [4, 3, 2], seed: 2)
        var freshOptimizer = try SGD(learningRate: 0.5, momentum: 0.9)
        #expect(parameterBits(fresh) != parameterBits(trained))
        try Checkpoint.read(from: scratch.file("resume.dsckpt")).restore(into: fresh, optimizer: &freshOptimizer)
        #expect(parameterBits(fresh) == parameterBits(trained))
        #expect(freshOptimizer.learningRate == 0.1)
        #expect(freshOptimizer.steps == 1)

        // One more identical step on both gives identical parameters: the momentum came along.
        var original = trainedOptimizer
        let gradients = trained.parameterValues.mapValues { (try? Tensor.full($0.shape, value: 0.25)) ?? $0 }
        try original.step(trained.parameters, gradients: gradients)
        try freshOptimizer.step(fresh.parameters, gradients: gradients)
        #expect(parameterBits(fresh) == parameterBits(trained))
    }

    @Test(arguments: [0, 3, 7, 8, 20, 31, 32, 33, 100, -1])
    func truncatedFileIsReportedAsTruncated(cut: Int) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let bytes = try fullCheckpoint().0.encoded()
        let keep = cut >= 0 ? cut : bytes.count + cut
        let path = scratch.file("cut.dsckpt")
        writeBytes(Array(bytes[0..<keep]), to: path)
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: path) }
        #expect(error.code == .truncated)
        #expect(error.message.hasPrefix(path))
    }

    @Test(arguments: [32, 40, 500, -1, 24, 30])
    func flippedByteIsReportedAsChecksumMismatch(position: Int) throws {
        var bytes = try fullCheckpoint().0.encoded()
        let at = position >= 0 ? position : bytes.count + position
        bytes[at] ^= 0x10
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.decode(bytes, source: "flipped.dsckpt") }
        #expect(error.code == .checksumMismatch)
        #expect(error.message.contains("flipped.dsckpt"))
    }

    @Test func fileThatIsNotACheckpointIsRejectedByItsMagic() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("notes.txt")
        writeBytes(Array("this is a text file, long enough to hold a header of thirty-two bytes".utf8), to: path)
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: path) }
        #expect(error.code == .notACheckpoint)
        #expect(error.message.contains(path))
        // A one-byte file that is not the magic's first byte is not a checkpoint either.
        #expect(throws: CheckpointError.self) { try Checkpoint.decode([0x1F]) }
        #expect((try? Checkpoint.decode([0x1F])) == nil)
    }

    @Test func newerFormatVersionIsRefusedByName() throws {
        var bytes = try fullCheckpoint().0.encoded()
        bytes[8] = 2
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.decode(bytes) }
        #expect(error.code == .unsupportedVersion)
        #expect(error.message.contains("version 2"))
        bytes[8] = 0
        #expect(try #require(throws: CheckpointError.self) { try Checkpoint.decode(bytes) }.code == .unsupportedVersion)
    }

    @Test func missingFileIsNotFound() throws {
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.read(from: "/tmp/no-such-dir-ckpt/none.dsckpt") }
        #expect(error.code == .notFound)
        #expect(error.message.contains("/tmp/no-such-dir-ckpt/none.dsckpt"))
    }

    @Test func bytesAfterTheCheckpointAreCorruption() throws {
        let bytes = try fullCheckpoint().0.encoded() + [0]
        #expect(try #require(throws: CheckpointError.self) { try Checkpoint.decode(bytes) }.code == .corrupt)
    }

    @Test func wellSummedPayloadMissingSectionsIsCorrupt() throws {
        let payload: [UInt8] = []
        let error = try #require(throws: CheckpointError.self) { try Checkpoint.decode(Checkpoint.header(for: payload) + payload) }
        #expect(error.code == .corrupt)
        #expect(error.message.contains("META"))
    }

    @Test func unknownSectionsAreSkipped() throws {
        let (checkpoint, _, _) = try fullCheckpoint()
        // A section "ZZZZ" of three bytes, as a later writer might add.
        let payload = try checkpoint.encodedPayload() + [0x5A, 0x5A, 0x5A, 0x5A, 3, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3]
        let read = try Checkpoint.decode(Checkpoint.header(for: payload) + payload)
        #expect(bits(read.parameters) == bits(checkpoint.parameters))
    }

    @Test func anotherModelsCheckpointIsRefusedAndTheModelIsUnchanged() throws {
        let (checkpoint, _, _) = try fullCheckpoint()
        let small = Checkpoint.capture(model: try MLP(sizes: [4, 3, 2], seed: 5), optimizer: try SGD(learningRate: 0.1))
        let other = try MLP(sizes: [4, 5, 2], seed: 6)
        let before = parameterBits(other)
        var optimizer = try SGD(learningRate: 0.3, momentum: 0.5)
        for attempt in [checkpoint, small] {
            let error = try #require(throws: CheckpointError.self) { try attempt.restore(into: other, optimizer: &optimizer) }
            #expect(error.code == .modelMismatch)
            #expect(error.message.contains("\"0.weight\" is float32[5, 4] in the model but float32[3, 4] in the checkpoint"))
            #expect(throws: CheckpointError.self) { try attempt.restore(into: other) }
        }
        let error = try #require(throws: CheckpointError.self) { try checkpoint.restore(into: other) }
        #expect(error.message.contains("\"extra.bf16\" (bfloat16[3]) is in the checkpoint but not in the model"))
        #expect(parameterBits(other) == before)
        #expect(optimizer.learningRate == 0.3)
        #expect(optimizer.steps == 0)
    }

    @Test func dtypeDifferencesNeedConsent() throws {
        let source = try MLP(sizes: [3, 2], seed: 1)
        let checkpoint = Checkpoint.capture(model: source)
        let target = try MLP(sizes: [3, 2], seed: 2)
        try target.cast(to: .bfloat16)
        let before = parameterBits(target)
        let error = try #require(throws: CheckpointError.self) { try checkpoint.restore(into: target) }
        #expect(error.code == .modelMismatch)
        #expect(parameterBits(target) == before)
        try checkpoint.restore(into: target, convertingDTypes: true)
        #expect(target.parameters.allSatisfy { $0.value.dtype == .bfloat16 })
        #expect(try target.parameterValues["0.weight"]!.scalars(as: Float.self) == source.parameterValues["0.weight"]!.cast(to: .bfloat16).scalars(as: Float.self))
    }

    @Test func otherOptimizerOrMissingStateIsRefusedAndNothingChanges() throws {
        struct Plain: Optimizer {
            var learningRate = 1.0
            mutating func step(_ parameters: [Parameter], gradients: [String: Tensor]) throws {}
            var state: OptimizerState { OptimizerState(kind: "plain") }
            mutating func restore(_ state: OptimizerState) throws { try state.check(kind: "plain") }
        }
        let model = try MLP(sizes: [4, 3, 2], seed: 8)
        let before = parameterBits(model)
        let sgdCheckpoint = Checkpoint.capture(model: try MLP(sizes: [4, 3, 2], seed: 9), optimizer: try SGD(learningRate: 0.1))
        var plain = Plain()
        let error = try #require(throws: CheckpointError.self) { try sgdCheckpoint.restore(into: model, optimizer: &plain) }
        #expect(error.code == .optimizerMismatch)
        #expect(error.message.contains("\"sgd\""))
        var sgd = try SGD(learningRate: 0.7)
        let weightsOnly = Checkpoint.capture(model: try MLP(sizes: [4, 3, 2], seed: 9))
        #expect(try #require(throws: CheckpointError.self) { try weightsOnly.restore(into: model, optimizer: &sgd) }.code == .optimizerMismatch)
        #expect(parameterBits(model) == before)
        #expect(sgd.learningRate == 0.7)
    }

    @Test func metaTensorsCannotBeWritten() throws {
        let checkpoint = Checkpoint(parameters: ["w": Tensor.meta([2, 2])])
        #expect(try #require(throws: CheckpointError.self) { try checkpoint.encoded() }.code == .invalidArgument)
    }

    @Test func writeLeavesNoTemporaryFiles() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let (checkpoint, _, _) = try fullCheckpoint()
        try checkpoint.write(to: scratch.file("a.dsckpt"))
        try checkpoint.write(to: scratch.file("a.dsckpt"))  // replacing an existing file
        #expect(scratch.listing() == ["a.dsckpt"])
    }

    @Test(arguments: [CheckpointWriteFault.failAfterPartialWrite, .failBeforeRename, .crashAfterPartialWrite])
    func failedWriteLeavesThePreviousCheckpointIntact(fault: CheckpointWriteFault) throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let path = scratch.file("run.dsckpt")
        let old = Checkpoint.capture(model: try MLP(sizes: [4, 3, 2], seed: 1), tags: ["version": "old"])
        try old.write(to: path)
        let oldBytes = try CheckpointFile.readAll(path)
        let (new, _, _) = try fullCheckpoint(seed: 2)
        let error = try #require(throws: CheckpointError.self) { try new.write(to: path, fault: fault) }
        #expect(error.code == .io)
        #expect(try CheckpointFile.readAll(path) == oldBytes)
        #expect(try Checkpoint.read(from: path).metadata.tags == ["version": "old"])
        let others = scratch.listing().filter { $0 != "run.dsckpt" }
        if fault == .crashAfterPartialWrite {
            // A process that dies leaves its hidden temporary file; nothing mistakes it for a checkpoint.
            #expect(others.count == 1 && others[0].hasPrefix(".run.dsckpt.tmp-"))
        } else {
            #expect(others.isEmpty)
        }
    }

    @Test func writingIntoAMissingDirectoryFailsClearly() throws {
        let scratch = try ScratchDirectory()
        let gone = scratch.path + "/vanished"
        scratch.remove()
        let error = try #require(throws: CheckpointError.self) {
            try Checkpoint.capture(model: try MLP(sizes: [2, 2], seed: 1)).write(to: gone + "/c.dsckpt")
        }
        #expect(error.code == .io)
        #expect(error.message.contains("does not exist"))
    }

    @Test func aDirectoryInTheWayIsNotReplaced() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let target = scratch.file("occupied")
        #expect(mkdir(target, 0o755) == 0)
        writeBytes([1, 2, 3], to: target + "/keep")
        let error = try #require(throws: CheckpointError.self) {
            try Checkpoint.capture(model: try MLP(sizes: [2, 2], seed: 1)).write(to: target)
        }
        #expect(error.code == .io)
        #expect(scratch.listing() == ["occupied"])
        #expect(scratch.listing(target) == ["keep"])
        #expect(try #require(throws: CheckpointError.self) { try Checkpoint.read(from: target) }.code == .io)
    }

    @Test func directoryKeepsTheNewestCheckpoints() throws {
        let scratch = try ScratchDirectory()
        defer { scratch.remove() }
        let directory = try CheckpointDirectory(scratch.path + "/nested/run", keepLast: 2)
        #expect(try directory.latest() == nil)
        #expect(try directory.loadLatest() == nil)
        let model = try MLP(sizes: [2, 2], seed: 1)
        for step in [5, 10, 1000, 20] {
            var checkpoint = Checkpoint.capture(model: model)
            checkpoint.progress.globalStep = step
            try directory.save(checkpoint, step: step)
        }
        // 20 was written last and is kept although two newer steps exist.
        #expect(try directory.steps() == [20, 1000])
        #expect(try directory.latest()?.step == 1000)
        #expect(try directory.latest()?.path == scratch.path + "/nested/run/checkpoint-000000001000.dsckpt")
        #expect(try directory.loadLatest()?.progress.globalStep == 1000)
        #expect(try directory.read(step: 20).progress.globalStep == 20)
        try directory.save(Checkpoint.capture(model: model), step: 2000)
        #expect(try directory.steps() == [1000, 2000])
        #expect(scratch.listing(directory.path) == ["checkpoint-000000001000.dsckpt", "checkpoint-000000002000.dsckpt"])
        // Hidden temporary files and other names are not checkpoints.
        for name in [".checkpoint-000000003000.dsckpt.tmp-1-1", "checkpoint-12x.dsckpt"] { writeBytes([0], to: directory.path + "/" + name) }
        #expect(try directory.steps() == [1000, 2000])
        #expect(throws: CheckpointError.self) { try CheckpointDirectory(scratch.path, keepLast: 0) }
    }

    @Test func xxhash64MatchesReferenceValuesWhateverThePieces() throws {
        // Reference digests from the published XXH64 algorithm.
        let long = Array(0...255).map(UInt8.init) + Array(0...255).map(UInt8.init) + Array(0...255).map(UInt8.init) + Array("xyz".utf8)
        let cases: [([UInt8], UInt64, UInt64)] = [
            ([], 0xEF46_DB37_51D8_E999, 0x95F0_626F_6F0A_4409),
            (Array("a".utf8), 0xD24E_C4F1_A98C_6E5B, 0xDC63_49D4_89E0_F965),
            (Array("abc".utf8), 0x44BC_2CF5_AD77_0999, 0x9E75_5206_1566_76D7),
            (long, 0xE921_A1B4_5BD7_79F8, 0xB635_55D1_BF05_377F),
            (Array(String(repeating: "0123456789", count: 5).utf8), 0x4F7C_A659_1462_3935, 0xC7EF_91BF_7B75_7A27),
        ]
        for (input, seed0, seed7) in cases {
            #expect(XXHash64.hash(input) == seed0)
            #expect(XXHash64.hash(input, seed: 7) == seed7)
            for piece in [1, 5, 31, 33] {
                var hasher = XXHash64()
                var start = 0
                while start < input.count {
                    hasher.update(Array(input[start..<min(start + piece, input.count)]))
                    start += piece
                }
                #expect(hasher.finalize() == seed0)
            }
        }
    }
}

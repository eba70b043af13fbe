import DeepseekCore
import DeepseekStorage
import DeepseekTensor
import Testing

/// The SSD tier moves 4096-aligned memory in place and everything else through its staging
/// buffers; these cases cross every boundary between the two paths.
@Suite struct AlignedIOTests {
    /// A tensor in aligned storage holding `bytes` random bytes (as uint8).
    static func aligned(bytes: Int, seed: UInt64) throws -> Tensor {
        let t = try AlignedTensors.empty([bytes], dtype: .int8)
        var rng = SeededRandom(seed: seed)
        if bytes > 0 {
            let p = t.storage.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for i in 0..<bytes { p[i] = UInt8(truncatingIfNeeded: rng.next()) }
        }
        return t
    }

    /// Sizes around the block and the buffer (64 KiB in the tiers under test).
    static let sizes = [0, 1, 100, 4095, 4096, 4097, 3 * 4096, 3 * 4096 + 20, 64 << 10, (64 << 10) + 1, 3 * (64 << 10) + 4096 + 7]

    @Test(arguments: TierKind.allCases)
    func alignedUnalignedAndPartialBlockTensorsRoundTripBitForBit(_ kind: TierKind) async throws {
        let tier = try kind.make()
        var entries: [(key: StorageKey, tensor: Tensor)] = []
        for (i, n) in Self.sizes.enumerated() {
            let t = try Self.aligned(bytes: n + 1, seed: UInt64(i))
            #expect(AlignedTensors.isAligned(t))
            entries.append((StorageKey("aligned\(i)"), try t.sliced(axis: 0, start: 0, end: n)))
            // The same bytes one byte further on: not aligned, so they are staged.
            let view = try t.sliced(axis: 0, start: 1, end: n + 1)
            #expect(n == 0 || !AlignedTensors.isAligned(view))
            entries.append((StorageKey("offset\(i)"), view))
            entries.append((StorageKey("plain\(i)"), try StorageTierContractTests.sample(.int8, [n], seed: UInt64(100 + i))))
        }
        try await tier.store(entries)
        let loaded = try await tier.load(entries.map(\.key))
        for ((key, original), back) in zip(entries, loaded) {
            #expect(back.shape == original.shape, "\(key)")
            #expect(try StorageTierContractTests.bytes(back) == StorageTierContractTests.bytes(original), "\(key)")
        }
    }

    @Test func theSSDTierLoadsIntoAlignedStorageAndWritesItBackInPlace() async throws {
        let tier = try SSDTier(SSDTierSettings(directory: scratchDirectory(), bufferBytes: 64 << 10, buffers: 4))
        let keys = Self.sizes.indices.map { StorageKey("t\($0)") }
        let originals = try Self.sizes.enumerated().map { try StorageTierContractTests.sample(.int8, [$0.element], seed: UInt64($0.offset)) }
        try await tier.store(Array(zip(keys, originals)).map { (key: $0.0, tensor: $0.1) })
        let first = try await tier.load(keys)
        for (t, n) in zip(first, Self.sizes) where n > 0 { #expect(AlignedTensors.isAligned(t)) }
        // Stored again under other keys (in place this time), then read back.
        let again = keys.map { StorageKey("again-" + $0.name) }
        try await tier.store(Array(zip(again, first)).map { (key: $0.0, tensor: $0.1) })
        await tier.remove(keys[0])
        let second = try await tier.load(again)
        for (a, b) in zip(originals, second) {
            #expect(try StorageTierContractTests.bytes(a) == StorageTierContractTests.bytes(b))
        }
    }

    @Test func aCheckpointOfAlignedTensorsWithPartialBlocksRoundTrips() throws {
        var tensors: [String: Tensor] = [:]
        for (i, n) in Self.sizes.enumerated() { tensors["t\(i)"] = try Self.aligned(bytes: n, seed: UInt64(i)) }
        let path = scratchDirectory() + "/aligned.dstensors"
        try TensorCheckpointFile.write(TensorCheckpoint(tensors: tensors, metadata: [1, 2, 3]), to: path)
        let back = try TensorCheckpointFile.read(from: path)
        #expect(back.metadata == [1, 2, 3])
        for (name, t) in tensors {
            let b = try #require(back.tensors[name])
            #expect(try StorageTierContractTests.bytes(b) == StorageTierContractTests.bytes(t), "\(name)")
            #expect(t.byteCount == 0 || AlignedTensors.isAligned(b))
        }
    }

    @Test func alignedTensorsOfEverySizeStartOnAPage() throws {
        for count in [1, 5, 3 * 1024 + 5, 16 * 1024, 1 << 20] {
            let t = try AlignedTensors.empty([count], dtype: .float32)
            #expect(AlignedTensors.isAligned(t), "\(count) floats")
        }
        // Ordinary tensors of 64 KiB and more come from the allocator page-aligned too.
        #expect(AlignedTensors.isAligned(try Tensor.zeros([16 * 1024])))
        #expect(throws: StorageError.self) { try AlignedTensors.empty([-1]) }
    }
}

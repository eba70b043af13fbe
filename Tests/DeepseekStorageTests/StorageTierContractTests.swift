import DeepseekCore
import DeepseekStorage
import DeepseekTensor
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The tiers the contract runs against.
enum TierKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case memory
    case ssd
    case ssdBuffered
    case tiered

    var testDescription: String { rawValue }

    func make() throws -> any StorageTier {
        switch self {
        case .memory: MemoryTier(budgetBytes: 64 << 20)
        case .ssd: try SSDTier(SSDTierSettings(directory: scratchDirectory(), bufferBytes: 64 << 10, buffers: 4))
        case .ssdBuffered: try SSDTier(SSDTierSettings(directory: scratchDirectory(), directIO: false, bufferBytes: 64 << 10, buffers: 4))
        case .tiered:
            // A budget smaller than the contract's data, so the contract also crosses the SSD.
            TieredStore(
                memoryBudgetBytes: 24 << 10,
                lower: try SSDTier(SSDTierSettings(directory: scratchDirectory(), bufferBytes: 64 << 10, buffers: 4)))
        }
    }
}

/// A directory for the tests' files (ext4 under /tmp on the machines this runs on).
func scratchDirectory() -> String {
    let path = "/tmp/deepseek-storage-tests-\(getpid())"
    mkdir(path, 0o755)
    return path
}

/// The same checks for every storage tier.
@Suite struct StorageTierContractTests {
    static func sample(_ dtype: DType, _ shape: Shape, seed: UInt64) throws -> Tensor {
        var rng = SeededRandom(seed: seed)
        let bytes = (0..<shape.elementCount * dtype.byteSize).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        let t = try Tensor.empty(shape, dtype: dtype)  // fresh: nothing else shares its storage
        bytes.withUnsafeBytes { src in
            if src.count > 0 { t.storage.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
        return t
    }

    static func bytes(_ t: Tensor) throws -> [UInt8] {
        let c = try t.contiguous()
        guard c.byteCount > 0 else { return [] }
        let base = c.storage.baseAddress! + c.offset * c.dtype.byteSize
        return Array(UnsafeRawBufferPointer(start: base, count: c.byteCount))
    }

    @Test(arguments: TierKind.allCases)
    func everyDTypeComesBackBitForBit(_ kind: TierKind) async throws {
        let tier = try kind.make()
        let dtypes: [DType] = [.float32, .float16, .bfloat16, .float64, .int8, .int32, .int64, .bool]
        var originals: [(StorageKey, Tensor)] = []
        for (i, dtype) in dtypes.enumerated() {
            originals.append((StorageKey("t\(i)"), try Self.sample(dtype, [3, 5], seed: UInt64(i))))
        }
        try await tier.store(originals.map { (key: $0.0, tensor: $0.1) })
        let loaded = try await tier.load(originals.map(\.0))
        for ((key, original), back) in zip(originals, loaded) {
            #expect(back.dtype == original.dtype, "\(key)")
            #expect(back.shape == original.shape, "\(key)")
            #expect(try Self.bytes(back) == Self.bytes(original), "\(key)")
        }
    }

    @Test(arguments: TierKind.allCases)
    func scalarsEmptyTensorsAndOddSizesRoundTrip(_ kind: TierKind) async throws {
        let tier = try kind.make()
        let cases: [(StorageKey, Tensor)] = [
            ("scalar", Tensor(scalar: Float(3.5))),
            ("empty", try Tensor.zeros([0, 4])),
            ("odd", try Self.sample(.int8, [4097], seed: 9)),  // one byte past a block
            ("multi-buffer", try Self.sample(.float32, [40_000], seed: 10)),  // several staging buffers
        ]
        for (key, t) in cases { try await tier.store(t, for: key) }
        for (key, t) in cases {
            let back = try await tier.load(key)
            #expect(back.shape == t.shape)
            #expect(try Self.bytes(back) == Self.bytes(t), "\(key)")
        }
    }

    @Test(arguments: TierKind.allCases)
    func storingAgainReplacesAndRemovingForgets(_ kind: TierKind) async throws {
        let tier = try kind.make()
        try await tier.store(Tensor([1, 2, 3] as [Float]), for: "w")
        try await tier.store(Tensor([4, 5] as [Float]), for: "w")
        #expect(try await tier.load("w").scalars(as: Float.self) == [4, 5])
        #expect(await tier.usedBytes() == 8)
        #expect(await tier.storedKeys() == ["w"])
        #expect(try await tier.remove("w"))
        #expect(try await !tier.remove("w"))
        #expect(await !tier.contains("w"))
        #expect(await tier.usedBytes() == 0)
    }

    @Test(arguments: TierKind.allCases)
    func aMissingKeyIsANamedNotFoundError(_ kind: TierKind) async throws {
        let tier = try kind.make()
        let error = await #expect(throws: StorageError.self) { try await tier.load("nope") }
        #expect(error?.code == .notFound)
        #expect(error?.tensor == "nope")
        #expect(error?.message.contains("\"nope\"") == true)
    }

    @Test(arguments: TierKind.allCases)
    func aViewIsStoredAsItsOwnValues(_ kind: TierKind) async throws {
        let tier = try kind.make()
        let base = try Tensor((0..<12).map(Float.init), shape: [3, 4])
        let view = try base.transposed()
        try await tier.store(view, for: "v")
        let back = try await tier.load("v")
        #expect(back.shape == [4, 3])
        #expect(try back.scalars(as: Float.self) == view.scalars(as: Float.self))
    }

    @Test(arguments: TierKind.allCases)
    func aMetaTensorIsRefused(_ kind: TierKind) async throws {
        let tier = try kind.make()
        let error = await #expect(throws: StorageError.self) { try await tier.store(Tensor.meta([2, 2]), for: "m") }
        #expect(error?.code == .invalidArgument)
    }

    @Test(arguments: TierKind.allCases)
    func aBatchOfManyKeysRoundTrips(_ kind: TierKind) async throws {
        let tier = try kind.make()
        let entries = try (0..<40).map { i in (key: StorageKey("k\(i)"), tensor: try Self.sample(.float32, [i * 37 + 1], seed: UInt64(i))) }
        try await tier.store(entries)
        let back = try await tier.load(entries.map(\.key).reversed())
        for (e, b) in zip(entries.reversed(), back) { #expect(try Self.bytes(b) == Self.bytes(e.tensor), "\(e.key)") }
        #expect(await tier.usedBytes() == entries.reduce(0) { $0 + $1.tensor.byteCount })
    }
}

import DeepseekCore
import DeepseekTraining
import Testing

@Suite struct GzipTests {
    static func pseudoRandomBytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var rng = SeededRandom(seed: seed)
        return (0..<count).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    static func sample(_ name: String) -> [UInt8] {
        switch name {
        case "text": Array("hello, gzip".utf8)
        case "random 1 MiB": pseudoRandomBytes(1 << 20, seed: 1)
        case "zeros 3 MiB": [UInt8](repeating: 0, count: 3 << 20)
        default: []
        }
    }

    @Test(arguments: ["empty", "text", "random 1 MiB", "zeros 3 MiB"])
    func compressedBytesDecompressToTheOriginal(_ name: String) throws {
        let original = Self.sample(name)
        let packed = try Gzip.compress(original)
        #expect(packed.starts(with: [0x1F, 0x8B]))
        #expect(Gzip.isCompressed(packed))
        #expect(try Gzip.decompress(packed) == original)
    }

    @Test(arguments: [0, 1, 9])
    func everyCompressionLevelRoundTrips(_ level: Int) throws {
        let original = Array(String(repeating: "fashion mnist ", count: 5000).utf8)
        let packed = try Gzip.compress(original, level: level)
        if level > 0 { #expect(packed.count < original.count / 10) }
        #expect(try Gzip.decompress(packed) == original)
    }

    @Test func levelOutsideZeroToNineIsRejected() {
        #expect { try Gzip.compress([1, 2, 3], level: 10) } throws: { error in
            (error as? DatasetError)?.code == .invalidArgument
        }
    }

    @Test func concatenatedMembersDecompressToTheConcatenation() throws {
        // The trailer of the last member states only its own size, so the first buffer is too
        // small and the second pass must use the size the shim reports.
        let first = Self.pseudoRandomBytes(200_000, seed: 2)
        let second = Array("tail".utf8)
        let packed = try Gzip.compress(first) + Gzip.compress(second)
        #expect(try Gzip.decompress(packed) == first + second)
    }

    @Test func zlibStreamsAreDetectedAndInflated() throws {
        // A zlib header (78 01), one final stored block holding "abc", and the Adler-32 of "abc".
        let stream: [UInt8] = [0x78, 0x01, 0x01, 0x03, 0x00, 0xFC, 0xFF, 0x61, 0x62, 0x63, 0x02, 0x4D, 0x01, 0x27]
        #expect(Gzip.isCompressed(stream))
        #expect(try Gzip.decompress(stream) == Array("abc".utf8))
    }

    @Test func truncatedInputIsReportedAsTruncatedWithTheFileName() throws {
        let packed = try Gzip.compress(Self.pseudoRandomBytes(10_000, seed: 3))
        let error = try #require(throws: DatasetError.self) {
            try Gzip.decompress(Array(packed.dropLast(20)), file: "/data/images.gz")
        }
        #expect(error.code == .corrupt)
        #expect(error.message.hasPrefix("/data/images.gz: "))
        #expect(error.message.contains("truncated"))
    }

    @Test func emptyInputIsTruncated() {
        #expect { try Gzip.decompress([]) } throws: { error in
            (error as? DatasetError)?.code == .corrupt
        }
    }

    @Test func checksumMismatchIsCorrupt() throws {
        var packed = try Gzip.compress(Array("some text to protect".utf8))
        packed[packed.count - 8] ^= 0xFF  // the CRC-32 in the trailer
        let error = try #require(throws: DatasetError.self) { try Gzip.decompress(packed) }
        #expect(error.code == .corrupt)
        #expect(error.message.contains("zlib:"))
    }

    @Test func bytesThatAreNotCompressedAreRejected() throws {
        let text = Array("plain text, not gzip".utf8)
        #expect(!Gzip.isCompressed(text))
        let error = try #require(throws: DatasetError.self) { try Gzip.decompress(text, file: "notes.txt") }
        #expect(error.code == .corrupt)
        #expect(error.message.contains("notes.txt"))
    }

    @Test func trailingGarbageIsRejected() throws {
        let packed = try Gzip.compress(Array("payload".utf8)) + [1, 2, 3]
        let error = try #require(throws: DatasetError.self) { try Gzip.decompress(packed) }
        #expect(error.code == .corrupt)
        #expect(error.message.contains("follow the end"))
    }
}

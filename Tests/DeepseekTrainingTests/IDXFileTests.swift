import DeepseekTensor
import DeepseekTraining
import Testing

@Suite struct IDXFileTests {
    @Test func unsignedBytesParseIntoDimensionsAndInt32Values() throws {
        let bytes = idxBytes(dimensions: [2, 3], payload: [0, 1, 2, 253, 254, 255])
        let idx = try IDXFile(parsing: bytes)
        #expect(idx.elementType == .uint8)
        #expect(idx.dimensions == [2, 3])
        #expect(idx.elementCount == 6)
        let t = try idx.tensor()
        #expect(t.shape == [2, 3])
        #expect(t.dtype == .int32)
        #expect(try t.scalars(as: Int32.self) == [0, 1, 2, 253, 254, 255])
        #expect(idx.serialized() == bytes)
    }

    @Test func wideTypesAreReadBigEndian() throws {
        let int16 = try IDXFile(parsing: idxBytes(dimensions: [2], payload: [0xFF, 0xFE, 0x01, 0x00], typeByte: 0x0B))
        #expect(try int16.tensor().scalars(as: Int32.self) == [-2, 256])

        let int32 = try IDXFile(parsing: idxBytes(dimensions: [1], payload: bigEndian(UInt32(bitPattern: -5)), typeByte: 0x0C))
        #expect(try int32.tensor().scalars(as: Int32.self) == [-5])

        let float32 = try IDXFile(parsing: idxBytes(dimensions: [1], payload: bigEndian(Float(1.5).bitPattern), typeByte: 0x0D))
        #expect(try float32.tensor().scalars(as: Float.self) == [1.5])

        let bits = Double(-0.25).bitPattern
        let payload = bigEndian(UInt32(bits >> 32)) + bigEndian(UInt32(bits & 0xFFFF_FFFF))
        let float64 = try IDXFile(parsing: idxBytes(dimensions: [1, 1], payload: payload, typeByte: 0x0E))
        let t = try float64.tensor()
        #expect(t.shape == [1, 1])
        #expect(try t.scalars(as: Double.self) == [-0.25])

        let int8 = try IDXFile(parsing: idxBytes(dimensions: [2], payload: [0x80, 0x7F], typeByte: 0x09))
        #expect(try int8.tensor().scalars(as: Int8.self) == [-128, 127])
    }

    @Test func rankZeroHoldsOneElement() throws {
        let idx = try IDXFile(parsing: idxBytes(dimensions: [], payload: [42]))
        #expect(idx.dimensions == [])
        #expect(try idx.tensor().scalars(as: Int32.self) == [42])
    }

    @Test func badMagicNumberIsMalformedAndNamesTheFile() throws {
        var bytes = idxBytes(dimensions: [1], payload: [7])
        bytes[0] = 0x12
        let error = try #require(throws: DatasetError.self) { try IDXFile(parsing: bytes, file: "labels.idx") }
        #expect(error.code == .malformed)
        #expect(error.message.hasPrefix("labels.idx: "))
        #expect(error.message.contains("magic"))
    }

    @Test func compressedBytesGetAHintToDecompress() throws {
        let packed = try Gzip.compress(idxBytes(dimensions: [1], payload: [7]))
        let error = try #require(throws: DatasetError.self) { try IDXFile(parsing: packed) }
        #expect(error.message.contains("gzip"))
    }

    @Test func unknownElementTypeIsMalformed() throws {
        let error = try #require(throws: DatasetError.self) {
            try IDXFile(parsing: idxBytes(dimensions: [1], payload: [7], typeByte: 0x0A))
        }
        #expect(error.code == .malformed)
        #expect(error.message.contains("0x0a"))
    }

    @Test func truncatedHeaderIsMalformed() throws {
        let bytes = Array(idxBytes(dimensions: [2, 28, 28], payload: []).prefix(9))
        let error = try #require(throws: DatasetError.self) { try IDXFile(parsing: bytes, file: "images.idx") }
        #expect(error.code == .malformed)
        #expect(error.message.contains("3 dimensions"))
        #expect(error.message.contains("truncated"))
    }

    @Test func fileShorterThanTheMagicNumberIsMalformed() throws {
        let error = try #require(throws: DatasetError.self) { try IDXFile(parsing: [0, 0]) }
        #expect(error.code == .malformed)
    }

    @Test func truncatedPayloadIsMalformed() throws {
        let bytes = idxBytes(dimensions: [2, 3], payload: [1, 2, 3, 4])
        let error = try #require(throws: DatasetError.self) { try IDXFile(parsing: bytes, file: "images.idx") }
        #expect(error.code == .malformed)
        #expect(error.message.contains("6 bytes"))
        #expect(error.message.contains("only 4 bytes"))
    }

    @Test func payloadLongerThanTheDimensionsIsMalformed() throws {
        let bytes = idxBytes(dimensions: [2], payload: [1, 2, 3])
        let error = try #require(throws: DatasetError.self) { try IDXFile(parsing: bytes) }
        #expect(error.code == .malformed)
        #expect(error.message.contains("1 too many"))
    }

    @Test func hugeDimensionsDoNotOverflow() throws {
        let bytes = idxBytes(dimensions: [0xFFFF_FFFF, 0xFFFF_FFFF, 0xFFFF_FFFF], payload: [1], typeByte: 0x0E)
        let error = try #require(throws: DatasetError.self) { try IDXFile(parsing: bytes) }
        #expect(error.code == .malformed)
    }

    @Test func partsMustAgree() throws {
        #expect(throws: DatasetError.self) { try IDXFile(elementType: .int32, dimensions: [2], payload: [0, 0, 0, 1]) }
        let idx = try IDXFile(elementType: .int32, dimensions: [1], payload: [0, 0, 0, 1])
        #expect(try idx.tensor().scalars(as: Int32.self) == [1])
    }

    @Test func readInflatesCompressedFilesAndReadsPlainOnes() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let bytes = idxBytes(dimensions: [4], payload: [9, 8, 7, 6])
        let plain = dir.write("plain-idx1-ubyte", bytes)
        let packed = dir.write("packed-idx1-ubyte.gz", try Gzip.compress(bytes))
        #expect(try IDXFile.read(path: plain).payload == [9, 8, 7, 6])
        #expect(try IDXFile.read(path: packed).payload == [9, 8, 7, 6])

        let missing = try #require(throws: DatasetError.self) { try IDXFile.read(path: dir.path + "/absent") }
        #expect(missing.code == .io)
        #expect(missing.message.contains("absent"))

        let cut = dir.write("cut.gz", Array(try Gzip.compress(bytes).dropLast(5)))
        let corrupt = try #require(throws: DatasetError.self) { try IDXFile.read(path: cut) }
        #expect(corrupt.code == .corrupt)
        #expect(corrupt.message.hasPrefix(cut))
    }
}

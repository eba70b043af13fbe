@testable import DeepseekONNX
import DeepseekTensor
import Testing

@Suite struct ProtoReaderTests {
    @Test(arguments: [UInt64(0), 1, 127, 128, 300, 16_383, 16_384, UInt64(Int64.max), UInt64.max])
    func varintsRoundTrip(_ value: UInt64) throws {
        var w = ProtoWriter()
        w.varint(value)
        var r = ProtoReader(bytes: w.bytes, file: "varint")
        #expect(try r.readVarint() == value)
        #expect(r.isAtEnd)
    }

    @Test func negativeInt64TakesTenBytesAndDecodes() throws {
        var w = ProtoWriter()
        w.int(3, -5)
        #expect(w.bytes.count == 11)
        var r = ProtoReader(bytes: w.bytes, file: "neg")
        let key = try #require(try r.readKey())
        #expect(key.field == 3 && key.wireType == .varint)
        #expect(try r.readInt64(key.wireType, field: 3, in: "test") == -5)
    }

    @Test func truncatedVarintNamesFileAndOffset() {
        var r = ProtoReader(bytes: [0x08, 0x96], file: "cut.pb")
        #expect(throws: ONNXError.self) {
            _ = try r.readKey()
            _ = try r.readVarint()
        }
        var r2 = ProtoReader(bytes: [0x08, 0x96], file: "cut.pb")
        do {
            _ = try r2.readKey()
            _ = try r2.readVarint()
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .malformed)
            #expect(error.file == "cut.pb")
            #expect(error.byteOffset == 1)
            #expect(error.message.contains("cut.pb: byte 1:"))
        }
    }

    @Test func overlongVarintIsRejected() {
        var r = ProtoReader(bytes: [UInt8](repeating: 0xFF, count: 11), file: "long")
        #expect(throws: ONNXError.self) { _ = try r.readVarint() }
    }

    @Test func lengthBeyondTheMessageIsRejectedAtItsOffset() {
        var w = ProtoWriter()
        w.key(9, 2)
        w.varint(1000)
        w.bytes += [1, 2, 3]
        var r = ProtoReader(bytes: w.bytes, file: "len")
        do {
            _ = try r.readKey()
            _ = try r.readLengthDelimited()
            Issue.record("expected an error")
        } catch {
            #expect(error.byteOffset == 1)
            #expect(error.message.contains("claims 1000 bytes but only 3 remain"))
        }
    }

    @Test func groupWireTypesAndFieldZeroAreCorrupt() {
        for bytes: [UInt8] in [[0x0B], [0x0C], [0x06], [0x00, 0x00]] {
            var r = ProtoReader(bytes: bytes, file: "g")
            #expect(throws: ONNXError.self) {
                while let (field, wire) = try r.readKey() { try r.skip(wire, field: field) }
            }
        }
    }

    @Test func packedAndUnpackedRepeatedFieldsBothDecode() throws {
        var w = ProtoWriter()
        w.packedInts(8, [1, -2, 300])
        w.int(8, 7)  // one more, unpacked
        w.packedFloats(7, [1.5, -2.25])
        w.float(7, 4)
        var r = ProtoReader(bytes: w.bytes, file: "rep")
        var ints: [UInt64] = []
        var floats: [UInt32] = []
        while let (field, wire) = try r.readKey() {
            if field == 8 { try r.readRepeatedVarint(wire, field: field, in: "t", into: &ints) }
            if field == 7 { try r.readRepeatedFixed32(wire, field: field, in: "t", into: &floats) }
        }
        #expect(ints.map { Int64(bitPattern: $0) } == [1, -2, 300, 7])
        #expect(floats.map { Float(bitPattern: $0) } == [1.5, -2.25, 4])
    }

    @Test func packedFixedWidthRunsMustBeWholeElements() {
        var w = ProtoWriter()
        w.bytes(4, [0, 0, 128])  // three bytes cannot hold a float
        var r = ProtoReader(bytes: w.bytes, file: "odd")
        var out: [UInt32] = []
        #expect(throws: ONNXError.self) {
            let (field, wire) = try #require(try r.readKey())
            try r.readRepeatedFixed32(wire, field: field, in: "t", into: &out)
        }
    }

    @Test func wrongWireTypeForAKnownFieldIsCorrupt() {
        var w = ProtoWriter()
        w.int(8, 5)  // TensorProto.name must be length-delimited
        #expect(throws: ONNXError.self) { _ = try ONNXTensorProto(bytes: w.bytes, file: "wt") }
    }
}

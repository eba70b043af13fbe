import DeepseekONNX
import DeepseekTensor
import Testing

@Suite struct ONNXTensorProtoTests {
    func decode(_ build: (inout ProtoWriter) -> Void) throws -> Tensor {
        var w = ProtoWriter()
        build(&w)
        return try ONNXTensorProto(bytes: w.bytes, file: "t.pb").tensor()
    }

    @Test func floatDataDecodesWithShape() throws {
        let t = try decode { Fixture.floatTensor(&$0, name: "x", dims: [2, 3], values: [1, 2, 3, 4, 5, 6]) }
        #expect(t.dtype == .float32 && t.shape == [2, 3])
        #expect(try t.scalars(as: Float.self) == [1, 2, 3, 4, 5, 6])
    }

    @Test func rawDataOfEveryDeepseekTypeDecodes() throws {
        let f = try decode { w in
            w.packedInts(1, [2])
            w.int(2, 11)  // DOUBLE
            var raw = ProtoWriter()
            raw.fixed64(Double(2.5).bitPattern)
            raw.fixed64(Double(-1).bitPattern)
            w.bytes(9, raw.bytes)
        }
        #expect(f.dtype == .float64)
        #expect(try f.scalars(as: Double.self) == [2.5, -1])

        let b = try decode { w in
            w.packedInts(1, [3])
            w.int(2, 9)  // BOOL
            w.bytes(9, [1, 0, 1])
        }
        #expect(try b.scalars(as: Bool.self) == [true, false, true])

        let i8 = try decode { w in
            w.packedInts(1, [2])
            w.int(2, 3)  // INT8
            w.bytes(9, [0xFF, 0x05])
        }
        #expect(try i8.scalars(as: Int8.self) == [-1, 5])
    }

    @Test func typedFieldsDecodeForIntegersAndHalves() throws {
        let i64 = try decode { w in
            w.packedInts(1, [3])
            w.int(2, 7)
            w.packedInts(7, [Int64.min, -1, Int64.max])
        }
        #expect(try i64.scalars(as: Int64.self) == [Int64.min, -1, Int64.max])

        let i32 = try decode { w in
            w.packedInts(1, [2])
            w.int(2, 6)
            w.packedInts(5, [-7, 9])
        }
        #expect(try i32.scalars(as: Int32.self) == [-7, 9])

        // FLOAT16 1.0 is 0x3C00, BFLOAT16 1.0 is 0x3F80; both travel in int32_data.
        let h = try decode { w in
            w.packedInts(1, [1])
            w.int(2, 10)
            w.packedInts(5, [0x3C00])
        }
        #expect(h.dtype == .float16)
        #expect(try h.scalarsAsDouble() == [1])
        let bf = try decode { w in
            w.packedInts(1, [1])
            w.int(2, 16)
            w.packedInts(5, [0x3F80])
        }
        #expect(bf.dtype == .bfloat16)
        #expect(try bf.scalarsAsDouble() == [1])

        let d = try decode { w in
            w.int(2, 11)
            w.packedDoubles(10, [0.25])
        }
        #expect(d.shape == [])
        #expect(try d.scalarsAsDouble() == [0.25])
    }

    @Test func unsupportedElementTypeNamesTheType() {
        do {
            _ = try decode { w in
                w.packedInts(1, [1])
                w.int(2, 2)  // UINT8
                w.bytes(9, [7])
            }
            Issue.record("expected an error")
        } catch let error as ONNXError {
            #expect(error.code == .unsupported)
            #expect(error.message.contains("dtype uint8 unsupported"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    @Test func dataThatDoesNotFillTheDimsIsInvalid() {
        #expect(throws: ONNXError.self) {
            _ = try decode { Fixture.floatTensor(&$0, name: "x", dims: [2, 2], values: [1, 2, 3]) }
        }
        #expect(throws: ONNXError.self) {
            _ = try decode { w in
                w.packedInts(1, [1 << 40, 1 << 40])
                w.int(2, 1)
            }
        }
        #expect(throws: ONNXError.self) {
            _ = try decode { w in
                w.packedInts(1, [-1])
                w.int(2, 1)
            }
        }
    }
}

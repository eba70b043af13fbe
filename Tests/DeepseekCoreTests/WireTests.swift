import DeepseekCore
import Testing

private struct Sample: WireCodable, Equatable {
    var id: UInt64
    var name: String
    var weights: [Float]

    func encode(to w: inout WireWriter) {
        w.writeVarint(id)
        w.write(name)
        w.writeVarint(UInt64(weights.count))
        for x in weights { w.write(x) }
    }

    init(id: UInt64, name: String, weights: [Float]) {
        self.id = id
        self.name = name
        self.weights = weights
    }

    static func decode(from r: inout WireReader) throws -> Sample {
        let id = try r.readVarint()
        let name = try r.readString()
        let n = try r.readLength("weight count")
        return Sample(id: id, name: name, weights: try (0..<n).map { _ in try r.readFloat() })
    }
}

@Suite struct WireTests {
    @Test func valuesRoundTrip() throws {
        let s = Sample(id: 300, name: "layer.0/weight ✓", weights: [1.5, -2, .infinity])
        #expect(try Sample(wireBytes: s.wireBytes) == s)
    }

    @Test func varintsUseOneByteBelow128AndRoundTripAt64Bits() throws {
        for v: UInt64 in [0, 1, 127, 128, 16_383, 16_384, UInt64(UInt32.max), .max] {
            var w = WireWriter()
            w.writeVarint(v)
            if v < 128 { #expect(w.bytes.count == 1) }
            var r = WireReader(w.bytes)
            #expect(try r.readVarint() == v)
            #expect(r.isAtEnd)
        }
    }

    @Test func truncationIsReportedWithItsOffset() {
        let bytes = Sample(id: 1, name: "abc", weights: [1, 2]).wireBytes
        for cut in 0..<bytes.count {
            do {
                _ = try Sample(wireBytes: Array(bytes[..<cut]))
                Issue.record("decoding \(cut) of \(bytes.count) bytes should fail")
            } catch let error as WireError {
                #expect(error.code == .truncated || error.code == .malformed)
                #expect(error.offset <= cut)
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func leftoverBytesAreRejected() {
        #expect(throws: WireError.self) { try Sample(wireBytes: Sample(id: 1, name: "", weights: []).wireBytes + [0]) }
    }

    @Test func corruptLengthsCannotRequestHugeAllocations() {
        var w = WireWriter()
        w.writeVarint(1 << 40)
        var r = WireReader(w.bytes, maximumLength: 1 << 20)
        #expect(throws: WireError.self) { try r.readBytes() }
        var overlong = WireReader([UInt8](repeating: 0xFF, count: 11))
        #expect(throws: WireError.self) { try overlong.readVarint() }
    }

    @Test func randomBytesNeverTrap() {
        var rng = SeededRandom(seed: 11)
        for _ in 0..<2_000 {
            let n = rng.nextInt(below: 40)
            let bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            _ = try? Sample(wireBytes: bytes)
        }
    }
}

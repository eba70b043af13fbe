import DeepseekCore
import Testing

/// Keeps bulk bytes alive while an encoding points at them.
private final class Bytes: Sendable {
    let values: [UInt8]
    init(_ values: [UInt8]) { self.values = values }
}

/// A value with a small header and one bulk run, like a tensor.
private struct Blob: WireCodable, Equatable {
    var tag: UInt32
    var data: Bytes

    static func == (a: Blob, b: Blob) -> Bool { a.tag == b.tag && a.data.values == b.data.values }

    func encode(to w: inout WireWriter) {
        w.write(tag)
        data.values.withUnsafeBytes { w.writeBulk($0, owner: data) }
    }

    static func decode(from r: inout WireReader) throws -> Blob {
        let tag = try r.read(UInt32.self)
        let bulk = try r.readBulk()
        return Blob(tag: tag, data: Bytes(bulk.withUnsafeBytes { Array($0) }))
    }
}

private func blob(_ tag: UInt32, _ count: Int) -> Blob {
    Blob(tag: tag, data: Bytes((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(tag)) }))
}

@Suite struct WireBulkTests {
    @Test func inlineBulkIsALengthPrefixFollowedByTheBytes() {
        let b = blob(1, 100)
        var expected = WireWriter()
        expected.write(UInt32(1))
        expected.write(bytes: b.data.values)
        #expect(b.wireBytes == expected.bytes)
    }

    @Test func largeBulkLeavesTheMessageAsASegmentAndFlattensBackToTheInlineEncoding() throws {
        let b = blob(2, 1000)
        let wire = b.wire(outOfBandThreshold: 256)
        #expect(wire.segments.count == 1)
        #expect(wire.inline.count < 16)
        #expect(wire.segments[0].bytes.baseAddress == b.data.values.withUnsafeBytes { $0.baseAddress })
        #expect(wire.flattened() == b.wireBytes)
        #expect(try Blob(wire: wire) == b)
        #expect(try Blob(wireBytes: wire.flattened()) == b)
        // Below the threshold everything stays inline.
        #expect(blob(3, 100).wire(outOfBandThreshold: 256).segments.isEmpty)
    }

    @Test func nestedEncodingsCarryTheirSegmentsAlong() throws {
        let values = [blob(1, 600), blob(2, 10), blob(3, 700)]
        var w = WireWriter(outOfBandThreshold: 512)
        w.write(UInt8(9))
        for v in values { w.writeNested { v.encode(to: &$0) } }
        #expect(w.segments.count == 2)
        var plain = WireWriter()
        plain.write(UInt8(9))
        for v in values { plain.write(bytes: v.wireBytes) }
        #expect(w.wire.flattened() == plain.bytes)

        var r = WireReader(w.wire)
        #expect(try r.read(UInt8.self) == 9)
        let nested = try (0..<3).map { _ in try r.readNested() }
        #expect(nested.map(\.segments.count) == [1, 0, 1])
        #expect(try nested.map { try Blob(wire: $0) } == values)
        // Re-encoding received pieces keeps them out of band.
        var again = WireWriter(outOfBandThreshold: 512)
        for n in nested { again.write(nested: n) }
        #expect(again.segments.count == 2)
    }

    @Test func segmentsThatDoNotMatchAreRejected() {
        let wire = blob(4, 1000).wire(outOfBandThreshold: 256)
        var wrongLength = wire
        wrongLength.segments[0] = WireSegment(
            position: wire.segments[0].position, bytes: UnsafeRawBufferPointer(rebasing: wire.segments[0].bytes[..<10]),
            owner: wire.segments[0].owner)
        #expect(throws: WireError.self) { try Blob(wire: wrongLength) }
        var extra = wire
        extra.segments.append(wire.segments[0])
        #expect(throws: WireError.self) { try Blob(wire: extra) }
        var missing = wire
        missing.segments = []
        #expect(throws: WireError.self) { try Blob(wire: missing) }
    }

    @Test func aReceiveBufferIsAdoptedOnceAndReturnsToThePool() throws {
        let buffer = try #require(WireBuffer(count: 1 << 20))
        #expect(Int(bitPattern: buffer.base) % 4096 == 0)
        buffer.bytes.initializeMemory(as: UInt8.self, repeating: 5)
        var w = WireWriter()
        w.writeVarint(UInt64(buffer.count))
        let wire = WireBytes(inline: w.bytes, segments: [WireSegment(position: w.bytes.count, bytes: UnsafeRawBufferPointer(buffer.bytes), owner: buffer)])
        var r = WireReader(wire)
        let bulk = try r.readBulk()
        let adopted = try #require(bulk.adoptMemory(alignment: 64))
        #expect(adopted.base == buffer.base)
        #expect(bulk.adoptMemory(alignment: 64) == nil, "a buffer has one owner")
        let before = WireBufferPool.shared.cachedByteCount
        adopted.deallocate(adopted.base)
        #expect(WireBufferPool.shared.cachedByteCount > before)
        let reused = try #require(WireBuffer(count: 1 << 20))
        #expect(reused.base == buffer.base, "freed buffers are reused")
    }

    @Test func inlineBulkIsNeverAdopted() throws {
        var r = WireReader(blob(5, 300).wireBytes)
        _ = try r.read(UInt32.self)
        #expect(try r.readBulk().adoptMemory(alignment: 1) == nil)
    }
}

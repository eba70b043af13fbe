import DeepseekActors
import DeepseekCore
import Testing

@Suite struct FramingTests {
    @Test func framesSurviveAnySplitOfTheStream() throws {
        let frames = [
            Frame(kind: .message, body: Array(0..<200)), Frame(kind: .heartbeat, body: []),
            Frame(kind: .handshake, body: [1, 2, 3]),
        ]
        let stream = frames.flatMap(\.encoded)
        for chunk in [1, 2, 3, 7, 64, stream.count] {
            var decoder = FrameDecoder()
            var out: [Frame] = []
            var i = 0
            while i < stream.count {
                out += try decoder.feed(stream[i..<min(i + chunk, stream.count)])
                i += chunk
            }
            #expect(out == frames, "chunk \(chunk)")
            #expect(decoder.bufferedByteCount == 0)
        }
    }

    @Test func oversizedFramesAreRejectedBeforeAllocation() {
        var decoder = FrameDecoder(maximumBodySize: 1024)
        var header: [UInt8] = []
        Frame.appendHeader(kind: .message, bodyCount: 1_000_000, to: &header)
        #expect(throws: FramingError.self) { try decoder.feed(header) }
        // Once failed, the stream stays failed.
        #expect(throws: FramingError.self) { try decoder.feed(Frame(kind: .heartbeat, body: []).encoded) }
    }

    @Test func unknownKindsAreRejectedWithTheStreamOffset() throws {
        var decoder = FrameDecoder()
        let good = Frame(kind: .heartbeat, body: [9]).encoded
        do {
            _ = try decoder.feed(good + [0, 0, 0, 0, 77])
            Issue.record("expected an error")
        } catch {
            #expect(error.code == .unknownKind)
            #expect(error.streamOffset == UInt64(good.count))
        }
    }

    @Test func transportMessagesRoundTrip() throws {
        let address = ActorAddress(node: NodeID(3), path: "ops/matmul-1", incarnation: 42)
        let messages: [TransportMessage] = [
            .call(CallEnvelope(callID: 7, origin: NodeID(1), recipient: address, target: "$s4main3FooC3baryyF", genericSubstitutions: ["Sf"], arguments: [.value(Int64(5)), .value("x")], flowID: 99)),
            .reply(ReplyEnvelope(callID: 7, outcome: .value(.value(Float(2.5))), flowID: 99)),
            .reply(ReplyEnvelope(callID: 8, outcome: .void)),
            .reply(ReplyEnvelope(callID: 9, outcome: .failure(code: "timeout", message: "late", errorType: nil, payload: nil))),
            .system(.watch(target: address, watcher: NodeID(0))),
            .system(.registered(key: "shards", actor: address)),
            .system(.leaving),
        ]
        for m in messages {
            let back = try TransportMessage(wireBytes: m.wireBytes)
            #expect(back.wireBytes == m.wireBytes)
        }
    }

    /// Random, truncated and bit-flipped frames never crash the decoders and never make them
    /// hold more than one frame's worth of bytes.
    @Test func hostileBytesNeverCrashTheDecoders() throws {
        var rng = SeededRandom(seed: 2024)
        let address = ActorAddress(node: NodeID(1), path: "a/b", incarnation: 1)
        let sample = TransportMessage.call(
            CallEnvelope(callID: 1, origin: NodeID(0), recipient: address, target: "t", arguments: [.value(Int64(1))]))
        let valid = Frame(kind: .message, body: sample.wireBytes).encoded
        var decodedOK = 0
        for round in 0..<100_000 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0: bytes = (0..<rng.nextInt(below: 48)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            case 1: bytes = Array(valid.prefix(rng.nextInt(below: valid.count)))
            default:
                bytes = valid
                for _ in 0...rng.nextInt(below: 3) {
                    let i = rng.nextInt(below: bytes.count)
                    bytes[i] ^= UInt8(1) << UInt8(rng.nextInt(below: 8))
                }
            }
            var decoder = FrameDecoder(maximumBodySize: 4096)
            guard let frames = try? decoder.feed(bytes) else { continue }
            #expect(decoder.bufferedByteCount <= 4096 + Frame.headerSize)
            for f in frames where f.kind == .message {
                if (try? TransportMessage(wireBytes: f.body)) != nil { decodedOK += 1 }
                _ = try? HandshakeMessage(wireBytes: f.body)
            }
        }
        #expect(decodedOK > 0)
    }

    /// A message whose two bulk segments follow its head on the stream.
    static func segmentedFrame() -> (Frame, [[UInt8]]) {
        let first = (0..<3000).map { UInt8(truncatingIfNeeded: $0) }
        let second = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 3) }
        let owner = SegmentBytes([first, second])
        let frame = Frame(
            kind: .message, body: Array(0..<40),
            segments: [
                WireSegment(position: 10, bytes: owner.raw(0), owner: owner),
                WireSegment(position: 40, bytes: owner.raw(1), owner: owner),
            ])
        return (frame, [first, second])
    }

    @Test func segmentedMessagesSurviveAnySplitOfTheStream() throws {
        let (frame, _) = Self.segmentedFrame()
        let frames = [Frame(kind: .heartbeat, body: [1]), frame, Frame(kind: .message, body: [7, 7])]
        let stream = frames.flatMap(\.encoded)
        #expect(frame.head.count < 60, "the head carries no segment bytes")
        for chunk in [1, 5, 999, 4096, stream.count] {
            var decoder = FrameDecoder()
            var out: [Frame] = []
            var i = 0
            while i < stream.count {
                out += try decoder.feed(stream[i..<min(i + chunk, stream.count)])
                i += chunk
            }
            #expect(out == frames, "chunk \(chunk)")
            #expect(decoder.bufferedByteCount == 0)
        }
    }

    @Test func segmentsCanBeReceivedStraightIntoTheirBuffers() throws {
        let (frame, parts) = Self.segmentedFrame()
        var decoder = FrameDecoder()
        #expect(try decoder.feed(frame.head + parts[0].prefix(100)).isEmpty)
        var rest = Array(parts[0].dropFirst(100)) + parts[1]
        var out: [Frame] = []
        while let space = try decoder.segmentSpace() {
            let n = min(space.count, 777, rest.count)
            rest.withUnsafeBytes { space.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[..<n])) }
            rest.removeFirst(n)
            out += try decoder.segmentReceived(n)
        }
        #expect(rest.isEmpty)
        #expect(out == [frame])
        #expect(out[0].segments.allSatisfy { $0.owner is WireBuffer })
        #expect(try decoder.feed(Frame(kind: .heartbeat, body: []).encoded) == [Frame(kind: .heartbeat, body: [])])
    }

    @Test func inconsistentSegmentTablesAreRejected() {
        func segmented(_ table: [UInt64], body: [UInt8] = [0, 0]) -> [UInt8] {
            var w = WireWriter()
            for v in table { w.writeVarint(v) }
            var out: [UInt8] = []
            Frame.appendHeader(kind: .segmentedMessage, bodyCount: w.bytes.count + body.count, to: &out)
            return out + w.bytes + body
        }
        for table: [UInt64] in [[0], [65], [1, 0, 0], [1, 5, 10], [2, 1, 10, 0, 10], [1, 0, 1 << 20], [2]] {
            var decoder = FrameDecoder(maximumBodySize: 1 << 16)
            #expect(throws: FramingError.self, "table \(table)") { try decoder.feed(segmented(table)) }
        }
    }

    @Test func messagesWithBulkArgumentsTravelOutOfBandAndDecodeAsPlainOnes() throws {
        let address = ActorAddress(node: NodeID(1), path: "p", incarnation: 1)
        let bulk = BulkArgument((0..<10_000).map { UInt8(truncatingIfNeeded: $0) })
        let message = TransportMessage.call(
            CallEnvelope(callID: 3, origin: NodeID(0), recipient: address, target: "t", arguments: [.value(Int64(1)), .value(bulk)]))
        var w = WireWriter(outOfBandThreshold: 4096)
        message.encode(to: &w)
        #expect(w.segments.count == 1)
        #expect(w.wire.flattened() == message.wireBytes, "the logical encoding does not change")
        let back = try TransportMessage(wire: w.wire)
        guard case .call(let call) = back, case .wire(let argument) = call.arguments[1] else {
            Issue.record("expected a call with an out-of-band argument")
            return
        }
        #expect(argument.segments.count == 1)
        #expect(try call.arguments[1].decode(as: BulkArgument.self) == bulk)
        #expect(try call.arguments[0].decode(as: Int64.self) == 1)
        #expect(call.arguments[1].bytes == bulk.wireBytes)
    }
}

/// Owns the bytes of test segments.
final class SegmentBytes: @unchecked Sendable {
    let parts: [UnsafeMutableRawBufferPointer]
    init(_ parts: [[UInt8]]) {
        self.parts = parts.map { p in
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: p.count, alignment: 64)
            b.copyBytes(from: p)
            return b
        }
    }
    func raw(_ i: Int) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(parts[i]) }
    deinit { for p in parts { p.deallocate() } }
}

/// A value whose bytes are written as bulk data.
final class BulkArgument: WireCodable, Equatable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
    static func == (a: BulkArgument, b: BulkArgument) -> Bool { a.bytes == b.bytes }
    func encode(to w: inout WireWriter) { bytes.withUnsafeBytes { w.writeBulk($0, owner: self) } }
    static func decode(from r: inout WireReader) throws -> BulkArgument {
        BulkArgument(try r.readBulk().withUnsafeBytes { Array($0) })
    }
}

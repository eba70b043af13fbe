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
}

import DeepseekTransportVerbs
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite struct QueuePairStateTests {
    @Test func transitionsFollowTheSpecification() {
        let allowed: [(VerbsQueuePairState, VerbsQueuePairState)] = [
            (.reset, .initialized), (.initialized, .initialized), (.initialized, .readyToReceive), (.readyToReceive, .readyToSend),
            (.readyToSend, .readyToSend), (.readyToSend, .error), (.initialized, .reset), (.error, .reset),
        ]
        for (from, to) in allowed { #expect(from.canMove(to: to), "\(from) → \(to)") }
        let refused: [(VerbsQueuePairState, VerbsQueuePairState)] = [
            (.reset, .readyToReceive), (.reset, .readyToSend), (.initialized, .readyToSend), (.readyToReceive, .initialized),
            (.readyToSend, .readyToReceive), (.error, .readyToSend), (.error, .initialized),
        ]
        for (from, to) in refused { #expect(!from.canMove(to: to), "\(from) → \(to)") }
    }

    @Test func onlyReadyToSendAcceptsSends() {
        let states: [VerbsQueuePairState] = [.reset, .initialized, .readyToReceive, .readyToSend, .error]
        #expect(states.filter(\.acceptsSends) == [.readyToSend])
        #expect(states.filter { !$0.acceptsReceives } == [.reset])
    }
}

@Suite struct FakeFabricRulesTests {
    @Test func modifyRefusesSkippedStates() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        let attributes = VerbsReceiveAttributes(
            remoteQueuePair: pair.b.qp.number, receivePacketSequence: 1, remoteLID: 2, remoteGID: .zero, useGlobalRoute: false,
            sourceGIDIndex: 0, pathMTU: .bytes1024, port: 1)
        #expect { try pair.a.api.modifyQueuePair(pair.a.qp, .readyToReceive(attributes)) } throws: { ($0 as? VerbsError)?.errno == EINVAL }
        #expect { try pair.a.api.modifyQueuePair(pair.a.qp, .readyToSend(VerbsSendAttributes(sendPacketSequence: 1))) } throws: {
            ($0 as? VerbsError)?.errno == EINVAL
        }
        try pair.a.api.modifyQueuePair(pair.a.qp, .initialize(port: 1, access: [.localWrite]))
        #expect { try pair.a.api.modifyQueuePair(pair.a.qp, .readyToSend(VerbsSendAttributes(sendPacketSequence: 1))) } throws: {
            ($0 as? VerbsError)?.errno == EINVAL
        }
    }

    @Test func packetSequenceNumbersAreTwentyFourBits() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        #expect { try pair.connect(pair.a, to: pair.b, receivePSN: 0x0100_0000, sendPSN: 1) } throws: { ($0 as? VerbsError)?.errno == EINVAL }
    }

    @Test func sendsNeedReadyToSend() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        #expect { try pair.send(from: pair.a, length: 8) } throws: { ($0 as? VerbsError)?.errno == EINVAL }
        try pair.a.api.modifyQueuePair(pair.a.qp, .initialize(port: 1, access: [.localWrite]))
        #expect { try pair.send(from: pair.a, length: 8) } throws: { ($0 as? VerbsError)?.message.contains("sends need RTS") == true }
        try pair.a.api.modifyQueuePair(
            pair.a.qp,
            .readyToReceive(
                VerbsReceiveAttributes(
                    remoteQueuePair: pair.b.qp.number, receivePacketSequence: 1, remoteLID: 2, remoteGID: .zero, useGlobalRoute: false,
                    sourceGIDIndex: 0, pathMTU: .bytes1024, port: 1)))
        #expect { try pair.send(from: pair.a, length: 8) } throws: { ($0 as? VerbsError)?.message.contains("RTR") == true }
    }

    @Test func receivesNeedAnInitializedQueuePair() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        #expect { try pair.receive(on: pair.b) } throws: { ($0 as? VerbsError)?.errno == EINVAL }
        try pair.b.api.modifyQueuePair(pair.b.qp, .initialize(port: 1, access: [.localWrite]))
        try pair.receive(on: pair.b)
    }

    @Test func sendDeliversBytesAndCompletesBothSides() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        try pair.connectBoth()
        try pair.receive(on: pair.b, offset: 2048, length: 1024, id: 77)
        for i in 0..<100 { pair.a.buffer.storeBytes(of: UInt8(i), toByteOffset: i, as: UInt8.self) }
        try pair.send(from: pair.a, length: 100, id: 5)
        let sent = try pair.poll(pair.a)
        let received = try pair.poll(pair.b)
        #expect(sent.map(\.status) == [.success] && sent.first?.workRequestID == 5 && sent.first?.opcode == .send)
        #expect(received.map(\.status) == [.success] && received.first?.workRequestID == 77 && received.first?.byteCount == 100)
        #expect((0..<100).allSatisfy { pair.b.buffer.load(fromByteOffset: 2048 + $0, as: UInt8.self) == UInt8($0) })
    }

    @Test func sendWithoutPostedReceiveFailsWithReceiverNotReady() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        try pair.connectBoth(rnrRetry: 3)
        try pair.send(from: pair.a, length: 16)
        #expect(try pair.poll(pair.a).map(\.status) == [.rnrRetryExceeded])
        #expect(pair.fabric.receiverNotReadyNAKs == 1)
        // The error moved the queue pair to ERR: it takes no more sends.
        #expect { try pair.send(from: pair.a, length: 16) } throws: { ($0 as? VerbsError)?.message.contains("ERR") == true }
    }

    @Test func infiniteReceiverNotReadyRetryWaitsForAReceive() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        try pair.connectBoth(rnrRetry: 7)
        try pair.send(from: pair.a, length: 16, id: 1)
        try pair.send(from: pair.a, length: 16, id: 2)
        #expect(try pair.poll(pair.a).isEmpty)
        try pair.receive(on: pair.b, id: 10)
        try pair.receive(on: pair.b, offset: 3072, id: 11)
        #expect(try pair.poll(pair.a).map(\.workRequestID) == [1, 2])
        #expect(try pair.poll(pair.b).map(\.workRequestID) == [10, 11])
    }

    @Test func unregisteredMemoryFailsWithLocalProtectionError() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        try pair.connectBoth()
        try pair.receive(on: pair.b)
        // Past the end of the registered region.
        try pair.send(from: pair.a, offset: FakeQueuePairs.bufferSize - 8, length: 16)
        #expect(try pair.poll(pair.a).map(\.status) == [.localProtectionError])

        let again = try FakeQueuePairs()
        defer { again.releaseBuffers() }
        try again.connectBoth()
        try again.receive(on: again.b)
        // The right address under the wrong key (the remote key is not a local key).
        try again.send(from: again.a, length: 16, localKey: again.a.region.remoteKey)
        #expect(try again.poll(again.a).map(\.status) == [.localProtectionError])
        #expect(try again.poll(again.b).isEmpty, "nothing reaches the peer")
    }

    @Test func wrongPacketSequenceNumberFailsWithRetryExceeded() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        // B expects A's first packet to carry PSN 101, but A starts at 100.
        try pair.connect(pair.a, to: pair.b, receivePSN: 200, sendPSN: 100)
        try pair.connect(pair.b, to: pair.a, receivePSN: 101, sendPSN: 200)
        try pair.receive(on: pair.b)
        try pair.send(from: pair.a, length: 16)
        #expect(try pair.poll(pair.a).map(\.status) == [.retryExceeded])
        #expect(try pair.poll(pair.b).isEmpty, "the responder drops the packet")
        #expect(pair.fabric.sequenceErrors == 1)
    }

    @Test func peerGoneFailsWithRetryExceeded() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        try pair.connectBoth()
        try pair.b.api.destroyQueuePair(pair.b.qp)
        try pair.send(from: pair.a, length: 16)
        #expect(try pair.poll(pair.a).map(\.status) == [.retryExceeded])
    }

    @Test func rdmaWriteNeedsTheRemoteKeyAndRemoteWriteAccess() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        try pair.connectBoth()
        pair.a.buffer.storeBytes(of: UInt64(0xfeed_f00d), as: UInt64.self)
        func write(key: UInt32, to offset: UInt64, id: UInt64) throws {
            try pair.a.api.postSend(
                pair.a.qp,
                VerbsSendRequest(
                    workRequestID: id, operation: .rdmaWrite(remoteAddress: pair.b.address + offset, remoteKey: key), address: pair.a.address,
                    length: 8, localKey: pair.a.region.localKey))
        }
        try write(key: pair.b.region.remoteKey, to: 64, id: 1)
        #expect(try pair.poll(pair.a).map(\.status) == [.success])
        #expect(pair.b.buffer.load(fromByteOffset: 64, as: UInt64.self) == 0xfeed_f00d)
        #expect(try pair.poll(pair.b).isEmpty, "an RDMA write consumes no receive and completes nothing at the peer")
        try write(key: pair.b.region.localKey, to: 64, id: 2)
        #expect(try pair.poll(pair.a).map(\.status) == [.remoteAccessError])
    }

    @Test func rdmaWriteIntoMemoryWithoutRemoteAccessFails() throws {
        let pair = try FakeQueuePairs(access: [.localWrite])
        defer { pair.releaseBuffers() }
        try pair.connectBoth()
        try pair.a.api.postSend(
            pair.a.qp,
            VerbsSendRequest(
                workRequestID: 1, operation: .rdmaWrite(remoteAddress: pair.b.address, remoteKey: pair.b.region.remoteKey),
                address: pair.a.address, length: 8, localKey: pair.a.region.localKey))
        #expect(try pair.poll(pair.a).map(\.status) == [.remoteAccessError])
    }

    @Test func aSendLargerThanTheReceiveBufferFailsOnBothSides() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        try pair.connectBoth()
        try pair.receive(on: pair.b, length: 64)
        try pair.send(from: pair.a, length: 128)
        #expect(try pair.poll(pair.a).map(\.status) == [.remoteInvalidRequest])
        #expect(try pair.poll(pair.b).map(\.status) == [.localLengthError])
    }

    @Test func sendQueueDepthIsEnforced() throws {
        let pair = try FakeQueuePairs(sendDepth: 2, receiveDepth: 8)
        defer { pair.releaseBuffers() }
        try pair.connectBoth()
        for i in 0..<3 { try pair.receive(on: pair.b, offset: 1024 * i, length: 1024, id: UInt64(i)) }
        try pair.send(from: pair.a, length: 8)
        try pair.send(from: pair.a, length: 8)
        #expect { try pair.send(from: pair.a, length: 8) } throws: { ($0 as? VerbsError)?.errno == ENOMEM }
        _ = try pair.poll(pair.a)
        try pair.send(from: pair.a, length: 8)
    }

    @Test func anOverrunCompletionQueueStaysBroken() throws {
        let pair = try FakeQueuePairs(sendDepth: 8, receiveDepth: 8, cqDepth: 2)
        defer { pair.releaseBuffers() }
        try pair.connectBoth()
        for i in 0..<3 { try pair.receive(on: pair.b, offset: 1024 * i, length: 1024, id: UInt64(i)) }
        for _ in 0..<3 { try pair.send(from: pair.a, length: 8) }
        #expect { try pair.poll(pair.a) } throws: { ($0 as? VerbsError)?.errno == EIO }
    }

    @Test func errorStateFlushesPostedReceives() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        try pair.connectBoth()
        try pair.receive(on: pair.b, id: 41)
        try pair.b.api.modifyQueuePair(pair.b.qp, .error)
        let flushed = try pair.poll(pair.b)
        #expect(flushed.map(\.status) == [.workRequestFlushed] && flushed.first?.workRequestID == 41)
    }

    @Test func busyResourcesCannotBeDestroyed() throws {
        let pair = try FakeQueuePairs()
        defer { pair.releaseBuffers() }
        #expect { try pair.a.api.destroyCompletionQueue(pair.a.cq) } throws: { ($0 as? VerbsError)?.errno == EBUSY }
        #expect { try pair.a.api.deallocateProtectionDomain(pair.a.domain) } throws: { ($0 as? VerbsError)?.errno == EBUSY }
        #expect { try pair.a.api.closeDevice(pair.a.device) } throws: { ($0 as? VerbsError)?.errno == EBUSY }
        try pair.a.api.destroyQueuePair(pair.a.qp)
        try pair.a.api.deregisterMemory(pair.a.region)
        try pair.a.api.destroyCompletionQueue(pair.a.cq)
        try pair.a.api.deallocateProtectionDomain(pair.a.domain)
        try pair.a.api.closeDevice(pair.a.device)
    }
}

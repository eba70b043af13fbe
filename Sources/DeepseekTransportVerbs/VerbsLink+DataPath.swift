import CDeepseekVerbs
import DeepseekActors
import DeepseekCore

func cdskLoadAcquire(_ address: UnsafeMutableRawPointer) -> UInt64 { cdsk_verbs_load_acquire_u64(address) }

extension VerbsLink {
    /// The most bytes one SEND may carry: both sides' buffers must hold it.
    var sendLimit: Int { min(layout.bufferSize, Int(remote?.receiveBufferSize ?? 0)) }
    /// The most bytes one RDMA write of a large message carries.
    var chunkLimit: Int { min(layout.slotSize, Int(remote?.landingSlotSize ?? 0)) }

    // MARK: Completions

    /// Handles every completion waiting on the link's queue; delivers complete messages.
    ///
    /// - Returns: whether anything was polled.
    func poll(scratch: inout [VerbsCompletion], deliver: (TransportMessage) -> Void) -> Bool {
        guard let r = resources, failure == nil else { return false }
        scratch.removeAll(keepingCapacity: true)
        let n: Int
        do {
            n = try api.pollCompletions(r.completions, maximum: 64, into: &scratch)
        } catch {
            failure = "polling the completion queue failed: \(error)"
            return true
        }
        for completion in scratch {
            handle(completion, resources: r, deliver: deliver)
            if failure != nil { break }
        }
        return n > 0
    }

    private func handle(_ c: VerbsCompletion, resources r: Resources, deliver: (TransportMessage) -> Void) {
        guard let (kind, slot) = WorkKind.decode(c.workRequestID) else {
            failure = "a completion carries an unknown work request ID \(c.workRequestID)"
            return
        }
        if kind != .receive { outstandingSends -= 1 }
        guard c.status.isSuccess else {
            failure = "\(kind) work request failed: \(c.status) (vendor error \(c.vendorError))"
            return
        }
        switch kind {
        case .receive: received(slot: slot, byteCount: c.byteCount, resources: r, deliver: deliver)
        case .send: freeSendSlots.append(slot)
        case .stagingWrite: freeStagingSlots.append(slot)
        case .creditWrite: creditWriteInFlight = false
        }
    }

    private func received(slot: Int, byteCount: Int, resources r: Resources, deliver: (TransportMessage) -> Void) {
        guard slot < layout.receiveDepth, byteCount >= 1, byteCount <= layout.bufferSize else {
            failure = "a receive completion for slot \(slot) with \(byteCount) bytes is out of range"
            return
        }
        let buffer = r.local.base + layout.receiveBuffer(slot)
        var frames: [Frame] = []
        do {
            switch SendType(rawValue: buffer.load(as: UInt8.self)) {
            case .stream:
                frames = try decoder.feed(UnsafeRawBufferPointer(start: buffer + 1, count: byteCount - 1))
            case .landed:
                guard byteCount >= SendType.landedNoticeSize else { throw protocolError("a landed notice of \(byteCount) bytes") }
                let landing = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 4, as: UInt32.self)))
                let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
                let expected = Int(landingReleased % UInt64(layout.stagingSlots))
                guard landing == expected, length <= layout.slotSize else {
                    throw protocolError("landing slot \(landing) with \(length) bytes (expected slot \(expected), at most \(layout.slotSize))")
                }
                frames = try decoder.feed(UnsafeRawBufferPointer(start: r.window.base + layout.landingBuffer(landing), count: length))
                landingReleased += 1
            case .goodbye:
                goodbyeReceived = true
            case nil:
                throw protocolError("send type \(buffer.load(as: UInt8.self))")
            }
        } catch {
            failure = "the stream from \(peer) is corrupt: \(error)"
            return
        }
        // The bytes were copied out, so the buffer can take the next SEND.
        do {
            try postReceive(slot)
            receivesReposted += 1
        } catch {
            failure = "re-posting a receive failed: \(error)"
            return
        }
        for frame in frames where frame.kind == .message {
            do {
                deliver(try TransportMessage(wireBytes: frame.body))
                stats.messagesReceived += 1
            } catch {
                failure = "an undecodable message from \(peer): \(error)"
                return
            }
        }
    }

    private func protocolError(_ what: String) -> WireError { WireError(.malformed, "unexpected \(what)", offset: 0) }

    // MARK: Sending

    /// Posts queued frames while credits, buffers and send-queue room allow.
    ///
    /// Small frames are packed into one SEND up to the peer's buffer size; a frame too large for
    /// that is written into the peer's landing slots with RDMA writes from the staging slots, each
    /// slice followed by a small SEND naming the slot. RC delivers the SEND only after the write
    /// before it has landed, so the receiver never reads a slot early.
    ///
    /// - Returns: whether anything was posted.
    func pumpSends() -> Bool {
        guard isEstablished, failure == nil, !goodbyeSent, let r = resources else { return false }
        var posted = false
        while hasQueuedFrames {
            let frame = queue[queueHead]
            if frame.totalCount + 1 <= sendLimit {
                guard let slot = takeSendSlot(needing: 1) else { break }
                let buffer = r.local.base + layout.sendBuffer(slot)
                buffer.storeBytes(of: SendType.stream.rawValue, as: UInt8.self)
                var used = 1
                while hasQueuedFrames, used + queue[queueHead].totalCount <= sendLimit {
                    let next = queue[queueHead]
                    next.copy(from: 0, count: next.totalCount, to: buffer + used)
                    used += next.totalCount
                    bytesPosted += next.totalCount
                    popFrame()
                }
                guard postSend(slot: slot, kind: .send, length: used, operation: .send, resources: r) else { return posted }
                posted = true
            } else {
                guard landingCredits > 0, let staging = freeStagingSlots.last, let slot = takeSendSlot(needing: 2) else { break }
                freeStagingSlots.removeLast()
                let count = min(chunkLimit, frame.totalCount - headOffset)
                frame.copy(from: headOffset, count: count, to: r.local.base + layout.stagingBuffer(staging))
                let landing = Int(landingUsed % UInt64(remote!.landingSlotCount))
                let target = remote!.window.address + VerbsEndpoint.mailboxSize + UInt64(landing) * UInt64(remote!.landingSlotSize)
                guard
                    postSend(
                        slot: staging, kind: .stagingWrite, length: count, offset: layout.stagingBuffer(staging),
                        operation: .rdmaWrite(remoteAddress: target, remoteKey: remote!.window.remoteKey), resources: r)
                else { return posted }
                landingUsed += 1
                let notice = r.local.base + layout.sendBuffer(slot)
                notice.storeBytes(of: SendType.landed.rawValue, as: UInt8.self)
                notice.storeBytes(of: UInt32(landing).littleEndian, toByteOffset: 4, as: UInt32.self)
                notice.storeBytes(of: UInt32(count).littleEndian, toByteOffset: 8, as: UInt32.self)
                guard postSend(slot: slot, kind: .send, length: SendType.landedNoticeSize, operation: .send, resources: r) else { return posted }
                posted = true
                headOffset += count
                bytesPosted += count
                if headOffset == frame.totalCount { popFrame() }
            }
        }
        return posted
    }

    /// Sends an orderly goodbye if a credit and a buffer are free; returns whether it went out.
    func postGoodbye() -> Bool {
        guard isEstablished, failure == nil, !goodbyeSent, let r = resources, let slot = takeSendSlot(needing: 1) else { return false }
        (r.local.base + layout.sendBuffer(slot)).storeBytes(of: SendType.goodbye.rawValue, as: UInt8.self)
        goodbyeSent = postSend(slot: slot, kind: .send, length: 1, operation: .send, resources: r)
        return goodbyeSent
    }

    /// Publishes re-posted receives and released landing slots to the peer's mailbox with one
    /// 16-byte RDMA write (one at a time, so the outbox is never changed under the NIC).
    func flushCredits() -> Bool {
        guard isEstablished, failure == nil, !creditWriteInFlight, outstandingSends < settings.sendQueueDepth, let r = resources,
            let remote
        else { return false }
        guard receivesReposted != advertised.reposted || landingReleased != advertised.released else { return false }
        let outbox = r.local.base + layout.outboxOffset
        cdsk_verbs_store_release_u64(outbox, receivesReposted)
        cdsk_verbs_store_release_u64(outbox + 8, landingReleased)
        guard
            postSend(
                slot: 0, kind: .creditWrite, length: 16, offset: layout.outboxOffset,
                operation: .rdmaWrite(remoteAddress: remote.window.address, remoteKey: remote.window.remoteKey), resources: r)
        else { return false }
        creditWriteInFlight = true
        advertised = (receivesReposted, landingReleased)
        return true
    }

    /// Whether everything queued has been handed over and acknowledged.
    var isDrained: Bool { !hasQueuedFrames && outstandingSends == 0 }

    private func takeSendSlot(needing requests: Int) -> Int? {
        guard sendCredits > 0, outstandingSends + requests <= settings.sendQueueDepth, let slot = freeSendSlots.popLast() else { return nil }
        return slot
    }

    private func popFrame() {
        stats.messagesSent += 1
        stats.bytesSent += queue[queueHead].totalCount
        queueHead += 1
        headOffset = 0
        if queueHead == queue.count {
            queue.removeAll(keepingCapacity: true)
            queueHead = 0
        } else if queueHead >= 1024 && queueHead * 2 >= queue.count {
            queue.removeFirst(queueHead)
            queueHead = 0
        }
    }

    private func postSend(
        slot: Int, kind: WorkKind, length: Int, offset: Int? = nil, operation: VerbsSendRequest.Operation, resources r: Resources
    ) -> Bool {
        let request = VerbsSendRequest(
            workRequestID: kind.id(slot), operation: operation, address: r.local.address(offset ?? layout.sendBuffer(slot)), length: length,
            localKey: r.local.region.localKey)
        do {
            try api.postSend(r.queuePair, request)
        } catch {
            failure = "posting a \(kind) failed: \(error)"
            return false
        }
        outstandingSends += 1
        switch kind {
        case .send:
            sendsPosted += 1
            stats.sendRequests += 1
        case .stagingWrite: stats.landingWrites += 1
        case .creditWrite: stats.creditWrites += 1
        case .receive: break
        }
        return true
    }
}

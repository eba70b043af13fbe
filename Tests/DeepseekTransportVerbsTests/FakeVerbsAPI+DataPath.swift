import DeepseekTransportVerbs
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension FakeVerbsAPI {
    func postReceive(_ queuePair: VerbsQueuePair, _ request: VerbsReceiveRequest) throws(VerbsError) {
        let problem = fabric.state.withLock { s -> (Int32, String)? in
            guard var qp = s.queuePairs[queuePair.handle] else { return (EINVAL, "no such queue pair") }
            guard qp.state.acceptsReceives else { return (EINVAL, "QP \(qp.number) is in RESET; receives need INIT or later") }
            guard qp.receives.count < qp.capabilities.maximumReceiveRequests else {
                return (ENOMEM, "QP \(qp.number) already has \(qp.receives.count) receives posted")
            }
            qp.receives.append(request)
            s.queuePairs[queuePair.handle] = qp
            if qp.state == .error {
                s.breakQueuePair(queuePair.handle)
                return nil
            }
            // A peer retrying after receiver-not-ready gets this buffer.
            while let waiting = s.queuePairs[queuePair.handle]?.waitingSends.first, !(s.queuePairs[queuePair.handle]?.receives.isEmpty ?? true) {
                s.queuePairs[queuePair.handle]!.waitingSends.removeFirst()
                s.execute(waiting.from, waiting.request, retrying: true)
            }
            return nil
        }
        if let (code, message) = problem { throw FakeVerbsFabric.fail(code, message) }
    }

    func postSend(_ queuePair: VerbsQueuePair, _ request: VerbsSendRequest) throws(VerbsError) {
        let problem = fabric.state.withLock { s -> (Int32, String)? in
            guard var qp = s.queuePairs[queuePair.handle] else { return (EINVAL, "no such queue pair") }
            guard qp.state.acceptsSends else { return (EINVAL, "QP \(qp.number) is in \(qp.state); sends need RTS") }
            guard qp.outstandingSends < qp.capabilities.maximumSendRequests else {
                return (ENOMEM, "QP \(qp.number) send queue is full (\(qp.outstandingSends) outstanding)")
            }
            qp.outstandingSends += 1
            s.queuePairs[queuePair.handle] = qp
            s.execute(queuePair.handle, request)
            return nil
        }
        if let (code, message) = problem { throw FakeVerbsFabric.fail(code, message) }
    }
}

extension FakeVerbsFabric.State {
    /// Carries out one send work request of queue pair `handle` against its peer.
    ///
    /// - Parameter retrying: the request is the oldest one waiting for a receive at the peer.
    mutating func execute(_ handle: UInt, _ request: VerbsSendRequest, retrying: Bool = false) {
        guard let qp = queuePairs[handle], qp.state == .readyToSend else {
            finish(handle, request, .workRequestFlushed)
            return
        }
        guard region(localKey: request.localKey, domain: qp.domain, address: request.address, length: request.length) != nil else {
            fail(handle, request, .localProtectionError)
            return
        }
        // The responder must exist, be live, and be connected to this queue pair.
        guard let peerHandle = byNumber[qp.remoteNumber], var peer = queuePairs[peerHandle], peer.state.receivesPackets,
            peer.remoteNumber == qp.number
        else {
            fail(handle, request, .retryExceeded)
            return
        }
        // Earlier SENDs still waiting at the responder keep their order.
        if !retrying && peer.waitingSends.contains(where: { $0.from == handle }) {
            peer.waitingSends.append((handle, request))
            queuePairs[peerHandle] = peer
            return
        }
        guard qp.sendPSN == peer.expectedPSN else {
            // Outside the responder's window: dropped silently, so the requester times out.
            sequenceErrors += 1
            fail(handle, request, .retryExceeded)
            return
        }
        switch request.operation {
        case .rdmaWrite(let remoteAddress, let remoteKey):
            let target = regions.values.first { $0.remoteKey == remoteKey && $0.domain == peer.domain && $0.contains(remoteAddress, request.length) }
            guard peer.access.contains(.remoteWrite), let target, target.access.contains(.remoteWrite) else {
                fail(handle, request, .remoteAccessError)
                return
            }
            fabricCopy(to: remoteAddress, from: request.address, length: request.length)
        case .send:
            guard let receive = peer.receives.first else {
                receiverNotReadyNAKs += 1
                if qp.rnrRetry == 7 {
                    peer.waitingSends.append((handle, request))
                    queuePairs[peerHandle] = peer
                } else {
                    fail(handle, request, .rnrRetryExceeded)
                }
                return
            }
            peer.receives.removeFirst()
            queuePairs[peerHandle] = peer
            let buffer = region(localKey: receive.localKey, domain: peer.domain, address: receive.address, length: receive.length)
            guard let buffer, buffer.access.contains(.localWrite) else {
                completeReceive(peerHandle, receive, .localProtectionError, 0)
                breakQueuePair(peerHandle)
                fail(handle, request, .remoteOperationError)
                return
            }
            guard request.length <= receive.length else {
                completeReceive(peerHandle, receive, .localLengthError, 0)
                breakQueuePair(peerHandle)
                fail(handle, request, .remoteInvalidRequest)
                return
            }
            fabricCopy(to: receive.address, from: request.address, length: request.length)
            completeReceive(peerHandle, receive, .success, request.length)
        }
        queuePairs[handle]!.sendPSN = (qp.sendPSN + 1) & verbsPacketSequenceMask
        queuePairs[peerHandle]!.expectedPSN = (peer.expectedPSN + 1) & verbsPacketSequenceMask
        finish(handle, request, .success)
    }

    private mutating func completeReceive(_ handle: UInt, _ receive: VerbsReceiveRequest, _ status: VerbsCompletionStatus, _ count: Int) {
        guard let qp = queuePairs[handle] else { return }
        complete(
            qp.receiveCQ,
            VerbsCompletion(
                workRequestID: receive.workRequestID, status: status, opcode: status.isSuccess ? .receive : .other, byteCount: count,
                queuePairNumber: qp.number),
            sendOf: nil)
    }

    /// An error completion; the queue pair goes to ERR, as on hardware.
    private mutating func fail(_ handle: UInt, _ request: VerbsSendRequest, _ status: VerbsCompletionStatus) {
        finish(handle, request, status)
        breakQueuePair(handle)
    }

    private mutating func finish(_ handle: UInt, _ request: VerbsSendRequest, _ status: VerbsCompletionStatus) {
        guard let qp = queuePairs[handle] else { return }
        if status.isSuccess && !request.signaled {
            queuePairs[handle]!.outstandingSends -= 1
            return
        }
        let opcode: VerbsCompletion.Opcode =
            switch request.operation {
            case .send: .send
            case .rdmaWrite: .rdmaWrite
            }
        complete(
            qp.sendCQ,
            VerbsCompletion(
                workRequestID: request.workRequestID, status: status, opcode: status.isSuccess ? opcode : .other, byteCount: 0,
                queuePairNumber: qp.number),
            sendOf: handle)
    }
}

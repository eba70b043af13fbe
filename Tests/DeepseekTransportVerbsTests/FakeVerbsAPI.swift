import DeepseekTransportVerbs
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// `VerbsAPI` over a `FakeVerbsFabric`, for one host.
struct FakeVerbsAPI: VerbsAPI {
    let fabric: FakeVerbsFabric
    let host: FakeVerbsFabric.Host
    typealias Fabric = FakeVerbsFabric

    func deviceNames() throws(VerbsError) -> [String] { [host.deviceName] }

    func openDevice(named name: String?) throws(VerbsError) -> VerbsDevice {
        guard name == nil || name == host.deviceName else { throw Fabric.fail(ENODEV, "no device \(name!)") }
        let handle = fabric.state.withLock { s in
            let h = s.handle()
            s.devices[h] = host.index
            return h
        }
        return VerbsDevice(handle: handle, name: host.deviceName)
    }

    func closeDevice(_ device: VerbsDevice) throws(VerbsError) {
        let problem = fabric.state.withLock { s -> Int32? in
            guard s.devices[device.handle] != nil else { return EINVAL }
            if s.domains.values.contains(where: { $0.device == device.handle }) { return EBUSY }
            s.devices[device.handle] = nil
            return nil
        }
        if let problem { throw Fabric.fail(problem, problem == EBUSY ? "device still has protection domains" : "no such device") }
    }

    func queryPort(_ device: VerbsDevice, port: UInt8) throws(VerbsError) -> VerbsPortAttributes {
        guard port == 1 else { throw Fabric.fail(EINVAL, "\(host.deviceName) has one port; asked for \(port)") }
        return VerbsPortAttributes(
            state: host.portState, activeMTU: host.mtu, lid: host.linkLayer == .infiniband ? host.lid : 0, linkLayer: host.linkLayer,
            gidTableLength: 4)
    }

    func queryGID(_ device: VerbsDevice, port: UInt8, index: Int) throws(VerbsError) -> VerbsGID {
        guard port == 1, (0..<4).contains(index) else { throw Fabric.fail(EINVAL, "GID index \(index) out of range") }
        return index == 0 ? host.gid : .zero
    }

    func allocateProtectionDomain(_ device: VerbsDevice) throws(VerbsError) -> VerbsProtectionDomain {
        let handle = fabric.state.withLock { s in
            let h = s.handle()
            s.domains[h] = (host.index, device.handle, 0)
            return h
        }
        return VerbsProtectionDomain(handle: handle)
    }

    func deallocateProtectionDomain(_ domain: VerbsProtectionDomain) throws(VerbsError) {
        let users = fabric.state.withLock { s -> Int in
            guard let d = s.domains[domain.handle] else { return -1 }
            if d.users == 0 { s.domains[domain.handle] = nil }
            return d.users
        }
        if users < 0 { throw Fabric.fail(EINVAL, "no such protection domain") }
        if users > 0 { throw Fabric.fail(EBUSY, "protection domain still has \(users) queue pairs or regions") }
    }

    func registerMemory(
        _ domain: VerbsProtectionDomain, address: UnsafeMutableRawPointer, length: Int, access: VerbsAccess
    ) throws(VerbsError) -> VerbsMemoryRegion {
        guard length > 0 else { throw Fabric.fail(EINVAL, "registering 0 bytes") }
        if access.contains(.remoteWrite) && !access.contains(.localWrite) {
            throw Fabric.fail(EINVAL, "remote write access requires local write access")
        }
        let result = fabric.state.withLock { s -> VerbsMemoryRegion? in
            guard s.domains[domain.handle] != nil else { return nil }
            let h = s.handle()
            let key = s.nextKey
            s.nextKey += 2
            let a = UInt64(UInt(bitPattern: address))
            s.regions[h] = Fabric.Region(
                host: host.index, domain: domain.handle, address: a, length: length, localKey: key, remoteKey: key + 1, access: access)
            s.domains[domain.handle]!.users += 1
            return VerbsMemoryRegion(handle: h, address: a, length: length, localKey: key, remoteKey: key + 1)
        }
        guard let result else { throw Fabric.fail(EINVAL, "no such protection domain") }
        return result
    }

    func deregisterMemory(_ region: VerbsMemoryRegion) throws(VerbsError) {
        let found = fabric.state.withLock { s -> Bool in
            guard let r = s.regions.removeValue(forKey: region.handle) else { return false }
            s.domains[r.domain]?.users -= 1
            return true
        }
        if !found { throw Fabric.fail(EINVAL, "no such memory region") }
    }

    func createCompletionQueue(_ device: VerbsDevice, depth: Int) throws(VerbsError) -> VerbsCompletionQueue {
        guard depth > 0 else { throw Fabric.fail(EINVAL, "completion queue depth \(depth)") }
        let handle = fabric.state.withLock { s in
            let h = s.handle()
            s.completionQueues[h] = Fabric.CompletionQueue(depth: depth)
            return h
        }
        return VerbsCompletionQueue(handle: handle, depth: depth)
    }

    func destroyCompletionQueue(_ queue: VerbsCompletionQueue) throws(VerbsError) {
        let users = fabric.state.withLock { s -> Int in
            guard let q = s.completionQueues[queue.handle] else { return -1 }
            if q.users == 0 { s.completionQueues[queue.handle] = nil }
            return q.users
        }
        if users < 0 { throw Fabric.fail(EINVAL, "no such completion queue") }
        if users > 0 { throw Fabric.fail(EBUSY, "completion queue still serves \(users) queue pairs") }
    }

    func createQueuePair(
        _ domain: VerbsProtectionDomain, sendCompletions: VerbsCompletionQueue, receiveCompletions: VerbsCompletionQueue,
        capabilities: VerbsQueuePairCapabilities
    ) throws(VerbsError) -> VerbsQueuePair {
        guard capabilities.maximumSendRequests > 0, capabilities.maximumReceiveRequests > 0 else {
            throw Fabric.fail(EINVAL, "queue depths must be positive")
        }
        let result = fabric.state.withLock { s -> VerbsQueuePair? in
            guard s.domains[domain.handle] != nil, s.completionQueues[sendCompletions.handle] != nil,
                s.completionQueues[receiveCompletions.handle] != nil
            else { return nil }
            let h = s.handle()
            let number = s.nextQueuePairNumber
            s.nextQueuePairNumber += 1
            s.queuePairs[h] = Fabric.QueuePair(
                host: host.index, domain: domain.handle, number: number, sendCQ: sendCompletions.handle,
                receiveCQ: receiveCompletions.handle, capabilities: capabilities)
            s.byNumber[number] = h
            s.domains[domain.handle]!.users += 1
            s.completionQueues[sendCompletions.handle]!.users += 1
            s.completionQueues[receiveCompletions.handle]!.users += 1
            return VerbsQueuePair(handle: h, number: number)
        }
        guard let result else { throw Fabric.fail(EINVAL, "unknown protection domain or completion queue") }
        return result
    }

    func destroyQueuePair(_ queuePair: VerbsQueuePair) throws(VerbsError) {
        let found = fabric.state.withLock { s -> Bool in
            guard let qp = s.queuePairs.removeValue(forKey: queuePair.handle) else { return false }
            s.byNumber[qp.number] = nil
            s.domains[qp.domain]?.users -= 1
            s.completionQueues[qp.sendCQ]?.users -= 1
            s.completionQueues[qp.receiveCQ]?.users -= 1
            return true
        }
        if !found { throw Fabric.fail(EINVAL, "no such queue pair") }
    }

    func modifyQueuePair(_ queuePair: VerbsQueuePair, _ transition: VerbsQueuePairTransition) throws(VerbsError) {
        let problem = fabric.state.withLock { s -> String? in
            guard var qp = s.queuePairs[queuePair.handle] else { return "no such queue pair" }
            guard qp.state.canMove(to: transition.target) else { return "QP \(qp.number) cannot move from \(qp.state) to \(transition.target)" }
            switch transition {
            case .initialize(let port, let access):
                guard port == 1 else { return "port \(port) does not exist" }
                qp.access = access
            case .readyToReceive(let a):
                guard a.receivePacketSequence <= verbsPacketSequenceMask, a.remoteQueuePair <= verbsPacketSequenceMask else {
                    return "PSN or QP number wider than 24 bits"
                }
                guard a.pathMTU <= host.mtu else { return "path MTU \(a.pathMTU.byteCount) exceeds the port's \(host.mtu.byteCount)" }
                if host.linkLayer == .ethernet && !a.useGlobalRoute { return "RoCE needs a global route header" }
                qp.remoteNumber = a.remoteQueuePair
                qp.expectedPSN = a.receivePacketSequence
                if s.skewNextReceivePSN.remove(host.index) != nil { qp.expectedPSN = (qp.expectedPSN + 1) & verbsPacketSequenceMask }
            case .readyToSend(let a):
                guard a.sendPacketSequence <= verbsPacketSequenceMask else { return "PSN wider than 24 bits" }
                qp.sendPSN = a.sendPacketSequence
                qp.rnrRetry = a.rnrRetry
            case .error, .reset:
                break
            }
            qp.state = transition.target
            s.queuePairs[queuePair.handle] = qp
            if transition.target == .error { s.breakQueuePair(queuePair.handle) }
            if transition.target == .reset {
                s.queuePairs[queuePair.handle]!.receives.removeAll()
                s.queuePairs[queuePair.handle]!.waitingSends.removeAll()
            }
            return nil
        }
        if let problem { throw Fabric.fail(EINVAL, problem) }
    }

    func pollCompletions(
        _ queue: VerbsCompletionQueue, maximum: Int, into completions: inout [VerbsCompletion]
    ) throws(VerbsError) -> Int {
        let taken = fabric.state.withLock { s -> [VerbsCompletion]? in
            guard var q = s.completionQueues[queue.handle], !q.overrun else { return nil }
            let n = min(maximum, q.entries.count)
            let head = q.entries.prefix(n)
            q.entries.removeFirst(n)
            s.completionQueues[queue.handle] = q
            // A send's queue slot is free once its completion has been polled.
            for entry in head { if let qp = entry.sendOf { s.queuePairs[qp]?.outstandingSends -= 1 } }
            return head.map(\.completion)
        }
        guard let taken else { throw Fabric.fail(EIO, "completion queue overrun (more completions than its depth)") }
        completions.append(contentsOf: taken)
        return taken.count
    }
}

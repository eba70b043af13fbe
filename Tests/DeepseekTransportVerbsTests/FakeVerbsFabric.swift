import DeepseekTransportVerbs
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An in-memory RDMA fabric that keeps the rules a NIC enforces, so the transport's verbs code
/// runs without hardware.
///
/// Hosts share one address space, so an RDMA write is a copy between registered regions and a
/// SEND is a copy into the receive buffer at the head of the peer's receive queue. What a real
/// NIC checks, this checks, and it fails the same way (a thrown errno for a refused call, an
/// error completion for refused work, the queue pair moving to ERR):
///
/// - queue-pair states: RESET → INIT → RTR → RTS in that order; sends only in RTS; receives not in RESET;
/// - packet sequence numbers: a sender whose PSN is not the one the peer's RTR expects gets
///   `retryExceeded` (the responder drops the packets), as does a sender whose peer is gone;
/// - receive-not-ready: a SEND that finds no posted receive fails with `rnrRetryExceeded`
///   unless `rnrRetry` is 7 (infinite), when it waits for the next receive;
/// - memory: every gather and scatter element must lie in a region registered under that key in
///   the queue pair's protection domain (`localProtectionError`), RDMA writes need the peer's
///   `remoteKey`, remote-write access and the range (`remoteAccessError`);
/// - capacity: more outstanding work than the queue depth is refused (ENOMEM), and a completion
///   queue that overflows is broken from then on.
///
/// Simplifications, stated: delivery is immediate (in the poster's thread), a PSN advances per
/// message rather than per MTU-sized packet, and finite RNR retries fail at once instead of after
/// the RNR timer.
final class FakeVerbsFabric: Sendable {
    /// One simulated host with one single-port device.
    struct Host: Sendable, Hashable {
        var index: Int
        var deviceName: String { "fake_mlx\(index)" }
        var linkLayer: VerbsLinkLayer = .infiniband
        var portState: Int32 = 4
        var mtu: VerbsMTU = .bytes4096
        var lid: UInt16 { UInt16(index + 1) }
        var gid: VerbsGID { VerbsGID(bytes: [0xfe, 0x80] + [UInt8](repeating: 0, count: 13) + [UInt8(index + 1)]) }
    }

    struct Region {
        var host: Int
        var domain: UInt
        var address: UInt64
        var length: Int
        var localKey: UInt32
        var remoteKey: UInt32
        var access: VerbsAccess
        func contains(_ address: UInt64, _ length: Int) -> Bool {
            address >= self.address && address + UInt64(length) <= self.address + UInt64(self.length)
        }
    }

    struct CompletionQueue {
        var depth: Int
        var entries: [(completion: VerbsCompletion, sendOf: UInt?)] = []
        var overrun = false
        var users = 0
    }

    struct QueuePair {
        var host: Int
        var domain: UInt
        var number: UInt32
        var sendCQ: UInt
        var receiveCQ: UInt
        var capabilities: VerbsQueuePairCapabilities
        var state: VerbsQueuePairState = .reset
        var access: VerbsAccess = []
        var remoteNumber: UInt32 = 0
        var expectedPSN: UInt32 = 0
        var sendPSN: UInt32 = 0
        var rnrRetry: UInt8 = 0
        var receives: [VerbsReceiveRequest] = []
        var outstandingSends = 0
        /// SENDs from a peer waiting for a receive (infinite RNR retry).
        var waitingSends: [(from: UInt, request: VerbsSendRequest)] = []
    }

    struct State {
        var nextHandle: UInt = 1
        var nextQueuePairNumber: UInt32 = 0x11
        var nextKey: UInt32 = 0x1000
        var devices: [UInt: Int] = [:]
        var domains: [UInt: (host: Int, device: UInt, users: Int)] = [:]
        var regions: [UInt: Region] = [:]
        var completionQueues: [UInt: CompletionQueue] = [:]
        var queuePairs: [UInt: QueuePair] = [:]
        var byNumber: [UInt32: UInt] = [:]
        /// Hosts whose next RTR is given a wrong receive PSN (a misconfigured peer).
        var skewNextReceivePSN: Set<Int> = []
        var receiverNotReadyNAKs = 0
        var sequenceErrors = 0
    }

    let state = Mutex(State())

    init() {}

    /// The verbs layer as seen from `host`.
    func api(_ host: Host) -> FakeVerbsAPI { FakeVerbsAPI(fabric: self, host: host) }

    /// Makes the next INIT → RTR on `host` expect a PSN one past the one it is given.
    func skewNextReceivePSN(onHost index: Int) { state.withLock { _ = $0.skewNextReceivePSN.insert(index) } }

    /// SENDs that found no receive posted.
    var receiverNotReadyNAKs: Int { state.withLock { $0.receiverNotReadyNAKs } }
    /// Packets dropped for a PSN the responder did not expect.
    var sequenceErrors: Int { state.withLock { $0.sequenceErrors } }
    /// Resources still allocated (0 after every transport has shut down).
    var liveResources: (queuePairs: Int, regions: Int, completionQueues: Int, domains: Int, devices: Int) {
        state.withLock { ($0.queuePairs.count, $0.regions.count, $0.completionQueues.count, $0.domains.count, $0.devices.count) }
    }

    /// Destroys every queue pair of `host`, as a crash would.
    func crash(host index: Int) {
        state.withLock { s in
            for (handle, qp) in s.queuePairs where qp.host == index {
                s.byNumber[qp.number] = nil
                s.queuePairs[handle] = nil
                s.domains[qp.domain]?.users -= 1
                s.completionQueues[qp.sendCQ]?.users -= 1
                s.completionQueues[qp.receiveCQ]?.users -= 1
            }
        }
    }

    static func fail(_ errno: Int32, _ message: String) -> VerbsError {
        VerbsError(.callFailed, "\(message) (errno \(errno))", errno: errno)
    }
}

extension FakeVerbsFabric.State {
    mutating func handle() -> UInt {
        defer { nextHandle += 1 }
        return nextHandle
    }

    /// Queues a completion; a full queue is overrun, as on hardware, and stays broken.
    mutating func complete(_ cq: UInt, _ completion: VerbsCompletion, sendOf qp: UInt?) {
        guard var queue = completionQueues[cq] else { return }
        if queue.entries.count >= queue.depth {
            queue.overrun = true
        } else {
            queue.entries.append((completion, qp))
        }
        completionQueues[cq] = queue
    }

    /// Moves a queue pair to ERR: every posted receive completes as flushed.
    mutating func breakQueuePair(_ handle: UInt) {
        guard var qp = queuePairs[handle] else { return }
        qp.state = .error
        for r in qp.receives {
            complete(
                qp.receiveCQ,
                VerbsCompletion(workRequestID: r.workRequestID, status: .workRequestFlushed, opcode: .other, byteCount: 0, queuePairNumber: qp.number),
                sendOf: nil)
        }
        qp.receives.removeAll()
        queuePairs[handle] = qp
    }

    /// The region registered under `localKey` in `domain` that holds the whole range, if any.
    func region(localKey: UInt32, domain: UInt, address: UInt64, length: Int) -> FakeVerbsFabric.Region? {
        regions.values.first { $0.localKey == localKey && $0.domain == domain && $0.contains(address, length) }
    }
}

/// Copies `length` bytes; 8-byte-aligned words are stored whole, as a NIC's DMA writes them, so
/// a reader polling a mailbox word never sees half of one.
func fabricCopy(to destination: UInt64, from source: UInt64, length: Int) {
    guard length > 0, let d = UnsafeMutableRawPointer(bitPattern: UInt(destination)),
        let s = UnsafeRawPointer(bitPattern: UInt(source))
    else { return }
    if destination % 8 == 0 && source % 8 == 0 && length % 8 == 0 {
        for offset in stride(from: 0, to: length, by: 8) {
            d.storeBytes(of: s.load(fromByteOffset: offset, as: UInt64.self), toByteOffset: offset, as: UInt64.self)
        }
    } else {
        d.copyMemory(from: s, byteCount: length)
    }
}

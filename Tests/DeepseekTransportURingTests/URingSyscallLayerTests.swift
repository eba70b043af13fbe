import DeepseekActors
import DeepseekCore
import DeepseekTestSupport
import DeepseekTransportURing
import Synchronization
import Testing

/// Passes every call to the real layer and records which operations were queued, so tests can
/// see the shape of what reaches the kernel; can also hide zero-copy support.
final class RecordingSyscalls: URingSyscalls, @unchecked Sendable {
    enum Kind: Hashable { case accept, connect, readFixed, recv, recvAll, read, send, sendZeroCopy, shutdown, close, cancel, sendNow }
    private let real = LiburingSyscalls()
    private let counts = Mutex<[Kind: Int]>([:])
    let supportsZeroCopySend: Bool

    init(allowZeroCopy: Bool) { supportsZeroCopySend = allowZeroCopy && real.supportsZeroCopySend }

    func count(_ kind: Kind) -> Int { counts.withLock { $0[kind, default: 0] } }

    func setUp(entries: Int) -> Int32 { real.setUp(entries: entries) }
    func registerBuffers(_ buffers: [UnsafeMutableRawBufferPointer]) -> Int32 { real.registerBuffers(buffers) }
    func prepare(_ operation: URingOperation, userData: UInt64) -> Int32 {
        let kind: Kind =
            switch operation {
            case .accept: .accept
            case .connect: .connect
            case .readFixed: .readFixed
            case .recv(_, _, _, let waitAll): waitAll ? .recvAll : .recv
            case .read: .read
            case .send: .send
            case .sendZeroCopy: .sendZeroCopy
            case .shutdown: .shutdown
            case .close: .close
            case .cancel: .cancel
            }
        counts.withLock { $0[kind, default: 0] += 1 }
        return real.prepare(operation, userData: userData)
    }
    func submitAndWait(timeoutNanoseconds: Int64?) -> Int32 { real.submitAndWait(timeoutNanoseconds: timeoutNanoseconds) }
    func reap(into completions: inout [URingCompletion]) { real.reap(into: &completions) }
    func tearDown() { real.tearDown() }
    func listen(on address: SocketAddress, backlog: Int32) -> (fd: Int32, port: UInt16) { real.listen(on: address, backlog: backlog) }
    func makeSocket(family: Int32) -> Int32 { real.makeSocket(family: family) }
    func setNoDelay(_ fd: Int32) -> Int32 { real.setNoDelay(fd) }
    func closeNow(_ fd: Int32) { real.closeNow(fd) }
    func sendNow(fd: Int32, header: UnsafeRawBufferPointer, body: UnsafeRawBufferPointer) -> Int {
        counts.withLock { $0[.sendNow, default: 0] += 1 }
        return real.sendNow(fd: fd, header: header, body: body)
    }
}

@Suite(.enabled(if: uringAvailable, "io_uring is not available in this process"))
struct URingSyscallLayerTests {
    /// Node 0 over a recording layer, node 1 over the real one.
    func recordedPair(
        allowZeroCopy: Bool, directWrites: Bool = true
    ) async throws -> (URingTransport, URingTransport, RecordingSyscalls, RecordingReceiver) {
        var s0 = URingFixture.settings(0, .tcp)
        s0.sendQueueCapacity = 4096
        s0.directWrites = directWrites
        s0.zeroCopyOnLoopback = true  // these tests look at the zero-copy path itself
        let recorder = RecordingSyscalls(allowZeroCopy: allowZeroCopy)
        let t0 = try URingTransport(settings: s0, syscalls: recorder)
        let t1 = try URingTransport(settings: URingFixture.settings(1, .tcp))
        try t0.setAddress(t1.boundAddress, for: NodeID(1))
        try t1.setAddress(t0.boundAddress, for: NodeID(0))
        let r1 = RecordingReceiver()
        try await t0.start(receiver: RecordingReceiver())
        try await t1.start(receiver: r1)
        return (t0, t1, recorder, r1)
    }

    @Test func smallMessagesAreCoalescedIntoFewSends() async throws {
        let (t0, t1, recorder, r1) = try await recordedPair(allowZeroCopy: true, directWrites: false)
        for i in 0..<1000 { try await t0.send(marker(i), to: NodeID(1)) }
        try await eventually("1000 messages") { r1.snapshot.messages.count == 1000 }
        #expect(r1.snapshot.messages.compactMap { markerIndex($0.0) } == Array(0..<1000))
        #expect(recorder.count(.send) < 500, "\(recorder.count(.send)) sends for 1000 frames")
        try await eventually("the sends to be counted") { t0.counters.framesSent == 1000 }
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test(arguments: [true, false])
    func largeMessagesUseZeroCopyOnlyWhereAllowed(_ allowZeroCopy: Bool) async throws {
        let (t0, t1, recorder, r1) = try await recordedPair(allowZeroCopy: allowZeroCopy)
        let blob = [UInt8](repeating: 7, count: 1 << 20)
        let call = CallEnvelope(
            callID: 1, origin: NodeID(0), recipient: ActorAddress(node: NodeID(1), path: "x", incarnation: 1), target: "t",
            arguments: [.encoded(blob)])
        try await t0.send(.call(call), to: NodeID(1))
        try await eventually("the large message") { r1.snapshot.messages.count == 1 }
        let zeroCopyExpected = allowZeroCopy && URingTransport.probe().supportsZeroCopySend
        #expect((recorder.count(.sendZeroCopy) > 0) == zeroCopyExpected)
        #expect((t0.counters.zeroCopySends > 0) == zeroCopyExpected)
        if zeroCopyExpected { try await eventually("the buffer's release") { t0.counters.zeroCopyNotifications > 0 } }
        #expect(t1.counters.fixedBufferReads > 0 || !URingTransport.probe().supportsFixedBufferReads)
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func aLoneSmallMessageIsWrittenByTheSenderWithoutTheRing() async throws {
        let (t0, t1, recorder, r1) = try await recordedPair(allowZeroCopy: true)
        try await t0.send(marker(0), to: NodeID(1))  // connects; the ring sends this one
        try await eventually("the first message") { r1.snapshot.messages.count == 1 }
        try await eventually("the connection to go idle") { t0.counters.framesSent == 1 }
        let sendsBefore = recorder.count(.send)
        for i in 1...20 {
            try await t0.send(marker(i), to: NodeID(1))
            try await eventually("message \(i)") { r1.snapshot.messages.count == i + 1 }
        }
        #expect(r1.snapshot.messages.compactMap { markerIndex($0.0) } == Array(0...20))
        #expect(recorder.count(.sendNow) >= 15, "\(recorder.count(.sendNow)) direct writes for 20 lone messages")
        #expect(recorder.count(.send) - sendsBefore <= 5)
        #expect(t0.counters.directWrites == recorder.count(.sendNow))
        #expect(t0.counters.framesSent == 21)
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func bulkSegmentsAreSentFromTheirMemoryAndReceivedWithWaitAll() async throws {
        let (t0, t1, recorder, r1) = try await recordedPair(allowZeroCopy: false)
        let bulk = BulkBlob(count: 3 << 20, seed: 5)
        let call = CallEnvelope(
            callID: 1, origin: NodeID(0), recipient: ActorAddress(node: NodeID(1), path: "x", incarnation: 1), target: "t",
            arguments: [.value(bulk), .value(Int64(7))])
        try await t0.send(.call(call), to: NodeID(1))
        try await eventually("the segmented message") { r1.snapshot.messages.count == 1 }
        guard case .call(let received) = r1.snapshot.messages[0].0 else {
            Issue.record("expected a call")
            return
        }
        guard case .wire(let wire) = received.arguments[0] else {
            Issue.record("the bulk argument did not arrive out of band: \(received.arguments[0])")
            return
        }
        #expect(wire.segments.count == 1 && wire.segments[0].bytes.count == 3 << 20)
        #expect(Int(bitPattern: wire.segments[0].bytes.baseAddress) % 4096 == 0)
        #expect(try received.arguments[0].decode(as: BulkBlob.self) == bulk)
        #expect(try received.arguments[1].decode(as: Int64.self) == 7)
        #expect(t1.counters.segmentReads >= 1)
        #expect(recorder.count(.sendZeroCopy) == 0)
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func loopbackPeersGetPlainSendsByDefault() async throws {
        let s0 = URingFixture.settings(0, .tcp)
        let recorder = RecordingSyscalls(allowZeroCopy: true)
        let t0 = try URingTransport(settings: s0, syscalls: recorder)
        let t1 = try URingTransport(settings: URingFixture.settings(1, .tcp))
        try t0.setAddress(t1.boundAddress, for: NodeID(1))
        let r1 = RecordingReceiver()
        try await t0.start(receiver: RecordingReceiver())
        try await t1.start(receiver: r1)
        let call = CallEnvelope(
            callID: 1, origin: NodeID(0), recipient: ActorAddress(node: NodeID(1), path: "x", incarnation: 1), target: "t",
            arguments: [.value(BulkBlob(count: 1 << 20, seed: 1))])
        try await t0.send(.call(call), to: NodeID(1))
        try await eventually("the message") { r1.snapshot.messages.count == 1 }
        #expect(recorder.count(.sendZeroCopy) == 0)
        #expect(t0.counters.plainSends > 0)
        await t0.shutdown()
        await t1.shutdown()
    }

    @Test func theProbeNamesTheOperationsItFound() {
        let probe = URingTransport.probe()
        #expect(probe.isAvailable)
        #expect(URingProbe.required.allSatisfy { probe.supportedOperations.contains($0) })
        #expect(!probe.kernelRelease.isEmpty)
    }
}

/// Bytes written with `writeBulk`, so they can travel out of band.
final class BulkStorage: Sendable {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

struct BulkBlob: WireCodable, Equatable {
    let storage: BulkStorage

    init(count: Int, seed: UInt8) {
        storage = BulkStorage((0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31) &+ seed })
    }

    init(bytes: [UInt8]) { storage = BulkStorage(bytes) }

    static func == (a: BulkBlob, b: BulkBlob) -> Bool { a.storage.bytes == b.storage.bytes }

    func encode(to writer: inout WireWriter) {
        storage.bytes.withUnsafeBytes { writer.writeBulk($0, owner: storage) }
    }

    static func decode(from reader: inout WireReader) throws -> BulkBlob {
        let bulk = try reader.readBulk()
        return BulkBlob(bytes: bulk.withUnsafeBytes { Array($0) })
    }
}

import DeepseekActors
import DeepseekTransportURing
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Whether the io_uring integration tests can run in this process.
let uringAvailable = URingTransport.probe().isAvailable

/// Collects a transport's log lines so tests can check the reasons it gives.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    var sink: @Sendable (URingLogLevel, String) -> Void {
        { level, line in self.lines.withLock { $0.append("\(level): \(line)") } }
    }

    var all: [String] { lines.withLock { $0 } }

    func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }
}

/// Which kind of socket a test runs over.
enum Endpoint: String, Sendable, CustomStringConvertible {
    case tcp, unix
    var description: String { rawValue }
}

enum URingFixture {
    static let secret = Array("loopback cluster secret".utf8)
    private static let counter = Atomic<Int>(0)
    /// Unix sockets live in the temporary directory under names unique to this process; each
    /// transport removes its socket file when it shuts down.
    static let socketPrefix = "/tmp/deepseek-uring-\(getpid())"

    static func listenAddress(_ endpoint: Endpoint) -> URingAddress {
        switch endpoint {
        case .tcp: .tcp(host: "127.0.0.1", port: 0)
        case .unix: .unix(path: "\(socketPrefix)-\(counter.add(1, ordering: .relaxed).newValue).sock")
        }
    }

    /// Settings with short timeouts suited to tests.
    static func settings(
        _ node: Int, _ endpoint: Endpoint, log: LogCapture? = nil, secret: [UInt8] = secret
    ) -> URingTransportSettings {
        var s = URingTransportSettings(localNode: NodeID(node), listenAddress: listenAddress(endpoint), clusterSecret: secret)
        s.reconnectBackoffBase = .milliseconds(10)
        s.reconnectBackoffMaximum = .milliseconds(100)
        s.reconnectAttempts = 4
        s.handshakeTimeout = .seconds(3)
        s.shutdownGracePeriod = .milliseconds(500)
        if let log { s.log = log.sink }
        return s
    }

    /// Two transports that know each other's bound addresses (not started).
    static func pair(
        _ endpoint: Endpoint, _ configure: (inout URingTransportSettings) -> Void = { _ in }
    ) throws -> (URingTransport, URingTransport) {
        var s0 = settings(0, endpoint)
        var s1 = settings(1, endpoint)
        configure(&s0)
        configure(&s1)
        s1.localNode = NodeID(1)
        let t0 = try URingTransport(settings: s0)
        let t1 = try URingTransport(settings: s1)
        try t0.setAddress(t1.boundAddress, for: NodeID(1))
        try t1.setAddress(t0.boundAddress, for: NodeID(0))
        return (t0, t1)
    }

    static func port(of transport: URingTransport) -> UInt16 {
        if case .tcp(_, let port)? = transport.boundAddress { return port }
        return 0
    }
}

/// Waits, with a bound, until `condition` holds; records an issue and returns false on time-out.
@discardableResult
func eventually(
    _ what: String, within limit: Duration = .seconds(10), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () -> Bool
) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + limit
    while !condition() {
        guard clock.now < deadline else {
            Issue.record("timed out waiting for \(what)", sourceLocation: sourceLocation)
            return false
        }
        try await Task.sleep(for: .milliseconds(2))
    }
    return true
}

/// A plain blocking TCP client, to put arbitrary bytes on a transport's listener.
final class RawSocket {
    let fd: Int32

    init(port: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(fd >= 0 && rc == 0, "raw connect to 127.0.0.1:\(port) failed")
    }

    deinit { Glibc.close(fd) }

    func write(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Half-closes the sending side, as a peer that stops mid-frame would.
    func finishWriting() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Waits (bounded, without blocking a thread) until the other side closes the connection.
    func closedByPeer(within limit: Duration = .seconds(5)) async throws -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        var scratch = [UInt8](repeating: 0, count: 4096)
        while clock.now < deadline {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&p, 1, 0) > 0 {
                let n = scratch.withUnsafeMutableBytes { Glibc.recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) { return true }
            } else {
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        return false
    }
}

/// A message whose receipt a test can recognise; `padding` adds an argument of that many bytes.
func marker(_ i: Int, padding: Int = 0) -> TransportMessage {
    let recipient = ActorAddress(node: NodeID(1), path: "t", incarnation: 1)
    guard padding > 0 else { return .system(.registered(key: "m\(i)", actor: recipient)) }
    return .call(
        CallEnvelope(
            callID: UInt64(i), origin: NodeID(0), recipient: recipient, target: "pad",
            arguments: [.encoded([UInt8](repeating: UInt8(truncatingIfNeeded: i), count: padding))]))
}

/// The index carried by a `marker` message.
func markerIndex(_ message: TransportMessage) -> Int? {
    switch message {
    case .system(.registered(let key, _)): Int(key.dropFirst())
    case .call(let call): Int(call.callID)
    default: nil
    }
}

import ArgumentParser
import DeepseekActors
import DeepseekTransportURing
import Foundation

/// Address helpers for `deepseek node`.
enum NodeNetworking {
    /// Splits `host:port` (IPv6 hosts in brackets).
    static func split(_ text: String) throws -> (String, Int) {
        var host = Substring(text)
        guard let colon = host.lastIndex(of: ":"), let port = Int(host[host.index(after: colon)...]), port > 0, port < 65_536
        else {
            throw ValidationError("'\(text)' is not host:port")
        }
        host = host[..<colon]
        if host.hasPrefix("[") && host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw ValidationError("'\(text)' has no host") }
        return (String(host), port)
    }

    static func parse(_ text: String) throws -> URingAddress {
        let (host, port) = try split(text)
        return .tcp(host: host, port: UInt16(port))
    }

    /// The local address the kernel would use to reach `host` (no packet is sent: a UDP socket
    /// is only connected, which selects the route).
    static func sourceAddress(towards host: String, port: Int) throws -> String {
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var result: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &result) == 0, let info = result else {
            throw ValidationError("cannot resolve the coordinator host '\(host)'")
        }
        defer { freeaddrinfo(result) }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw ValidationError("cannot open a socket to find the local address") }
        defer { close(fd) }
        guard connect(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            throw ValidationError("no route to the coordinator host '\(host)'")
        }
        var local = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        var buffer = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        var address = local.sin_addr
        inet_ntop(AF_INET, &address, &buffer, socklen_t(buffer.count))
        let bytes = buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Retries `body` while the failure looks transient (the coordinator is not up yet).
    static func retrying<T>(
        for seconds: Double, say: (String) -> Void, _ body: () async throws -> T
    ) async throws -> T {
        let clock = ContinuousClock()
        let deadline = clock.now + .milliseconds(Int(seconds * 1000))
        var delay = Duration.milliseconds(100)
        var attempt = 0
        while true {
            do {
                return try await body()
            } catch let error as ActorSystemError where (error.code == .nodeUnreachable || error.code == .deadActor) && clock.now < deadline {
                // deadActor: the coordinator's process is up but has not created its rendezvous
                // actor yet (it listens from the moment its actor system starts).
                attempt += 1
                if attempt == 1 || attempt % 10 == 0 { say("waiting for the coordinator: \(error.message)") }
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(1))
            }
        }
    }
}

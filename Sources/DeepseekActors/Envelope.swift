public import DeepseekCore

/// An argument or result in a message: the value itself while it stays in the process, its
/// encoded bytes once it has crossed (or is about to cross) a process boundary.
public enum Payload: Sendable {
    /// The value, passed without serialization by in-process transports.
    case value(any WireCodable)
    /// The value's wire encoding.
    case encoded([UInt8])
    /// The value's wire encoding with bulk data that travelled beside it (a tensor's bytes
    /// received into their own buffer by a transport that sends bulk data out of band).
    case wire(WireBytes)

    /// The wire encoding, encoding the value if needed (bulk segments copied in).
    public var bytes: [UInt8] {
        switch self {
        case .value(let v): v.wireBytes
        case .encoded(let b): b
        case .wire(let w): w.flattened()
        }
    }

    /// Writes the payload as a length-prefixed byte string; a writer with an out-of-band
    /// threshold keeps the value's bulk data beside the message.
    public func write(to w: inout WireWriter) {
        switch self {
        case .value(let v): w.writeNested { v.encode(to: &$0) }
        case .encoded(let b):
            w.reserveCapacity(additional: b.count + 10)  // one copy, no regrowth for large payloads
            w.write(bytes: b)
        case .wire(let bytes): w.write(nested: bytes)
        }
    }

    /// The payload as `T`: a cast for in-process values, a decode for bytes.
    public func decode<T: WireCodable>(as type: T.Type) throws -> T {
        switch self {
        case .value(let v):
            guard let t = v as? T else {
                throw ActorSystemError(.serialization, "expected an argument of type \(T.self), got \(Swift.type(of: v))")
            }
            return t
        case .encoded(let bytes):
            do {
                return try T(wireBytes: bytes)
            } catch {
                throw ActorSystemError(.serialization, "could not decode \(T.self) from \(bytes.count) bytes", cause: error)
            }
        case .wire(let wire):
            do {
                return try T(wire: wire)
            } catch {
                throw ActorSystemError(.serialization, "could not decode \(T.self) from \(wire.byteCount) bytes", cause: error)
            }
        }
    }
}

/// A request to run a distributed function on an actor.
public struct CallEnvelope: Sendable {
    /// Unique among the calls in flight from the calling node.
    public var callID: UInt64
    /// The node that expects the reply.
    public var origin: NodeID
    public var recipient: ActorAddress
    /// The distributed function's target identifier (`RemoteCallTarget.identifier`).
    public var target: String
    /// Registered type names of the generic substitutions of the target.
    public var genericSubstitutions: [String]
    public var arguments: [Payload]
    /// Links send, receive and handler events in traces.
    public var flowID: UInt64

    public init(
        callID: UInt64, origin: NodeID, recipient: ActorAddress, target: String, genericSubstitutions: [String] = [],
        arguments: [Payload], flowID: UInt64 = 0
    ) {
        self.callID = callID
        self.origin = origin
        self.recipient = recipient
        self.target = target
        self.genericSubstitutions = genericSubstitutions
        self.arguments = arguments
        self.flowID = flowID
    }
}

/// The outcome of a call, sent back to its origin.
public struct ReplyEnvelope: Sendable {
    /// How a call ended.
    public enum Outcome: Sendable {
        case value(Payload)
        case void
        /// The handler threw (or the call could not run). `errorType` names a registered
        /// `WireCodable` error type whose encoding is `payload`, when the error was one.
        case failure(code: String, message: String, errorType: String?, payload: [UInt8]?)
    }

    public var callID: UInt64
    public var outcome: Outcome
    public var flowID: UInt64

    public init(callID: UInt64, outcome: Outcome, flowID: UInt64 = 0) {
        self.callID = callID
        self.outcome = outcome
        self.flowID = flowID
    }
}

/// Messages the actor systems of a cluster exchange about themselves.
public enum SystemMessage: Sendable, Equatable {
    /// `watcher` wants to hear when `target` (on the receiving node) terminates.
    case watch(target: ActorAddress, watcher: NodeID)
    case unwatch(target: ActorAddress, watcher: NodeID)
    /// `actor` has stopped.
    case terminated(actor: ActorAddress)
    /// `actor` was registered under `key` with the sender's receptionist.
    case registered(key: String, actor: ActorAddress)
    /// `actor` is no longer listed under any key.
    case deregistered(actor: ActorAddress)
    /// The sender is leaving the cluster on purpose.
    case leaving
    /// A failure-detector probe, answered with `pong` carrying the same number.
    case ping(UInt64)
    case pong(UInt64)
}

/// Everything a transport carries between actor systems.
public enum TransportMessage: Sendable {
    case call(CallEnvelope)
    case reply(ReplyEnvelope)
    case system(SystemMessage)
}

public import DeepseekCore

// The wire encoding of transport messages: one tag byte, then the fields in order. Payloads are
// length-prefixed byte strings (whose bulk data may travel beside the message, see `WireBytes`);
// limits keep a corrupt length from requesting huge allocations.

extension TransportMessage: WireCodable {
    private static let callTag: UInt8 = 1
    private static let replyTag: UInt8 = 2
    private static let systemTag: UInt8 = 3

    /// The most arguments, generic substitutions or name bytes a message may carry.
    static let maximumArguments = 64
    static let maximumNameBytes = 4096

    public func encode(to w: inout WireWriter) {
        switch self {
        case .call(let c):
            w.write(Self.callTag)
            w.writeVarint(c.callID)
            c.origin.encode(to: &w)
            c.recipient.encode(to: &w)
            w.write(c.target)
            w.writeVarint(UInt64(c.genericSubstitutions.count))
            for g in c.genericSubstitutions { w.write(g) }
            w.writeVarint(UInt64(c.arguments.count))
            for a in c.arguments { a.write(to: &w) }
            w.writeVarint(c.flowID)
        case .reply(let r):
            w.write(Self.replyTag)
            w.writeVarint(r.callID)
            w.writeVarint(r.flowID)
            switch r.outcome {
            case .value(let p):
                w.write(UInt8(0))
                p.write(to: &w)
            case .void:
                w.write(UInt8(1))
            case .failure(let code, let message, let errorType, let payload):
                w.write(UInt8(2))
                w.write(code)
                w.write(message)
                w.write(errorType ?? "")
                w.write(bytes: payload ?? [])
            }
        case .system(let s):
            w.write(Self.systemTag)
            switch s {
            case .watch(let target, let watcher):
                w.write(UInt8(0))
                target.encode(to: &w)
                watcher.encode(to: &w)
            case .unwatch(let target, let watcher):
                w.write(UInt8(1))
                target.encode(to: &w)
                watcher.encode(to: &w)
            case .terminated(let actor):
                w.write(UInt8(2))
                actor.encode(to: &w)
            case .registered(let key, let actor):
                w.write(UInt8(3))
                w.write(key)
                actor.encode(to: &w)
            case .deregistered(let actor):
                w.write(UInt8(4))
                actor.encode(to: &w)
            case .leaving:
                w.write(UInt8(5))
            case .ping(let n):
                w.write(UInt8(6))
                w.writeVarint(n)
            case .pong(let n):
                w.write(UInt8(7))
                w.writeVarint(n)
            }
        }
    }

    private static func name(_ r: inout WireReader, _ what: String) throws -> String {
        let start = r.offset
        let s = try r.readString()
        guard s.utf8.count <= maximumNameBytes else {
            throw WireError(.malformed, "\(what) of \(s.utf8.count) bytes exceeds \(maximumNameBytes)", offset: start)
        }
        return s
    }

    private static func count(_ r: inout WireReader, _ what: String) throws -> Int {
        let start = r.offset
        let n = try r.readVarint()
        guard n <= UInt64(maximumArguments) else {
            throw WireError(.malformed, "\(n) \(what) exceed the limit of \(maximumArguments)", offset: start)
        }
        return Int(n)
    }

    /// An argument or result: plain bytes, or bytes with the bulk segments that belong to them.
    private static func payload(_ r: inout WireReader) throws -> Payload {
        r.segments.isEmpty ? .encoded(try r.readBytes()) : .wire(try r.readNested("payload"))
    }

    public static func decode(from r: inout WireReader) throws -> TransportMessage {
        let start = r.offset
        switch try r.read(UInt8.self) {
        case callTag:
            let callID = try r.readVarint()
            let origin = try NodeID.decode(from: &r)
            let recipient = try ActorAddress.decode(from: &r)
            let target = try name(&r, "target name")
            let generics = try (0..<count(&r, "generic substitutions")).map { _ in try name(&r, "type name") }
            let arguments = try (0..<count(&r, "arguments")).map { _ in try payload(&r) }
            let flowID = try r.readVarint()
            return .call(
                CallEnvelope(
                    callID: callID, origin: origin, recipient: recipient, target: target, genericSubstitutions: generics,
                    arguments: arguments, flowID: flowID))
        case replyTag:
            let callID = try r.readVarint()
            let flowID = try r.readVarint()
            let kindOffset = r.offset
            let outcome: ReplyEnvelope.Outcome
            switch try r.read(UInt8.self) {
            case 0: outcome = .value(try payload(&r))
            case 1: outcome = .void
            case 2:
                let code = try name(&r, "error code")
                let message = try r.readString()
                let type = try name(&r, "error type")
                let payload = try r.readBytes()
                outcome = .failure(code: code, message: message, errorType: type.isEmpty ? nil : type, payload: payload.isEmpty ? nil : payload)
            case let k: throw WireError(.malformed, "unknown reply kind \(k)", offset: kindOffset)
            }
            return .reply(ReplyEnvelope(callID: callID, outcome: outcome, flowID: flowID))
        case systemTag:
            let kindOffset = r.offset
            switch try r.read(UInt8.self) {
            case 0: return .system(.watch(target: try ActorAddress.decode(from: &r), watcher: try NodeID.decode(from: &r)))
            case 1: return .system(.unwatch(target: try ActorAddress.decode(from: &r), watcher: try NodeID.decode(from: &r)))
            case 2: return .system(.terminated(actor: try ActorAddress.decode(from: &r)))
            case 3: return .system(.registered(key: try name(&r, "receptionist key"), actor: try ActorAddress.decode(from: &r)))
            case 4: return .system(.deregistered(actor: try ActorAddress.decode(from: &r)))
            case 5: return .system(.leaving)
            case 6: return .system(.ping(try r.readVarint()))
            case 7: return .system(.pong(try r.readVarint()))
            case let k: throw WireError(.malformed, "unknown system message kind \(k)", offset: kindOffset)
            }
        case let tag:
            throw WireError(.malformed, "unknown message tag \(tag)", offset: start)
        }
    }
}

public import DeepseekCore
public import Distributed

/// Records a distributed call's arguments as payloads (values until a transport needs bytes).
public struct DeepseekInvocationEncoder: DistributedTargetInvocationEncoder {
    public typealias SerializationRequirement = any WireCodable

    var genericSubstitutions: [String] = []
    var arguments: [Payload] = []

    public mutating func recordGenericSubstitution<T>(_ type: T.Type) throws {
        genericSubstitutions.append(WireTypeRegistry.name(of: type))
    }

    public mutating func recordArgument<Value: WireCodable>(_ argument: RemoteCallArgument<Value>) throws {
        arguments.append(.value(argument.value))
    }

    public mutating func recordErrorType<E: Error>(_ type: E.Type) throws {}
    public mutating func recordReturnType<R: WireCodable>(_ type: R.Type) throws {}
    public mutating func doneRecording() throws {}
}

/// Hands a received call's arguments to the distributed function, one at a time.
public struct DeepseekInvocationDecoder: DistributedTargetInvocationDecoder {
    public typealias SerializationRequirement = any WireCodable

    let envelope: CallEnvelope
    let registry: WireTypeRegistry
    let system: DeepseekActorSystem
    var next = 0

    init(envelope: CallEnvelope, registry: WireTypeRegistry, system: DeepseekActorSystem) {
        self.envelope = envelope
        self.registry = registry
        self.system = system
    }

    public mutating func decodeGenericSubstitutions() throws -> [any Any.Type] {
        try envelope.genericSubstitutions.map { try registry.type(named: $0) }
    }

    public mutating func decodeNextArgument<Argument: WireCodable>() throws -> Argument {
        guard next < envelope.arguments.count else {
            throw ActorSystemError(
                .serialization,
                "call to \(envelope.target) on \(envelope.recipient) carries \(envelope.arguments.count) arguments; more were expected")
        }
        defer { next += 1 }
        // Actor references among the arguments resolve against this system.
        return try DeepseekActorSystem.$current.withValue(system) {
            try envelope.arguments[next].decode(as: Argument.self)
        }
    }

    public mutating func decodeErrorType() throws -> (any Any.Type)? { nil }
    public mutating func decodeReturnType() throws -> (any Any.Type)? { nil }
}

/// Sends the outcome of a received call back to its origin.
public struct DeepseekResultHandler: DistributedTargetInvocationResultHandler {
    public typealias SerializationRequirement = any WireCodable

    let envelope: CallEnvelope
    let system: DeepseekActorSystem

    public func onReturn<Success: WireCodable>(value: Success) async throws {
        await system.reply(to: envelope, .value(.value(value)))
    }

    public func onReturnVoid() async throws {
        await system.reply(to: envelope, .void)
    }

    public func onThrow<Err: Error>(error: Err) async throws {
        await system.reply(to: envelope, DeepseekActorSystem.failureOutcome(for: error))
    }
}

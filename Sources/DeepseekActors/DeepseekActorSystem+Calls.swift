public import DeepseekCore
import DeepseekTracing
import Synchronization
public import Distributed

extension DeepseekActorSystem {
    public func remoteCall<Act: DistributedActor, Err: Error, Res: WireCodable>(
        on actor: Act, target: RemoteCallTarget, invocation: inout DeepseekInvocationEncoder, throwing: Err.Type,
        returning: Res.Type
    ) async throws -> Res where Act.ID == ActorAddress {
        switch try await call(actor.id, target: target, invocation: invocation) {
        case .value(let payload):
            return try DeepseekActorSystem.$current.withValue(self) { try payload.decode(as: Res.self) }
        case .void:
            throw ActorSystemError(.serialization, "\(target.identifier) on \(actor.id) returned nothing; \(Res.self) was expected")
        case .failure(let code, let message, let errorType, let payload):
            throw remoteError(code: code, message: message, errorType: errorType, payload: payload)
        }
    }

    public func remoteCallVoid<Act: DistributedActor, Err: Error>(
        on actor: Act, target: RemoteCallTarget, invocation: inout DeepseekInvocationEncoder, throwing: Err.Type
    ) async throws where Act.ID == ActorAddress {
        switch try await call(actor.id, target: target, invocation: invocation) {
        case .value, .void:
            return
        case .failure(let code, let message, let errorType, let payload):
            throw remoteError(code: code, message: message, errorType: errorType, payload: payload)
        }
    }

    /// Sends one call and waits for its outcome, its timeout, or the loss of its node.
    func call(_ recipient: ActorAddress, target: RemoteCallTarget, invocation: DeepseekInvocationEncoder) async throws
        -> ReplyEnvelope.Outcome
    {
        let timeout = Self.callTimeout ?? settings.defaultCallTimeout
        let targetName = target.identifier
        let caller = Self.currentActor
        let sentAt = settings.clock.now()
        let callID: UInt64 = try state.withLock { s in
            guard !s.isShutDown else {
                throw ActorSystemError(.shutDown, "\(node) is shut down; cannot call \(target.identifier) on \(recipient)")
            }
            let id = s.nextCallID
            s.nextCallID += 1
            s.pending[id] = .sending(node: recipient.node, timer: nil)
            s.waits[id] = PendingCallSnapshot(callID: id, caller: caller, callee: recipient, target: targetName, sentAt: sentAt)
            return id
        }
        let timer = settings.scheduler.schedule(after: timeout) { [weak self] in
            self?.complete(
                callID,
                .failure(
                    ActorSystemError(.timeout, "no reply from \(recipient) to \(targetName) within \(timeout)")))
        }
        state.withLock { s in
            if case .sending(let n, _) = s.pending[callID] { s.pending[callID] = .sending(node: n, timer: timer) }
        }
        let flow = FlowID(rawValue: UInt64(node.rank) << UInt64(FlowID.sequenceBits) | (callID & ((1 << UInt64(FlowID.sequenceBits)) - 1)))
        let envelope = CallEnvelope(
            callID: callID, origin: node, recipient: recipient, target: target.identifier,
            genericSubstitutions: invocation.genericSubstitutions, arguments: invocation.arguments, flowID: flow.rawValue)
        if settings.tracer.isEnabled {
            // On the caller's own row when an actor's handler made the call, so a trace shows
            // which actor waits on which.
            settings.tracer.on(caller.map(Self.track(for:)) ?? systemTrack).flow(
                .send, flow, name: Self.functionName(targetName), arguments: ["to": .string(recipient.description)])
        }
        do {
            try await transport.send(.call(envelope), to: recipient.node)
        } catch {
            complete(callID, .failure(error))
        }
        return try await withCheckedThrowingContinuation { continuation in
            let early: Result<ReplyEnvelope.Outcome, any Error>? = state.withLock { s in
                switch s.pending[callID] {
                case .arrived(let result):
                    s.pending[callID] = nil
                    return result
                case .sending(let n, let t):
                    s.pending[callID] = .waiting(continuation, node: n, timer: t)
                    return nil
                case .waiting, nil:
                    return .failure(ActorSystemError(.shutDown, "call \(callID) was abandoned"))
                }
            }
            if let early {
                timer.cancel()
                continuation.resume(with: early)
            }
        }
    }

    /// Finishes a pending call exactly once, whichever of reply, timeout or failure comes first.
    func complete(_ callID: UInt64, _ result: Result<ReplyEnvelope.Outcome, any Error>) {
        let action: (CheckedContinuation<ReplyEnvelope.Outcome, any Error>?, ScheduledAction?) = state.withLock { s in
            s.waits[callID] = nil
            switch s.pending[callID] {
            case .sending(_, let timer):
                s.pending[callID] = .arrived(result)
                return (nil, timer)
            case .waiting(let c, _, let timer):
                s.pending[callID] = nil
                return (c, timer)
            case .arrived, nil:
                return (nil, nil)
            }
        }
        action.1?.cancel()
        action.0?.resume(with: result)
    }

    /// Fails every call waiting on `node` (it left or its connection broke).
    func failCalls(to lost: NodeID, reason: String) {
        let ids = state.withLock { s in
            s.pending.compactMap { id, p -> UInt64? in
                switch p {
                case .sending(let n, _), .waiting(_, let n, _): n == lost ? id : nil
                case .arrived: nil
                }
            }
        }
        for id in ids {
            complete(id, .failure(ActorSystemError(.nodeUnreachable, "\(lost) is unreachable: \(reason)")))
        }
    }

    // MARK: Tracing

    /// The timeline row of this node's actor system itself.
    var systemTrack: TraceTrack { TraceTrack(node: node.rank, thread: 0, name: "\(node) system") }

    /// The timeline row of one actor: its incarnation keeps restarted actors apart.
    static func track(for actor: ActorAddress) -> TraceTrack {
        TraceTrack(node: actor.node.rank, thread: actor.incarnation, name: actor.path)
    }

    /// A readable name for a target identifier: the demangled function name when it has one.
    static func functionName(_ identifier: String) -> String {
        RemoteCallTarget(identifier).description
    }

    // MARK: Receiving

    public func receive(_ message: TransportMessage, from sender: NodeID) {
        heard(from: sender)
        switch message {
        case .reply(let reply):
            complete(reply.callID, .success(reply.outcome))
        case .call(let envelope):
            if settings.tracer.isEnabled {
                settings.tracer.on(systemTrack).flow(
                    .receive, FlowID(rawValue: envelope.flowID), name: Self.functionName(envelope.target),
                    arguments: ["from": .string(sender.description)])
            }
            if let executor = incomingCallExecutor {
                Task(executorPreference: executor) { await self.run(envelope) }
            } else {
                Task { await self.run(envelope) }
            }
        case .system(let system):
            handle(system, from: sender)
        }
    }

    func run(_ envelope: CallEnvelope) async {
        guard let actor = state.withLock({ $0.actors[envelope.recipient]?.actor }) else {
            await reply(
                to: envelope,
                .failure(
                    code: ActorSystemError.Code.deadActor.description,
                    message: "no actor \(envelope.recipient) lives on \(node); it may have stopped", errorType: nil, payload: nil))
            return
        }
        let tracing = settings.tracer.isEnabled
        let track = tracing ? settings.tracer.on(Self.track(for: envelope.recipient)) : settings.tracer
        let flow = FlowID(rawValue: envelope.flowID)
        if tracing { track.flow(.handlerBegin, flow, name: Self.functionName(envelope.target)) }
        defer { if tracing { track.flow(.handlerEnd, flow, name: Self.functionName(envelope.target)) } }
        var decoder = DeepseekInvocationDecoder(envelope: envelope, registry: settings.registry, system: self)
        let handler = DeepseekResultHandler(envelope: envelope, system: self)
        do {
            try await Self.$currentActor.withValue(envelope.recipient) {
                try await executeDistributedTarget(
                    on: actor, target: RemoteCallTarget(envelope.target), invocationDecoder: &decoder, handler: handler)
            }
        } catch {
            // The target could not be invoked at all (unknown function, undecodable arguments).
            var outcome = Self.failureOutcome(for: error)
            if case .failure(let code, let message, _, _) = outcome, !(error is ActorSystemError) {
                outcome = .failure(
                    code: ActorSystemError.Code.unknownTarget.description,
                    message: "\(envelope.target) could not run on \(envelope.recipient): \(message) [\(code)]", errorType: nil,
                    payload: nil)
            }
            await reply(to: envelope, outcome)
        }
    }

    func reply(to envelope: CallEnvelope, _ outcome: ReplyEnvelope.Outcome) async {
        let reply = ReplyEnvelope(callID: envelope.callID, outcome: outcome, flowID: envelope.flowID)
        if envelope.origin == node {
            complete(envelope.callID, .success(outcome))
            return
        }
        // If the origin is gone its calls are failed on its side; nothing to do here.
        try? await transport.send(.reply(reply), to: envelope.origin)
    }

    /// How an error thrown by a handler travels back to the caller.
    static func failureOutcome(for error: any Error) -> ReplyEnvelope.Outcome {
        if let e = error as? ActorSystemError {
            return .failure(code: e.code.description, message: e.message, errorType: nil, payload: nil)
        }
        if let codable = error as? any WireCodable {
            return .failure(
                code: ActorSystemError.Code.remoteError.description, message: "\(error)",
                errorType: WireTypeRegistry.name(of: type(of: codable)), payload: codable.wireBytes)
        }
        return .failure(
            code: ActorSystemError.Code.remoteError.description, message: "\(type(of: error)): \(error)", errorType: nil,
            payload: nil)
    }

    /// The error a caller sees for a failure outcome: the original error type when it is
    /// registered and `WireCodable`, an `ActorSystemError` otherwise.
    func remoteError(code: String, message: String, errorType: String?, payload: [UInt8]?) -> any Error {
        if let errorType, let payload, let type = try? settings.registry.type(named: errorType),
            let codable = type as? any (WireCodable & Error).Type,
            let error = try? codable.init(wireBytes: payload)
        {
            return error
        }
        return ActorSystemError(ActorSystemError.Code.named(code) ?? .remoteError, message)
    }
}

extension ActorSystemError.Code {
    static func named(_ name: String) -> ActorSystemError.Code? {
        [.deadActor, .nodeUnreachable, .timeout, .serialization, .unknownType, .remoteError, .unknownTarget, .shutDown, .transportFailure]
            .first { $0.description == name }
    }
}

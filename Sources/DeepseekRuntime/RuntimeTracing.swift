public import DeepseekActors
import DeepseekCore
public import DeepseekTracing

/// How the runtime's actors appear on a timeline: one row per operator, device and engine,
/// grouped by node, and message flows for every dispatch and every tensor handed from one
/// operator to the next.
///
/// The events follow the contract the trace analyses rely on (docs/tracing.md): a flow's `send`
/// is recorded on the sender's row, its `handlerBegin`/`handlerEnd` on the row of the actor that
/// handles it, and kernels on the row of the device that ran them.
enum RuntimeTracing {
    /// Flow identifiers minted by the runtime carry this bit in their namespace, so they never
    /// collide with the actor system's call flows (namespace = node rank).
    static let namespaceBit: UInt32 = 0x80_0000

    /// A new flow identifier for a message sent by a runtime actor of `system`.
    static func nextFlow(_ system: DeepseekActorSystem) -> FlowID {
        let s = system.nextFlowSequence() & ((1 << UInt64(FlowID.sequenceBits)) - 1)
        return FlowID(rawValue: UInt64(namespaceBit | (system.node.rank & 0x7F_FFFF)) << UInt64(FlowID.sequenceBits) | s)
    }

    /// The row of an actor: its node, its incarnation as the thread, and a readable name.
    static func track(_ address: ActorAddress, name: String) -> TraceTrack {
        TraceTrack(node: address.node.rank, thread: address.incarnation, name: name)
    }
}

extension Engine {
    /// The tracer of the actor system the engine runs in (disabled unless the system was created
    /// with one): what the trainer and other callers record their own events with.
    public nonisolated var tracer: Tracer { system.settings.tracer }

    /// The node (process) the engine runs in.
    public nonisolated var node: NodeID { system.node }
}

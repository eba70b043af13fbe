import DeepseekActors
public import DeepseekGraph
public import DeepseekTensor
import Distributed

/// Somewhere other than an operator's input slot to keep a value that waits long for its
/// consumer — an activation saved for the backward pass — during a run.
///
/// Without one, a value produced in the forward pass sits in the input slot of each backward
/// node that reads it until that node fires, so every saved activation is in memory at the end
/// of the forward pass. With one (`Engine.run(_:_:activations:)`), the operator actors of the
/// nodes it names hand such inputs over when they arrive and ask for them back just before they
/// fire; the parking decides where the bytes are meanwhile (memory within a budget, an SSD
/// tier beyond it) and reads them back ahead of need. The engine never looks at the bytes: a
/// parking that returns exactly the tensor it was given keeps the results bit-identical.
///
/// Only values delivered inside one process are parked (graph inputs and parameters come from
/// the engine's feeds and are not).
public protocol ActivationParking: AnyObject, Sendable {
    /// Whether the operator of `node` works with the parking in this run: its inputs may go
    /// through `park`, and it calls `settle(after:)` once it has delivered its outputs (asked
    /// once per node and run, before anything runs).
    func involves(_ node: GraphNodeID) -> Bool

    /// Takes `tensor`, just delivered to input `slot` of `node`, and returns the ticket it comes
    /// back with, or `nil` to leave it in the slot. Called on the consumer's actor: it must not
    /// block (start any I/O and return).
    func park(_ tensor: Tensor, node: GraphNodeID, slot: Int) -> ActivationTicket?

    /// The tensor parked under `ticket`, when `node` is about to fire.
    ///
    /// - Throws: when the bytes cannot be brought back (the node then fails with that error).
    func unpark(_ ticket: ActivationTicket, node: GraphNodeID, slot: Int) async throws -> Tensor

    /// Called by `node` after it delivered its outputs; returns when the run may go on. A
    /// parking over its memory budget holds the producer here until its writes have made room,
    /// so the forward pass runs no further ahead than the disk allows.
    func settle(after node: GraphNodeID) async throws
}

/// What a parked input comes back with.
public struct ActivationTicket: Sendable, Hashable {
    public var rawValue: Int
    public init(_ rawValue: Int) { self.rawValue = rawValue }
}

extension OperatorActor {
    /// Routes this operator's inputs through `parking` (`nil`: back to plain slots) and drops
    /// tickets left over from a run that failed.
    func attachParking(_ parking: (any ActivationParking)?) {
        self.parking = parking
        parked.removeAll()
    }
}

extension EnginePlan {
    /// `execute` with the inputs of the nodes `activations` asks for routed through it for the
    /// run (and back to plain slots afterwards, whether the run succeeded or not).
    func execute(
        _ graph: Graph, _ feeds: GraphFeeds, engine: Engine, recordsTimes: Bool, activations: (any ActivationParking)?, outputReady: OutputHandler? = nil
    ) async throws -> Execution {
        guard let activations else { return try await execute(graph, feeds, engine: engine, recordsTimes: recordsTimes, outputReady: outputReady) }
        let local = Int(engine.system.node.rank)
        let parking = operators.indices.filter { processOf[$0] == local && activations.involves(nodeOf[$0]) }.map { operators[$0] }
        func attach(_ p: (any ActivationParking)?) async {
            for op in parking { _ = await op.whenLocal { $0.attachParking(p) } }
        }
        await attach(activations)
        do {
            let result = try await execute(graph, feeds, engine: engine, recordsTimes: recordsTimes, outputReady: outputReady)
            await attach(nil)
            return result
        } catch {
            await attach(nil)
            throw error
        }
    }
}

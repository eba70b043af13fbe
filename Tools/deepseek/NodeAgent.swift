import DeepseekActors
import DeepseekTensor
import Distributed

/// The actor every `deepseek node` runs at a well-known path, so peers can reach each other
/// knowing only their ranks: it answers liveness questions and echoes tensors.
distributed actor NodeAgent {
    typealias ActorSystem = DeepseekActorSystem

    static let path = "node/agent"

    let rank: Int
    let processID: Int32

    init(rank: Int, processID: Int32, actorSystem: DeepseekActorSystem) {
        self.rank = rank
        self.processID = processID
        self.actorSystem = actorSystem
    }

    static func make(rank: Int, processID: Int32, actorSystem: DeepseekActorSystem) -> NodeAgent {
        DeepseekActorSystem.withWellKnownPath(path) { NodeAgent(rank: rank, processID: processID, actorSystem: actorSystem) }
    }

    static func address(ofRank rank: Int) -> ActorAddress { .wellKnown(path, on: NodeID(rank)) }

    /// Who this node is: its rank and process ID.
    distributed func describe() -> String { "rank \(rank) (pid \(processID))" }

    /// Sends the tensor back unchanged, to check a round trip through the transport.
    distributed func echo(_ tensor: Tensor) -> Tensor { tensor }

    /// The sum of the tensor's elements, computed here.
    distributed func sum(_ tensor: Tensor) throws -> Double {
        try tensor.cast(to: .float64).sum().item(as: Double.self)
    }
}

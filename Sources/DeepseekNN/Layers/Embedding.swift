public import DeepseekCore
public import DeepseekGraph
import DeepseekTensor

/// A lookup table from integer ids to vectors, PyTorch's `nn.Embedding`.
///
/// Input: int32 or int64 ids of any shape `[…]`; output `[…, embeddingDim]`. The table starts as
/// `N(0, 1)` samples drawn from `rng`, as in PyTorch. An id outside `0..<numEmbeddings` fails
/// when the graph runs, naming the id and its position.
///
/// Parameters: `weight` `[numEmbeddings, embeddingDim]`. Nodes: `gather`.
public final class Embedding: Module {
    public let numEmbeddings: Int
    public let embeddingDim: Int
    public let weight: Parameter

    public init(numEmbeddings: Int, embeddingDim: Int, initializer: Initializer = .normal(), rng: inout SeededRandom) throws {
        try requirePositive("Embedding", ["numEmbeddings": numEmbeddings, "embeddingDim": embeddingDim])
        self.numEmbeddings = numEmbeddings
        self.embeddingDim = embeddingDim
        weight = Parameter("weight", try initializer.make([numEmbeddings, embeddingDim], rng: &rng))
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        guard x.dtype == .int32 || x.dtype == .int64 else {
            throw NNError(.dtypeMismatch, "Embedding: ids must be int32 or int64, got \(x.type); feed token ids, not embeddings")
        }
        return try weight.traced(in: x.tracer).recording(.gather(axis: 0), [x], name: "gather")
    }

    public var parameters: [Parameter] { [weight] }
}

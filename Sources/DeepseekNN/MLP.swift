public import DeepseekCore
public import DeepseekGraph
import DeepseekTensor

/// A multi-layer perceptron: `Linear` layers of the given sizes with `ReLU` between them and no
/// activation after the last — the model tests and examples start from.
///
/// `MLP(sizes: [784, 256, 10])` is `Sequential { Linear(784, 256); ReLU(); Linear(256, 10) }`, so
/// its parameters are `0.weight` `[256, 784]`, `0.bias`, `2.weight` `[10, 256]`, `2.bias`.
public final class MLP: Module {
    /// The layers, `Linear` at even positions and `ReLU` at odd ones.
    public let layers: Sequential
    public let sizes: [Int]

    public init(sizes: [Int], rng: inout SeededRandom) throws {
        guard sizes.count >= 2 else {
            throw NNError(.invalidArgument, "MLP: sizes needs an input and an output size at least, got \(sizes)")
        }
        var modules: [any Module] = []
        for i in 0..<(sizes.count - 1) {
            if i > 0 { modules.append(ReLU()) }
            modules.append(try Linear(inFeatures: sizes[i], outFeatures: sizes[i + 1], rng: &rng))
        }
        self.sizes = sizes
        layers = Sequential(modules)
    }

    /// Builds the model from a seed.
    public convenience init(sizes: [Int], seed: UInt64) throws {
        var rng = SeededRandom(seed: seed)
        try self.init(sizes: sizes, rng: &rng)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor { try layers(x) }
    public var parameters: [Parameter] { layers.parameters }
}

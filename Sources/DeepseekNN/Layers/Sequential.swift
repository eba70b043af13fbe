public import DeepseekGraph

/// Modules applied one after another; child `i` is named `"i"`, so its parameters are `0.weight`,
/// `0.bias`, `2.weight`, … and its nodes `0.matmul`, `1.relu`, … — PyTorch's `nn.Sequential`.
///
/// Write it with an array or with a result builder (`if`, `if/else` and `for` work inside):
///
/// ```swift
/// var rng = SeededRandom(seed: 0)
/// let model = try Sequential {
///     try Linear(inFeatures: 784, outFeatures: 256, rng: &rng)
///     ReLU()
///     try Linear(inFeatures: 256, outFeatures: 10, rng: &rng)
/// }
/// ```
///
/// A module must be added to one parent only: naming prefixes its parameters in place.
public final class Sequential: Module {
    /// The children, in order.
    public let layers: [any Module]

    public init(_ layers: [any Module]) {
        for (i, layer) in layers.enumerated() { layer.named("\(i)") }
        self.layers = layers
    }

    public convenience init(@ModuleBuilder _ build: () throws -> [any Module]) rethrows {
        self.init(try build())
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        var h = x
        for (i, layer) in layers.enumerated() { h = try layer(h, scope: "\(i)") }
        return h
    }

    public var parameters: [Parameter] { layers.flatMap(\.parameters) }

    public var count: Int { layers.count }
    public subscript(index: Int) -> any Module { layers[index] }
}

/// Collects the modules listed in a `Sequential { … }` block.
@resultBuilder
public enum ModuleBuilder {
    public static func buildExpression(_ module: any Module) -> [any Module] { [module] }
    public static func buildExpression(_ modules: [any Module]) -> [any Module] { modules }
    public static func buildBlock(_ parts: [any Module]...) -> [any Module] { parts.flatMap { $0 } }
    public static func buildOptional(_ part: [any Module]?) -> [any Module] { part ?? [] }
    public static func buildEither(first part: [any Module]) -> [any Module] { part }
    public static func buildEither(second part: [any Module]) -> [any Module] { part }
    public static func buildArray(_ parts: [[any Module]]) -> [any Module] { parts.flatMap { $0 } }
}

public import DeepseekGraph
import DeepseekTensor

/// `max(x, 0)` element-wise. No parameters; records one node, `relu`.
public final class ReLU: Module {
    public init() {}
    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor { try x.unary(.relu, name: "relu") }
    public var parameters: [Parameter] { [] }
}

/// The Gaussian error linear unit, `x·Φ(x)`; exact (erf) by default as in PyTorch, or the tanh
/// approximation. No parameters; records one node, `gelu`.
public final class GELU: Module {
    /// Whether the tanh approximation is used.
    public let approximate: Bool
    public init(approximate: Bool = false) { self.approximate = approximate }
    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        try x.unary(approximate ? .geluTanh : .geluExact, name: "gelu")
    }
    public var parameters: [Parameter] { [] }
}

/// `1 / (1 + e⁻ˣ)` element-wise. No parameters; records one node, `sigmoid`.
public final class Sigmoid: Module {
    public init() {}
    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor { try x.unary(.sigmoid, name: "sigmoid") }
    public var parameters: [Parameter] { [] }
}

/// Hyperbolic tangent element-wise. No parameters; records one node, `tanh`.
public final class Tanh: Module {
    public init() {}
    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor { try x.unary(.tanh, name: "tanh") }
    public var parameters: [Parameter] { [] }
}

/// Collapses axes `startDim…endDim` into one — by default everything after the batch axis, so
/// `[N, C, H, W]` becomes `[N, C·H·W]`. Records one `reshape` node, `flatten` (a view).
public final class Flatten: Module {
    public let startDim: Int
    public let endDim: Int

    public init(startDim: Int = 1, endDim: Int = -1) {
        self.startDim = startDim
        self.endDim = endDim
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let dims = x.shape.dims
        let s = startDim < 0 ? startDim + dims.count : startDim
        let e = endDim < 0 ? endDim + dims.count : endDim
        guard s >= 0, e < dims.count, s <= e else {
            throw NNError(
                .shapeMismatch,
                "Flatten: axes \(startDim)…\(endDim) do not fit an input of shape \(x.shape) (rank \(dims.count)); flatten needs startDim ≤ endDim within the rank")
        }
        let middle = dims[s...e].reduce(1, *)
        return try x.recording(.reshape(Shape(Array(dims[..<s]) + [middle] + Array(dims[(e + 1)...]))), name: "flatten")
    }

    public var parameters: [Parameter] { [] }
}

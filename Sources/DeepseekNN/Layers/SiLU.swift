public import DeepseekGraph
import DeepseekTensor

/// The sigmoid-weighted linear unit (swish), `x·σ(x)` element-wise, PyTorch's `nn.SiLU`.
/// No parameters; records one node, `silu`.
public final class SiLU: Module {
    public init() {}
    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor { try x.unary(.silu, name: "silu") }
    public var parameters: [Parameter] { [] }
}

import DeepseekGraph
import DeepseekTensor

extension SymbolicTensor {
    /// Records `op` on this tensor (and `others`) as a node named `name` in the current scope.
    func recording(_ op: GraphOp, _ others: [SymbolicTensor] = [], name: String) throws -> SymbolicTensor {
        try tracer.apply(op, [self] + others, name: name)[0]
    }

    /// Multiplies by a scalar recorded as a constant, naming the product node.
    func scaled(by factor: Double, name: String) throws -> SymbolicTensor {
        try recording(.binary(.mul), [tracer.constant(Tensor(scalar: factor, dtype: dtype))], name: name)
    }
}

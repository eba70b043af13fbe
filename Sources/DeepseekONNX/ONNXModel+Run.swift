public import DeepseekTensor

extension ONNXModel {
    /// The operator types this module maps onto Deepseek tensor operations, sorted.
    public static var supportedOperators: [String] { ONNXOperators.supported }

    /// Why this model cannot run on Deepseek, or `nil` when every node, input and output is
    /// supported as far as can be told without running it.
    ///
    /// The reason names the first obstacle: an operator that is not implemented
    /// (`op Resize not implemented`), another operator-set domain, or a value type or element
    /// type Deepseek lacks (`dtype uint8 unsupported`, `sequence values unsupported`).
    public var unsupportedReason: String? {
        for value in graph.feedInputs + graph.outputs {
            switch value.type {
            case .tensor(let elementType, _):
                if elementType.dtype == nil { return "dtype \(elementType) unsupported" }
            case .unknown:
                break
            default:
                return "\(value.type) values unsupported"
            }
        }
        if graph.hasSparseInitializers { return "sparse initializers unsupported" }
        for proto in graph.initializers where proto.dataType.dtype == nil {
            return "dtype \(proto.dataType) unsupported"
        }
        for node in graph.nodes {
            if ONNXOperators.lookup(domain: node.domain, op: node.opType) == nil {
                let qualified = node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : "\(node.domain).\(node.opType)"
                return "op \(qualified) not implemented"
            }
            if node.attributes.contains(where: { !$0.refAttrName.isEmpty }) {
                return "op \(node.opType): attribute references (function bodies) not supported"
            }
        }
        return nil
    }

    /// Runs the graph on the current kernel backend.
    ///
    /// `inputs` feed the graph inputs that are not initializers, in declaration order; the
    /// result holds one contiguous tensor per graph output.
    ///
    /// ```swift
    /// let model = try ONNXModel(contentsOf: "model.onnx")
    /// let outputs = try KernelBackends.using(ReferenceBackend()) { try model.run([x]) }
    /// ```
    ///
    /// - Throws: `ONNXError.unsupported` for an operator, attribute value or dtype Deepseek does
    ///   not implement (raised before the operator computes anything); `ONNXError.invalidModel`
    ///   for a graph that breaks ONNX rules; `TensorError` from the tensor operations.
    public func run(_ inputs: [Tensor]) throws -> [Tensor] {
        if let reason = unsupportedReason { throw ONNXError.unsupported(reason) }
        var values: [String: Tensor] = [:]
        for proto in graph.initializers { values[proto.name] = try proto.tensor() }
        let feeds = graph.feedInputs
        guard inputs.count <= feeds.count else {
            throw ONNXError.invalid("the graph takes \(feeds.count) inputs but \(inputs.count) were given")
        }
        for (value, tensor) in zip(feeds, inputs) {
            if case .tensor(let elementType, _) = value.type, let dtype = elementType.dtype, dtype != tensor.dtype {
                throw ONNXError.invalid("input '\(value.name)' is declared \(elementType) but a \(tensor.dtype) tensor was given")
            }
            values[value.name] = tensor
        }
        let opset = opsetVersion
        for (index, node) in graph.nodes.enumerated() {
            guard let implementation = ONNXOperators.lookup(domain: node.domain, op: node.opType) else {
                throw ONNXError.unsupported("op \(node.opType) not implemented")
            }
            var nodeInputs: [Tensor?] = []
            for name in node.inputs {
                if name.isEmpty {
                    nodeInputs.append(nil)
                } else if let t = values[name] {
                    nodeInputs.append(t)
                } else {
                    throw ONNXError.invalid("node \(index) (\(node.opType)) reads '\(name)', which no input, initializer or earlier node defines")
                }
            }
            let results = try implementation(NodeContext(node: node, opset: opset, inputs: nodeInputs))
            for (i, name) in node.outputs.enumerated() where !name.isEmpty {
                guard i < results.count, let t = results[i] else {
                    throw ONNXError.unsupported("op \(node.opType): output \(i) ('\(name)') not produced")
                }
                values[name] = t
            }
        }
        return try graph.outputs.map { value in
            guard let t = values[value.name] else {
                throw ONNXError.invalid("graph output '\(value.name)' is not produced by any node")
            }
            return try t.contiguous()
        }
    }
}

public import DeepseekTensor

/// The tensors a run starts from: inputs by name and parameters by name.
public struct GraphFeeds: Sendable {
    public var inputs: [String: Tensor]
    public var parameters: [String: Tensor]

    public init(inputs: [String: Tensor] = [:], parameters: [String: Tensor] = [:]) {
        self.inputs = inputs
        self.parameters = parameters
    }
}

extension Graph {
    /// Checks that `feeds` has a tensor of the right type for every input and parameter and nothing else.
    public func validate(_ feeds: GraphFeeds) throws {
        var expectedInputs = Set<String>()
        var expectedParameters = Set<String>()
        for n in nodes {
            let (name, table, kind): (String, [String: Tensor], String)
            switch n.op {
            case .input(let s): (name, table, kind) = (s, feeds.inputs, "input"); expectedInputs.insert(s)
            case .parameter(let s): (name, table, kind) = (s, feeds.parameters, "parameter"); expectedParameters.insert(s)
            default: continue
            }
            let type = values[n.outputs[0].rawValue].type
            guard let t = table[name] else {
                throw GraphError(.feed, "\(kind) \"\(name)\" (\(type)) has no value; pass it in the feeds")
            }
            guard t.shape == type.shape, t.dtype == type.dtype else {
                throw GraphError(.feed, "\(kind) \"\(name)\" expects \(type) but was fed \(t.dtype)\(t.shape); feed a tensor of that type or rebuild the graph")
            }
        }
        if let extra = feeds.inputs.keys.sorted().first(where: { !expectedInputs.contains($0) }) {
            throw GraphError(.feed, "feeds name input \"\(extra)\", which the graph does not have (inputs: \(expectedInputs.sorted().joined(separator: ", ")))")
        }
        if let extra = feeds.parameters.keys.sorted().first(where: { !expectedParameters.contains($0) }) {
            throw GraphError(.feed, "feeds name parameter \"\(extra)\", which the graph does not have")
        }
    }

    /// Runs the graph node by node on `KernelBackends.current`, releasing each value after its
    /// last use, and returns the outputs — the sequential reference the engine is checked against.
    public func run(_ feeds: GraphFeeds) throws -> [Tensor] {
        try validate(feeds)
        var remainingUses = [Int](repeating: 0, count: values.count)
        for n in nodes { for v in n.inputs { remainingUses[v.rawValue] += 1 } }
        for v in outputs { remainingUses[v.rawValue] += 1 }
        var live = [Tensor?](repeating: nil, count: values.count)
        for n in nodes {
            let results: [Tensor]
            switch n.op {
            case .input(let name): results = [feeds.inputs[name]!]
            case .parameter(let name): results = [feeds.parameters[name]!]
            default:
                let args = n.inputs.map { live[$0.rawValue]! }
                do { results = try n.op.evaluate(args) } catch {
                    throw GraphError(.execution, "\(describe(n.id)): \(Self.rule(of: error))", cause: error)
                }
            }
            for (v, t) in zip(n.outputs, results) where remainingUses[v.rawValue] > 0 { live[v.rawValue] = t }
            for v in n.inputs {
                remainingUses[v.rawValue] -= 1
                if remainingUses[v.rawValue] == 0 { live[v.rawValue] = nil }
            }
        }
        return outputs.map { live[$0.rawValue]! }
    }
}

extension Graph: CustomStringConvertible {
    /// One line per node: `n3 "fc2" = matmul(%2, %4) -> %5: float32[64, 10]`.
    public var description: String {
        var lines: [String] = []
        for n in nodes {
            let outs = n.outputs.map { "\($0): \(values[$0.rawValue].type)" }.joined(separator: ", ")
            let args = n.inputs.map(\.description).joined(separator: ", ")
            let pin = n.pin.isEmpty ? "" : " @ \(n.pin)"
            lines.append("\(n.id) \"\(n.name)\" = \(n.op.signature)(\(args)) -> \(outs)\(pin)")
        }
        lines.append("outputs: \(outputs.map(\.description).joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }
}

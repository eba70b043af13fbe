import DeepseekGraph
public import DeepseekModels
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor

/// The work of one training step of a zoo model on one microbatch, per layer, taken from the
/// model's real training graph: the graph is traced on shape-only tensors, every node's FLOPs
/// and bytes come from `CostModel.work(of:in:)` (the runtime's cost source, `MetaBackend`), and
/// nodes are grouped into layers so communication can follow the order the graph produces
/// gradients in.
///
/// Layers are the parameter groups of the model (`h.3` for a GPT block, `layer2.1` for a ResNet
/// block: the parameter name up to its first numeric component), ordered by the first forward
/// node that reads them. A forward node belongs to the latest layer among its inputs; a
/// backward node to the latest layer among its forward inputs, else to the earliest among its
/// gradient inputs.
public struct WorkloadProfile: Sendable {
    /// The cost of one node: FLOPs and bytes in fp32, its kernel kind.
    public struct NodeCost: Sendable, Hashable {
        public var flops: Double
        public var bytes: Double
        public var kernel: String
    }

    /// One layer of the model.
    public struct Layer: Sendable {
        public var name: String
        public var forward: [NodeCost] = []
        public var backward: [NodeCost] = []
        /// Trainable scalars in the layer.
        public var parameters: Int = 0
        /// Bytes of forward values the layer produces (kept for the backward pass).
        public var activationBytes: Double = 0
        /// The largest value passed from this layer to the next (the residual stream): what a
        /// pipeline stage boundary or a tensor-parallel all-reduce after this layer carries.
        public var boundaryBytes: Double = 0

        public var forwardFlops: Double { forward.reduce(0) { $0 + $1.flops } }
        public var backwardFlops: Double { backward.reduce(0) { $0 + $1.flops } }
    }

    public var model: String
    public var layers: [Layer]
    /// Examples per microbatch.
    public var batch: Int
    /// Tokens per example (1 for non-sequence models).
    public var tokensPerSample: Int
    /// Nodes in the training graph.
    public var nodeCount: Int

    /// Trainable scalars.
    public var parameterCount: Int { layers.reduce(0) { $0 + $1.parameters } }
    /// FLOPs of one forward + backward pass of the microbatch.
    public var trainingFlops: Double { layers.reduce(0) { $0 + $1.forwardFlops + $1.backwardFlops } }

    /// Traces `model`'s training graph and measures every node.
    public init(_ model: ZooModel) throws {
        let gradientGraph = try model.trainingGraph()
        let graph = gradientGraph.graph
        let forwardCount = gradientGraph.forwardNodeCount
        let input = model.input.type.shape
        batch = input.dims.first ?? 1
        tokensPerSample = model.input.type.dtype == .int64 && input.rank >= 2 ? input[1] : 1
        self.model = model.name
        nodeCount = graph.nodes.count

        func group(_ name: String) -> String {
            let parts = name.split(separator: ".")
            if let i = parts.firstIndex(where: { $0.allSatisfy(\.isNumber) }) { return parts[...i].joined(separator: ".") }
            return String(parts.first ?? "")
        }
        // Layers in the order the forward pass first reads them.
        var layerOf: [String: Int] = [:]
        var names: [String] = []
        var valueLayer = [Int](repeating: -1, count: graph.values.count)
        var nodeLayer = [Int](repeating: 0, count: graph.nodes.count)
        var trainable: [String: Int] = [:]
        for p in model.module.trainableParameters { trainable[p.name] = p.value.elementCount }
        for node in graph.nodes[..<forwardCount] {
            if case .parameter(let name) = node.op {
                let key = group(name)
                let index = layerOf[key] ?? { names.append(key); layerOf[key] = names.count - 1; return names.count - 1 }()
                nodeLayer[node.id.rawValue] = index
                for v in node.outputs { valueLayer[v.rawValue] = index }
            }
        }
        // Layer order: by the first non-source forward node reading the layer's parameters.
        var firstUse = [Int](repeating: Int.max, count: names.count)
        for node in graph.nodes[..<forwardCount] where !node.op.isSource {
            for v in node.inputs where valueLayer[v.rawValue] >= 0 && graph[node: graph[value: v].producer].op.isSource {
                firstUse[valueLayer[v.rawValue]] = min(firstUse[valueLayer[v.rawValue]], node.id.rawValue)
            }
        }
        let order = names.indices.sorted { (firstUse[$0], $0) < (firstUse[$1], $1) }
        var rank = [Int](repeating: 0, count: names.count)
        for (r, i) in order.enumerated() { rank[i] = r }
        for v in valueLayer.indices where valueLayer[v] >= 0 { valueLayer[v] = rank[valueLayer[v]] }
        layers = order.map { Layer(name: names[$0]) }
        if layers.isEmpty { layers = [Layer(name: "model")] }
        for node in graph.nodes[..<forwardCount] {
            if case .parameter(let name) = node.op, let count = trainable[name] { layers[valueLayer[node.outputs[0].rawValue]].parameters += count }
        }

        let work = { (node: Graph.Node) -> NodeCost in
            let c = CostModel.work(of: node, in: graph)
            return NodeCost(flops: c.flops, bytes: c.bytes, kernel: DeviceModel.kernelKind(of: node.op))
        }
        for node in graph.nodes {
            let i = node.id.rawValue
            let isForward = i < forwardCount
            var layer: Int
            if isForward {
                if case .parameter = node.op { continue }
                layer = node.inputs.map { valueLayer[$0.rawValue] }.max() ?? 0
            } else {
                let forwardInputs = node.inputs.filter { graph[value: $0].producer.rawValue < forwardCount }
                let backwardInputs = node.inputs.filter { graph[value: $0].producer.rawValue >= forwardCount }
                let f = forwardInputs.map { valueLayer[$0.rawValue] }.max() ?? -1
                layer = f >= 0 ? f : (backwardInputs.map { valueLayer[$0.rawValue] }.filter { $0 >= 0 }.min() ?? layers.count - 1)
            }
            layer = max(0, min(layer, layers.count - 1))
            nodeLayer[i] = layer
            for v in node.outputs { valueLayer[v.rawValue] = layer }
            if node.op.isSource { continue }
            let cost = work(node)
            if isForward {
                layers[layer].forward.append(cost)
                layers[layer].activationBytes += node.outputs.reduce(0) { $0 + Double(graph[value: $1].type.byteCount) }
            } else {
                layers[layer].backward.append(cost)
            }
        }
        // Boundary values: produced in layer L, read by a forward node of a later layer.
        for node in graph.nodes[..<forwardCount] where !node.op.isSource {
            let to = nodeLayer[node.id.rawValue]
            for v in node.inputs {
                let from = valueLayer[v.rawValue]
                guard from >= 0, from < to, !graph[node: graph[value: v].producer].op.isSource else { continue }
                layers[from].boundaryBytes = max(layers[from].boundaryBytes, Double(graph[value: v].type.byteCount))
            }
        }
    }

    /// Seconds of the forward and backward pass of each layer on `device` at `precision`, with
    /// the work split `ways` ways (tensor parallelism divides FLOPs and bytes, not launches).
    public func layerSeconds(on device: DeviceModel, precision: ComputePrecision, ways: Int = 1) -> [(forward: Double, backward: Double)] {
        let byteScale = precision.bytes / 4 / Double(ways)
        let flopScale = 1 / Double(ways)
        func time(_ nodes: [NodeCost]) -> Double {
            nodes.reduce(0) { $0 + device.seconds(flops: $1.flops * flopScale, bytes: $1.bytes * byteScale, precision: precision, kernel: $1.kernel) }
        }
        return layers.map { (time($0.forward), time($0.backward)) }
    }
}

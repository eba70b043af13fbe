import DeepseekTensor

/// The reverse sweep: which nodes matter, contributions per value, their sums.
struct Differentiator {
    let forward: Graph
    let loss: ValueID
    let targets: [ValueID]
    var builder: GradientBuilder
    /// For each forward value: whether it depends on a target through floating-point values.
    private var needsGradient: [Bool]
    /// For each forward value: whether the loss depends on it.
    private var reachesLoss: [Bool]
    private var contributions: [[ValueID]]
    private var totals: [ValueID?]
    private var totalled: [Bool]

    init(forward: Graph, loss: ValueID, targets: [ValueID]) throws {
        self.forward = forward
        self.loss = loss
        self.targets = targets
        let count = forward.values.count
        func check(_ v: ValueID, _ role: String) throws {
            guard v.rawValue >= 0 && v.rawValue < count else {
                throw GraphError(.unknownReference, "gradients: the \(role) \(v) is not a value of this graph (it has \(count) values)")
            }
        }
        try check(loss, "loss")
        let lossType = forward[value: loss].type
        guard lossType.dtype.isFloatingPoint, lossType.shape.elementCount == 1 else {
            throw GraphError(
                .notDifferentiable,
                "gradients: the loss \(loss) from \(forward.describe(forward[value: loss].producer)) is \(lossType); it must be a floating-point value with one element — reduce it with sum or mean and cast it to a float type")
        }
        for t in targets {
            try check(t, "target")
            let type = forward[value: t].type
            guard type.dtype.isFloatingPoint else {
                throw GraphError(
                    .notDifferentiable,
                    "gradients: cannot differentiate with respect to \(t) (\(type)) from \(forward.describe(forward[value: t].producer)); only floating-point values have gradients")
            }
        }
        var needs = [Bool](repeating: false, count: count)
        for t in targets { needs[t.rawValue] = true }
        for node in forward.nodes where node.inputs.contains(where: { needs[$0.rawValue] }) {
            for v in node.outputs where forward[value: v].type.dtype.isFloatingPoint { needs[v.rawValue] = true }
        }
        var reaches = [Bool](repeating: false, count: count)
        reaches[loss.rawValue] = true
        for node in forward.nodes.reversed() where node.outputs.contains(where: { reaches[$0.rawValue] }) {
            for v in node.inputs { reaches[v.rawValue] = true }
        }
        needsGradient = needs
        reachesLoss = reaches
        contributions = [[ValueID]](repeating: [], count: count)
        totals = [ValueID?](repeating: nil, count: count)
        totalled = [Bool](repeating: false, count: count)
        builder = GradientBuilder(forward: forward)
    }

    /// Builds the backward pass and returns the gradient of each target.
    mutating func run(seed: GradientSeed) throws -> [ValueID] {
        let lossNode = forward[node: forward[value: loss].producer]
        builder.enter(lossNode)
        try contributions[loss.rawValue].append(seedValue(seed))
        for node in forward.nodes.reversed() {
            guard node.outputs.contains(where: { needsGradient[$0.rawValue] && reachesLoss[$0.rawValue] }) else { continue }
            let needs = node.inputs.map { needsGradient[$0.rawValue] }
            guard needs.contains(true) else { continue }
            var upstream: [ValueID?] = []
            for v in node.outputs { upstream.append(try total(v)) }
            guard upstream.contains(where: { $0 != nil }) else { continue }
            builder.enter(node)
            let grads: [ValueID?]
            do {
                grads = try builder.vectorJacobian(node, upstream: upstream, needs: needs)
            } catch let error as GraphError where error.code == .notDifferentiable {
                throw error
            } catch {
                throw GraphError(
                    .notDifferentiable, "gradients: differentiating \(forward.describe(node.id)) failed: \(Graph.rule(of: error))", cause: error)
            }
            for (i, g) in grads.enumerated() where needs[i] {
                guard let g else { continue }
                let input = node.inputs[i]
                contributions[input.rawValue].append(try builder.conform(g, to: forward[value: input].type))
            }
        }
        var result: [ValueID] = []
        for t in targets {
            if let g = try total(t) {
                result.append(g)
            } else {
                builder.enter(forward[node: forward[value: t].producer])
                let zero = try builder.zeros(forward[value: t].type)
                builder.claim(zero, as: gradientName(of: t))
                result.append(zero)
            }
        }
        return result
    }

    private mutating func seedValue(_ seed: GradientSeed) throws -> ValueID {
        let type = forward[value: loss].type
        let value: ValueID
        switch seed {
        case .constant(let x):
            value = try builder.constant(Tensor.full(type.shape, value: x, dtype: type.dtype))
        case .value(let v):
            guard v.rawValue >= 0 && v.rawValue < forward.values.count else {
                throw GraphError(.unknownReference, "gradients: the seed \(v) is not a value of this graph")
            }
            let seedType = forward[value: v].type
            guard seedType.dtype.isFloatingPoint, seedType.shape.elementCount == 1 else {
                throw GraphError(
                    .notDifferentiable, "gradients: the seed \(v) is \(seedType); it must be a floating-point value with one element, like the loss")
            }
            value = try builder.conform(v, to: type)
        }
        builder.claim(value, as: gradientName(of: loss))
        return value
    }

    /// The sum of the contributions to `v`, built once when first asked for (every consumer of
    /// `v` comes later in topological order, so all contributions are in by then).
    private mutating func total(_ v: ValueID) throws -> ValueID? {
        if totalled[v.rawValue] { return totals[v.rawValue] }
        totalled[v.rawValue] = true
        let parts = contributions[v.rawValue]
        guard var sum = parts.first else { return nil }
        builder.enter(forward[node: forward[value: v].producer])
        for part in parts.dropFirst() { sum = try builder.add(sum, part) }
        builder.claim(sum, as: gradientName(of: v))
        totals[v.rawValue] = sum
        return sum
    }

    /// `fc1.grad` for the first output of node `fc1`, `ln.1.grad` for its second.
    private func gradientName(of v: ValueID) -> String {
        let value = forward[value: v]
        let name = forward[node: value.producer].name
        return value.outputIndex == 0 ? "\(name).grad" : "\(name).\(value.outputIndex).grad"
    }
}

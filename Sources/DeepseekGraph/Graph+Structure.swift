import DeepseekTensor

extension Graph {
    /// A hash of everything that decides how the graph is planned: ops and attributes, edges,
    /// value types, pins and outputs — not node names or constant values' provenance.
    ///
    /// Two traces of an unchanged model give the same hash in every process and every run, so the
    /// engine plans a define-by-run graph once and serves later steps from its plan cache.
    /// Constants are hashed by their bytes.
    ///
    /// - Complexity: O(nodes + edges + constant bytes).
    public var structuralHash: StructuralHash {
        var h = StructuralHasher(seed: 0x6772_6170_6821)
        h.combine(nodes.count)
        for n in nodes {
            n.op.combineStructure(into: &h)
            if case .constant(let t) = n.op, !t.isMeta, let bytes = try? t.contiguous() {
                bytes.withUnsafeBytesOfStorage { raw in
                    var i = 0
                    while i + 8 <= raw.count {
                        h.combine(raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                        i += 8
                    }
                    while i < raw.count {
                        h.combine(Int(raw[i]))
                        i += 1
                    }
                }
            }
            h.combine(n.inputs.count)
            for v in n.inputs { h.combine(v.rawValue) }
            for v in n.outputs {
                let t = values[v.rawValue].type
                h.combine(Int(t.dtype.rawValue) << 32 | t.shape.rank)
                for d in t.shape.dims { h.combine(d) }
            }
            if let kind = n.pin.kind { h.combine(kind.name) } else { h.combine(0 as UInt64) }
            h.combine(n.pin.device ?? -1)
            h.combine(n.pin.process ?? -1)
        }
        h.combine(outputs.count)
        for v in outputs { h.combine(v.rawValue) }
        return h.finalize()
    }

    /// The graph as a scheduling problem on `devices`, with `cost(node, kind)` giving estimated
    /// seconds (nil when the kind cannot run the node).
    ///
    /// Compute nodes become scheduling nodes in graph order (`schedulingNode[id]`); sources
    /// (inputs, parameters, constants) become values without a producer, homed in `sourceProcess`.
    public func schedulingProblem(
        devices: [(kind: DeviceKind, process: Int)], sourceProcess: Int = 0, transferSecondsPerByte: Double = 1e-9,
        transferLatencySeconds: Double = 50e-6, cost: (Node, DeviceKind) -> Double?
    ) -> (problem: SchedulingProblem, nodeOf: [GraphNodeID], schedulingNode: [Int?]) {
        var problem = SchedulingProblem(transferSecondsPerByte: transferSecondsPerByte, transferLatencySeconds: transferLatencySeconds)
        for d in devices { _ = problem.addDevice(kind: d.kind.name, process: d.process) }
        let isOutput = Set(outputs)
        for v in values {
            _ = problem.addValue(byteCount: v.type.byteCount, homeProcess: nodes[v.producer.rawValue].pin.process ?? sourceProcess, isGraphOutput: isOutput.contains(v.id))
        }
        var nodeOf: [GraphNodeID] = []
        var schedulingNode = [Int?](repeating: nil, count: nodes.count)
        let kinds = Array(Set(devices.map(\.kind))).sorted()
        var costs = CostTable()
        for n in nodes where !n.op.isSource {
            let index = problem.addNode(
                n.name, op: n.op.label, inputs: n.inputs.map(\.rawValue), outputs: n.outputs.map(\.rawValue),
                pinnedDevice: n.pin.device.map(DeviceID.init), pinnedProcess: n.pin.process, pinnedKind: n.pin.kind?.name)
            schedulingNode[n.id.rawValue] = index
            nodeOf.append(n.id)
            for kind in kinds { costs[node: index, kind: kind.name] = cost(n, kind) }
        }
        problem.costs = costs
        return (problem, nodeOf, schedulingNode)
    }
}

extension GraphOp {
    /// Folds the op and its attributes into `h` — the same information as `signature`, without
    /// building a string for the common ops (hashing runs on every step of a define-by-run model).
    func combineStructure(into h: inout StructuralHasher) {
        switch self {
        case .unary(let op):
            h.combine(1 as UInt64)
            h.combine(op.description)
        case .binary(let op): h.combine(2 as UInt64); h.combine(Int(BinaryOp.allCases.firstIndex(of: op) ?? -1))
        case .matmul: h.combine(3 as UInt64)
        case .reduce(let op, let axes, let keep):
            h.combine(4 as UInt64); h.combine(Int(ReduceOp.allCases.firstIndex(of: op) ?? -1)); h.combine(keep)
            h.combine(axes.count); for a in axes { h.combine(a) }
        case .reshape(let shape): h.combine(5 as UInt64); h.combine(shape.rank); for d in shape.dims { h.combine(d) }
        case .permute(let axes): h.combine(6 as UInt64); h.combine(axes.count); for a in axes { h.combine(a) }
        case .expand(let shape): h.combine(7 as UInt64); h.combine(shape.rank); for d in shape.dims { h.combine(d) }
        case .input, .parameter: h.combine(8 as UInt64); h.combine(signature)
        default: h.combine(9 as UInt64); h.combine(signature)
        }
    }
}

extension Tensor {
    /// The bytes of a contiguous tensor.
    func withUnsafeBytesOfStorage<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard let base = storage.baseAddress else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return body(UnsafeRawBufferPointer(start: base + offset * dtype.byteSize, count: byteCount))
    }
}

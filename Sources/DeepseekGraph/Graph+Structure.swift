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
            h.combine(n.op.signature)
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
            for v in n.outputs { h.combine(values[v.rawValue].type.description) }
            h.combine(n.pin.kind?.name ?? "")
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

extension Tensor {
    /// The bytes of a contiguous tensor.
    func withUnsafeBytesOfStorage<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        guard let base = storage.baseAddress else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return body(UnsafeRawBufferPointer(start: base + offset * dtype.byteSize, count: byteCount))
    }
}

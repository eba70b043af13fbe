public import DeepseekTensor

/// A graph's memory plan: arena offsets for its activations in node order, and how views map
/// onto the buffers they alias.
public struct GraphMemoryPlan: Sendable {
    /// The plan over the graph's values (value index = `ValueID.rawValue`).
    public let plan: MemoryPlan
    /// For each value, the value whose buffer it shares (itself unless it is a view).
    public let root: [Int]

    public var report: MemoryPlanReport { plan.report }
}

/// What a planned run did with memory.
public struct PlannedRunStatistics: Sendable, Hashable, CustomStringConvertible {
    /// The arena's size: the planned peak of activation memory.
    public var arenaBytes: Int
    /// Bytes if every activation had its own buffer (no planning).
    public var unplannedBytes: Int
    /// Outputs that kernels allocated outside their slot (multi-output ops, copies) and were moved in.
    public var copiedIntoSlot: Int
    /// Outputs left outside the arena (a view that had to copy, an op that returned an operand).
    public var outsideArena: Int

    public var description: String {
        let saved = unplannedBytes > 0 ? 100 * (1 - Double(arenaBytes) / Double(unplannedBytes)) : 0
        return "arena \(arenaBytes) B vs \(unplannedBytes) B unplanned (\(Int(saved.rounded()))% less); \(copiedIntoSlot) copied into slot, \(outsideArena) outside the arena"
    }
}

extension Graph {
    /// Plans the activations' memory for running the nodes in graph order: liveness intervals,
    /// buffer reuse in one arena, and element-wise nodes writing over an input that dies there.
    ///
    /// Views (reshape, permute, slice, expand) allocate nothing: they read their source's buffer,
    /// which therefore lives until the view's last use.
    public func memoryPlan(settings: MemoryPlannerSettings = MemoryPlannerSettings()) throws -> GraphMemoryPlan {
        var root = Array(values.indices)
        var problem = MemoryPlanningProblem()
        let isOutput = Set(outputs.map(\.rawValue))
        for v in values {
            let producer = nodes[v.producer.rawValue]
            let kind: MemoryPlanningProblem.Value.Kind =
                switch producer.op {
                case .input: .graphInput
                case .parameter: .parameter
                case .constant: .constant
                default: .activation
                }
            problem.addValue(byteCount: v.type.byteCount, kind: kind, isGraphOutput: isOutput.contains(v.id.rawValue))
        }
        // Values that some view reads: writing over them in place would corrupt the view.
        var viewed = Set<Int>()
        for n in nodes where n.op.isView {
            root[n.outputs[0].rawValue] = root[n.inputs[0].rawValue]
            viewed.insert(root[n.inputs[0].rawValue])
            // A view owns no bytes, so it is not planned (like a constant); its source is.
            problem.values[n.outputs[0].rawValue].kind = .constant
            problem.values[n.outputs[0].rawValue].isGraphOutput = false
        }
        var readers = [Int](repeating: 0, count: values.count)
        for n in nodes { for v in Set(n.inputs.map { root[$0.rawValue] }) { readers[v] += 1 } }
        for n in nodes where !n.op.isSource {
            let reads = Array(Set(n.inputs.map { root[$0.rawValue] })).sorted()
            if n.op.isView {
                // A graph output that is a view must keep its source alive to the end.
                problem.addStep(reads: reads, writes: [])
                continue
            }
            var hints: [MemoryPlanningProblem.InPlaceHint] = []
            if n.op.isElementwise, let out = n.outputs.first {
                let outType = values[out.rawValue].type
                for input in n.inputs {
                    let r = root[input.rawValue]
                    guard r == input.rawValue, problem.values[r].kind == .activation, !viewed.contains(r), !isOutput.contains(r),
                        values[r].type.shape == outType.shape, values[r].type.byteCount == outType.byteCount
                    else { continue }
                    hints.append(.init(output: out.rawValue, input: r))
                    break
                }
            }
            problem.addStep(reads: reads, writes: n.outputs.map(\.rawValue), inPlace: hints)
        }
        // Graph outputs that are views keep their root alive to the end.
        for v in outputs where root[v.rawValue] != v.rawValue { problem.values[root[v.rawValue]].isGraphOutput = true }
        do {
            return GraphMemoryPlan(plan: try MemoryPlanner.plan(problem, settings: settings), root: root)
        } catch {
            throw GraphError(.execution, "memory planning failed: \(error.message)", cause: error)
        }
    }

    /// Runs the graph in node order with every activation placed in one arena as `memory` plans.
    ///
    /// Outputs are bit-for-bit those of `run(_:)`: the same kernels run in the same order, only
    /// their output buffers differ. Returned tensors keep the arena alive.
    public func run(_ feeds: GraphFeeds, memory: GraphMemoryPlan) throws -> (outputs: [Tensor], statistics: PlannedRunStatistics) {
        try validate(feeds)
        let plan = memory.plan
        let arena = try TensorArena(byteCount: plan.arenaByteCount)
        var live = [Tensor?](repeating: nil, count: values.count)
        var stats = PlannedRunStatistics(arenaBytes: plan.arenaByteCount, unplannedBytes: plan.report.unplannedByteCount, copiedIntoSlot: 0, outsideArena: 0)
        var step = 0
        for n in nodes {
            switch n.op {
            case .input(let name): live[n.outputs[0].rawValue] = feeds.inputs[name]
            case .parameter(let name): live[n.outputs[0].rawValue] = feeds.parameters[name]
            case .constant(let t): live[n.outputs[0].rawValue] = t
            default:
                let args = n.inputs.map { live[$0.rawValue]! }
                let first = n.outputs.first.flatMap { plan.placements[$0.rawValue] }
                let results: [Tensor]
                do {
                    if let first, !n.op.isView {
                        results = try arena.withOutputSlot(offset: first.offset, byteCount: first.byteCount) { try n.op.evaluate(args) }
                    } else {
                        results = try n.op.evaluate(args)
                    }
                } catch {
                    throw GraphError(.execution, "\(describe(n.id)): \(Self.rule(of: error))", cause: error)
                }
                for (v, t) in zip(n.outputs, results) {
                    guard !n.op.isView, let place = plan.placements[v.rawValue] else {
                        live[v.rawValue] = t
                        continue
                    }
                    if arena.offset(of: t) == place.offset && t.isContiguous {
                        live[v.rawValue] = t
                    } else if arena.offset(of: t) != nil || n.op.outputCount > 1 {
                        // The kernel returned an operand living in the arena, or a multi-output
                        // op allocated its other outputs itself: move them into their slots.
                        let slot = arena.tensor(offset: place.offset, shape: t.shape, dtype: t.dtype)
                        try t.contiguous().copyBytes(into: slot)
                        live[v.rawValue] = slot
                        stats.copiedIntoSlot += 1
                    } else {
                        live[v.rawValue] = t
                        stats.outsideArena += 1
                    }
                }
                if step < plan.releasedAfterStep.count {
                    for r in plan.releasedAfterStep[step] { live[r] = nil }
                }
                step += 1
            }
        }
        return (outputs.map { live[$0.rawValue]! }, stats)
    }
}

extension Tensor {
    /// Copies a contiguous tensor's bytes into `destination` (same byte count).
    func copyBytes(into destination: Tensor) throws {
        guard let src = storage.baseAddress, let dst = destination.storage.baseAddress else { return }
        precondition(byteCount == destination.byteCount, "copyBytes: \(byteCount) vs \(destination.byteCount) bytes")
        (dst + destination.offset * dtype.byteSize).copyMemory(from: src + offset * dtype.byteSize, byteCount: byteCount)
    }
}

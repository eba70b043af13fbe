public import DeepseekNN
import DeepseekTensor
import Distributed

/// Bytes of training state one rank holds.
public struct MemoryFootprint: Sendable, Hashable, CustomStringConvertible {
    /// The model's parameter values held in full (0 in stage 3 between steps).
    public var modelParameterBytes: Int
    /// The shard's own slice of the parameters (the optimizer's float32 master copy).
    public var shardParameterBytes: Int
    /// Gradient buffers kept through a step: the whole gradient in stage 1, the shard's slice in 2 and 3.
    public var gradientBytes: Int
    /// The largest bucket, held transiently while it is reduced (stages 2 and 3).
    public var bucketBytes: Int
    /// Momentum buffers and moments of the shard's optimizer, as it reports them.
    public var optimizerStateBytes: Int
    /// Error-feedback residuals and momentum-correction velocities of top-k compression.
    public var compressionBytes: Int

    public var total: Int { modelParameterBytes + shardParameterBytes + gradientBytes + bucketBytes + optimizerStateBytes + compressionBytes }

    public var description: String {
        func mib(_ b: Int) -> String { "\(Double(b * 100 / 1_048_576) / 100) MiB" }
        return "params \(mib(modelParameterBytes)) + shard \(mib(shardParameterBytes)), grads \(mib(gradientBytes)) (+\(mib(bucketBytes)) bucket), optimizer \(mib(optimizerStateBytes)), compression \(mib(compressionBytes)); total \(mib(total))"
    }
}

extension DistributedOptimizer {
    /// What this rank holds now: parameters, gradient buffers, optimizer state.
    public func memory() async throws -> MemoryFootprint {
        let model = parameters.filter { $0.isTrainable && !$0.value.isMeta }.reduce(0) { $0 + $1.value.byteCount }
        let largestBucket = buckets.map(\.range.count).max() ?? 0
        return MemoryFootprint(
            modelParameterBytes: model,
            shardParameterBytes: try await shard.parameterBytes(),
            gradientBytes: 4 * (settings.stage == .one ? layout.count : ownRange.count) + 4 * accumulated.values.reduce(0) { $0 + $1.count },
            bucketBytes: settings.stage == .one ? 0 : 4 * largestBucket,
            optimizerStateBytes: try await shard.optimizerStateBytes(),
            compressionBytes: 4 * compressors.values.reduce(0) { $0 + $1.residual.count + $1.velocity.count })
    }

    /// Stage 3: gathers every shard's parameters into the model before a forward pass.
    public func gatherParameters() async throws {
        let mine = try await shard.currentValues().scalars(as: Float.self)
        let full = try await communicator.allGather(mine, layout: shards, tag: tag(0xFFFFD))
        try layout.assign(full, to: parameters)
    }

    /// Stage 3: drops the model's full parameter values (they become meta tensors: shape only)
    /// until the next `gatherParameters`.
    public func releaseParameters() {
        for p in parameters where p.isTrainable {
            let v = p.value
            p.value = Tensor.meta(v.shape, dtype: v.dtype)
        }
    }

    /// The names optimizer states keep per-parameter tensors under.
    static let statePrefixes = ["momentum", "m", "v"]

    /// The optimizer state of all shards in whole-parameter form — the same names a
    /// single-process optimizer uses (`m.fc1.weight`, `step.fc1.weight`), so it can be saved in
    /// a checkpoint and restored on any number of ranks. Every rank must call it.
    public func consolidatedState() async throws -> OptimizerState {
        guard let local = await shard.whenLocal({ $0.exportState() }) else {
            throw CollectiveError(.invalidArgument, "the shard of \(communicator.group.describe(rank)) is not local")
        }
        var tensors: [String: Tensor] = [:]
        if replicatesUpdates {
            // Every rank holds the whole state already.
            for prefix in Self.statePrefixes {
                guard let flat = local.flat[prefix], flat.contains(where: { $0 != 0 }) else { continue }
                for e in layout.entries { tensors["\(prefix).\(e.name)"] = try Tensor(Array(flat[e.range]), shape: e.shape) }
            }
            return OptimizerState(kind: local.kind, step: local.step, scalars: local.scalars, tensors: tensors)
        }
        for (i, prefix) in Self.statePrefixes.enumerated() {
            let mine = local.flat[prefix] ?? [Float](repeating: 0, count: ownRange.count)
            let full = try await communicator.allGather(mine, layout: shards, tag: 1 << 62 | step << 8 | UInt64(i))
            guard full.contains(where: { $0 != 0 }) else { continue }
            for e in layout.entries { tensors["\(prefix).\(e.name)"] = try Tensor(Array(full[e.range]), shape: e.shape) }
        }
        // Per-parameter scalars (update counts) come from the shard holding the parameter's first element.
        var counts = [Float](repeating: 0, count: layout.entries.count)
        for (i, e) in layout.entries.enumerated() where ownRange.contains(e.offset) { counts[i] = Float(local.scalars["step.\(e.name)"] ?? 0) }
        let allCounts = try await communicator.allReduce(counts, tag: 1 << 62 | step << 8 | 0xFF)
        var scalars = local.scalars.filter { !$0.key.hasPrefix("step.") }
        for (i, e) in layout.entries.enumerated() where allCounts[i] > 0 { scalars["step.\(e.name)"] = Double(allCounts[i]) }
        return OptimizerState(kind: local.kind, step: local.step, scalars: scalars, tensors: tensors)
    }

    /// Continues from a consolidated state, whatever number of ranks saved it: each shard takes
    /// the slices of its own range (the shards are re-partitioned).
    public func restore(_ state: OptimizerState) async throws {
        try await shard.whenLocal { try $0.importState(state, prefixes: Self.statePrefixes) }
        if let lr = state.scalars["learningRate"] { learningRate = lr }
    }
}

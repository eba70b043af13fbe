import DeepseekCore
import DeepseekNN
import DeepseekTensor
import DeepseekTraining
import Testing

/// A small model's parameters, the same values on every call.
func replicaParameters() -> [Parameter] {
    var rng = SeededRandom(seed: 99)
    func t(_ shape: [Int]) -> Tensor { try! Tensor((0..<shape.reduce(1, *)).map { _ in Float(rng.nextNormal()) * 0.5 }, shape: Shape(shape)) }
    return [Parameter("fc1.weight", t([8, 5])), Parameter("fc1.bias", t([5])), Parameter("fc2.weight", t([5, 3])), Parameter("fc2.bias", t([3]))]
}

/// Gradients rank `rank` computes at `step`.
func rankGradients(rank: Int, step: Int) -> [String: Tensor] {
    var rng = SeededRandom(seed: UInt64(1000 * step + rank))
    var out: [String: Tensor] = [:]
    for p in replicaParameters() {
        let shape = p.value.shape
        out[p.name] = try! Tensor((0..<shape.elementCount).map { _ in Float(rng.nextNormal()) }, shape: shape)
    }
    return out
}

func meanGradients(ranks: Int, step: Int) -> [String: Tensor] {
    var sums: [String: [Double]] = [:]
    var shapes: [String: Shape] = [:]
    for r in 0..<ranks {
        for (name, g) in rankGradients(rank: r, step: step) {
            let v = try! g.scalarsAsDouble()
            sums[name] = zip(sums[name] ?? [Double](repeating: 0, count: v.count), v).map { $0 + $1 }
            shapes[name] = g.shape
        }
    }
    return sums.mapValues { _ in Tensor([Float]()) }.reduce(into: [:]) { out, kv in
        out[kv.key] = try! Tensor(sums[kv.key]!.map { Float($0 / Double(ranks)) }, shape: shapes[kv.key]!)
    }
}

func flatValues(_ ps: [Parameter]) -> [Float] { ps.flatMap { try! $0.value.scalars(as: Float.self) } }

/// Every rank of an in-process world with its own replica and distributed optimizer.
struct TrainingWorld {
    let world: InProcessWorld
    let replicas: [[Parameter]]
    let optimizers: [DistributedOptimizer]

    init(ranks: Int, optimizer: OptimizerChoice, compression: GradientCompression = .none, settings: DistributedSettings = .init()) async throws {
        world = try await InProcessWorld(ranks: ranks)
        replicas = (0..<ranks).map { _ in replicaParameters() }
        var optimizers: [DistributedOptimizer] = []
        for r in 0..<ranks {
            optimizers.append(try await DistributedOptimizer(replicas[r], optimizer: optimizer, compression: compression, settings: settings, communicator: world.communicators[r]))
        }
        self.optimizers = optimizers
    }

    func step(_ step: Int) async throws {
        let optimizers = self.optimizers
        _ = try await world.each { c in
            let o = optimizers[c.rank]
            if o.settings.stage == .three { try await o.gatherParameters() }
            try await o.step(gradients: rankGradients(rank: c.rank, step: step))
            if o.settings.stage == .three { try await o.gatherParameters() }
            return 0
        }
    }
}

@Suite struct DistributedOptimizerTests {
    @Test(arguments: ZeROStage.allCases) func dataParallelStepsMatchOneProcessAndKeepReplicasIdentical(stage: ZeROStage) async throws {
        let tw = try await TrainingWorld(ranks: 4, optimizer: .adam(learningRate: 0.01), settings: .init(stage: stage, bucketBytes: 64))
        let reference = replicaParameters()
        var adam = try Adam(learningRate: 0.01)
        for s in 0..<3 {
            try await tw.step(s)
            try adam.step(reference, gradients: meanGradients(ranks: 4, step: s))
            for r in 1..<4 { #expect(bits(flatValues(tw.replicas[r])) == bits(flatValues(tw.replicas[0])), "rank \(r) step \(s)") }
            for (a, b) in zip(flatValues(tw.replicas[0]), flatValues(reference)) { #expect(abs(a - b) < 1e-4) }
        }
    }

    @Test func lambWithTensorAlignedShardsMatchesOneProcess() async throws {
        let tw = try await TrainingWorld(ranks: 3, optimizer: .lamb(learningRate: 0.01))
        #expect(tw.optimizers[0].shards.boundaries.allSatisfy { b in b == 0 || ParameterLayout(replicaParameters()).entries.contains { $0.range.upperBound == b } })
        let reference = replicaParameters()
        var lamb = try LAMB(learningRate: 0.01)
        for s in 0..<2 {
            try await tw.step(s)
            try lamb.step(reference, gradients: meanGradients(ranks: 3, step: s))
        }
        for (a, b) in zip(flatValues(tw.replicas[2]), flatValues(reference)) { #expect(abs(a - b) < 1e-4) }
    }

    @Test func gradientsHandedOverOneByOneGiveTheSameStepAsAllAtOnce() async throws {
        let whole = try await TrainingWorld(ranks: 2, optimizer: .sgd(learningRate: 0.1), settings: .init(stage: .two))
        let bucketed = try await TrainingWorld(ranks: 2, optimizer: .sgd(learningRate: 0.1), settings: .init(stage: .two, bucketBytes: 32))
        #expect(bucketed.optimizers[0].buckets.count > 1)
        try await whole.step(0)
        let optimizers = bucketed.optimizers
        _ = try await bucketed.world.each { c in
            let o = optimizers[c.rank]
            await o.beginStep()
            for (name, g) in rankGradients(rank: c.rank, step: 0).sorted(by: { $0.key > $1.key }) { try await o.gradientReady(name: name, tensor: g) }
            try await o.finishStep()
            return 0
        }
        for r in 0..<2 { #expect(flatValues(bucketed.replicas[r]) == flatValues(whole.replicas[r])) }
    }

    @Test func zeroStagesShardWhatTheyShouldAndReportIt() async throws {
        let psi = ParameterLayout(replicaParameters()).count
        var report: [ZeROStage: MemoryFootprint] = [:]
        for stage in ZeROStage.allCases {
            let tw = try await TrainingWorld(ranks: 4, optimizer: .adam(), settings: .init(stage: stage, bucketBytes: 32))
            try await tw.step(0)
            let m = try await tw.optimizers[1].memory()
            report[stage] = m
            let own = tw.optimizers[1].ownRange.count
            #expect(m.optimizerStateBytes == 8 * own, "Adam keeps two moments for the shard only")
            #expect(m.shardParameterBytes == 4 * own)
            #expect(m.gradientBytes == (stage == .one ? 4 * psi : 4 * own))
            #expect(m.modelParameterBytes == (stage == .three ? 4 * psi : 4 * psi))  // stage 3 gathered for the next forward
            if stage == .three {
                await tw.optimizers[1].releaseParameters()
                #expect(try await tw.optimizers[1].memory().modelParameterBytes == 0)
            }
        }
        #expect(report[.two]!.total < report[.one]!.total)
    }

    @Test func topKWithErrorFeedbackKeepsReplicasIdenticalAndSendsFewerBytes() async throws {
        let dense = try await TrainingWorld(ranks: 4, optimizer: .sgd(learningRate: 0.05))
        let sparse = try await TrainingWorld(ranks: 4, optimizer: .sgd(learningRate: 0.05), compression: .topK(density: 0.1))
        for s in 0..<3 {
            try await dense.step(s)
            try await sparse.step(s)
        }
        for r in 1..<4 { #expect(bits(flatValues(sparse.replicas[r])) == bits(flatValues(sparse.replicas[0]))) }
        let denseBytes = await dense.world.communicators[0].traffic.bytesSent
        let sparseBytes = await sparse.world.communicators[0].traffic.bytesSent
        #expect(sparseBytes < denseBytes)
    }

    @Test func slowSyncGroupsApplyHeldBackGradientsWithinTheirStalenessBound() async throws {
        let slow = SyncGroup.prefixes("fc1", ["fc1."], every: 3)
        let tw = try await TrainingWorld(ranks: 2, optimizer: .sgd(learningRate: 0.1), settings: .init(syncGroups: [slow]))
        let start = try tw.replicas[0][0].value.scalars(as: Float.self)
        try await tw.step(0)
        try await tw.step(1)
        #expect(try tw.replicas[0][0].value.scalars(as: Float.self) == start, "fc1 is held back for two steps")
        #expect(try tw.replicas[0][2].value.scalars(as: Float.self) != replicaParameters()[2].value.scalars(as: Float.self))
        try await tw.step(2)
        let reference = replicaParameters()
        var sgd = try SGD(learningRate: 0.1)
        var summed: [String: Tensor] = [:]
        for s in 0..<3 { for (k, g) in meanGradients(ranks: 2, step: s) where k.hasPrefix("fc1") { summed[k] = try summed[k].map { try $0 + g } ?? g } }
        try sgd.step(reference, gradients: summed)
        for (a, b) in zip(try tw.replicas[1][0].value.scalars(as: Float.self), try reference[0].value.scalars(as: Float.self)) { #expect(abs(a - b) < 1e-5) }
        #expect(await tw.optimizers[0].syncState.worstStaleness == 2)
    }

    @Test func syncScheduleSynchronisesImportantGroupsEveryStepAndBoundsStaleness() {
        var s = SyncSchedule(groups: [SyncGroup("g", every: 10, maxStaleness: 4, importanceThreshold: 0.01) { _ in true }])
        #expect(s.plan() == [true], "no ratio yet: treated as important")
        s.record(ratio: 0.001, group: 0)
        let plans = (0..<8).map { _ in s.plan()[0] }
        #expect(plans == [false, false, false, true, false, false, false, true])
        s.record(ratio: 0.5, group: 0)
        #expect(s.plan() == [true])
        #expect(s.worstStaleness == 3)
    }

    @Test func consolidatedStateRestoresOnFewerRanksWithShardsRepartitioned() async throws {
        let four = try await TrainingWorld(ranks: 4, optimizer: .adam(learningRate: 0.01))
        let reference = replicaParameters()
        var adam = try Adam(learningRate: 0.01)
        for s in 0..<2 {
            try await four.step(s)
            try adam.step(reference, gradients: meanGradients(ranks: 4, step: s))
        }
        let states = try await four.world.each { c in try await four.optimizers[c.rank].consolidatedState() }
        let state = states[0]
        #expect(state.kind == "adam" && Set(state.tensors.keys) == Set(adam.state.tensors.keys))
        for (k, t) in adam.state.tensors {
            for (a, b) in zip(try state.tensors[k]!.scalars(as: Float.self), try t.scalars(as: Float.self)) { #expect(abs(a - b) < 1e-5) }
        }
        // Resume on three ranks from the four-rank parameters and state.
        let three = try await TrainingWorld(ranks: 3, optimizer: .adam(learningRate: 0.01))
        let flat = flatValues(four.replicas[0])
        for r in 0..<3 { try ParameterLayout(three.replicas[r]).assign(flat, to: three.replicas[r]) }
        var fresh: [DistributedOptimizer] = []
        for r in 0..<3 {
            let o = try await DistributedOptimizer(three.replicas[r], optimizer: .adam(learningRate: 0.01), communicator: three.world.communicators[r])
            try await o.restore(state)
            fresh.append(o)
        }
        let resumed = fresh
        _ = try await three.world.each { c in try await resumed[c.rank].step(gradients: meanGradients(ranks: 4, step: 2)); return 0 }
        try adam.step(reference, gradients: meanGradients(ranks: 4, step: 2))
        for (a, b) in zip(flatValues(three.replicas[1]), flatValues(reference)) { #expect(abs(a - b) < 1e-4) }
    }
}

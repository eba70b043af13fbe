public import DeepseekNN
public import DeepseekTensor
public import DeepseekRuntime
import DeepseekActors
import Distributed

/// How much of the training state each rank holds (ZeRO stages).
public enum ZeROStage: Int, Sendable, Hashable, CaseIterable {
    /// Optimizer state sharded; gradients and parameters replicated.
    case one = 1
    /// Gradients sharded too: each bucket is reduce-scattered and only this rank's slice is kept.
    case two = 2
    /// Parameters sharded too: gathered on demand (`gatherParameters`) and released after the step.
    case three = 3
}

/// Settings of a distributed optimizer.
public struct DistributedSettings: Sendable {
    public var stage: ZeROStage
    /// Gradient bytes (float32) per bucket: a bucket is reduced as soon as all its gradients are in.
    public var bucketBytes: Int
    /// Cut shards only at tensor boundaries (`nil`: when the optimizer needs whole tensors, i.e. LAMB).
    public var alignShardsToTensors: Bool?
    /// Parameter groups synchronised less often; parameters in none of them synchronise every step.
    public var syncGroups: [SyncGroup]
    /// Gives the optimizer step a modelled duration on virtual time (the simulator's device
    /// model); `nil`: it takes the time it takes.
    public var pacing: (any KernelPacing)?

    public init(
        stage: ZeROStage = .one, bucketBytes: Int = 1 << 20, alignShardsToTensors: Bool? = nil, syncGroups: [SyncGroup] = [], pacing: (any KernelPacing)? = nil
    ) {
        self.pacing = pacing
        self.stage = stage
        self.bucketBytes = bucketBytes
        self.alignShardsToTensors = alignShardsToTensors
        self.syncGroups = syncGroups
    }
}

/// Data-parallel training across the ranks of a communicator: gradients are bucketed and
/// reduced while the backward pass still runs, each rank's `ParameterShard` applies the
/// optimizer to its slice (ZeRO), and the updated slices are gathered back.
///
/// ```swift
/// let optimizer = try await DistributedOptimizer(
///     model.parameters, optimizer: .lamb(learningRate: 1e-3), precision: .fp16,
///     compression: .topK(density: 0.01), settings: .init(stage: .two), communicator: comm)
/// try await optimizer.step(gradients: gradients)               // all at once, or:
/// await optimizer.beginStep()
/// try await optimizer.gradientReady(name: "fc2.weight", tensor: g)  // as backward produces them
/// try await optimizer.finishStep()
/// ```
/// Every rank must make the same calls with the same parameter names; the gradients are
/// averaged over ranks. After `finishStep` every replica holds bit-identical parameters.
public actor DistributedOptimizer {
    public nonisolated let layout: ParameterLayout
    public nonisolated let shards: ChunkLayout
    public nonisolated let communicator: Communicator
    public nonisolated let settings: DistributedSettings
    public nonisolated let compression: GradientCompression
    public nonisolated let precision: WirePrecision
    public nonisolated let buckets: [Bucket]
    let parameters: [Parameter]
    let shard: ParameterShard
    let groupOfEntry: [Int]
    /// The learning rate the next step applies.
    public var learningRate: Double
    var schedule: SyncSchedule
    var syncing: [Bool] = []
    var step: UInt64 = 1
    var inStep = false
    var fullGradient: [Float] = []  // stage 1
    var shardGradient: [Float]  // stages 2 and 3
    var bucketBuffers: [Int: [Float]] = [:]
    var accumulated: [Int: [Float]] = [:]  // gradients held back by sync groups, per bucket
    var missing: [Set<String>] = []
    var reductions: [Int: Task<Void, any Error>] = [:]
    var compressors: [Int: TopKCompressor] = [:]
    /// When the step in progress began, and what happened in it so far.
    var stepStarted = ContinuousClock.now
    var timeline = StepTimeline(buckets: 0)
    /// What happened when in the last finished step (`nil` before the first).
    public private(set) var lastStepTimeline: StepTimeline?

    /// A contiguous run of parameters reduced together.
    public struct Bucket: Sendable, Hashable {
        public var range: Range<Int>
        public var names: [String]
        public var group: Int
    }

    /// - Parameters:
    ///   - parameters: the model's parameters (same names and shapes on every rank).
    ///   - optimizer: run on each rank's shard.
    ///   - precision: the precision gradients travel in (float32 master weights either way).
    ///   - compression: dense, or top-k with error feedback.
    /// - Throws: `CollectiveError.invalidArgument` for bad settings.
    public init(
        _ parameters: [Parameter], optimizer: OptimizerChoice, precision: Precision = .fp32, compression: GradientCompression = .none,
        settings: DistributedSettings = .init(), communicator: Communicator
    ) async throws {
        guard settings.bucketBytes >= 4 else { throw CollectiveError(.invalidArgument, "bucketBytes must be at least 4, got \(settings.bucketBytes)") }
        let layout = ParameterLayout(parameters)
        let n = communicator.worldSize
        let shards = layout.shards(n, alignedToTensors: settings.alignShardsToTensors ?? optimizer.needsWholeTensors)
        // With top-k compression every rank ends the reduction holding the same summed sparse
        // gradient, so each updates every parameter itself (as data parallelism without shards
        // does) and no updated slices travel: an all-gather of the parameters would send more
        // than the compressed gradients. Sharding what is replicated makes no sense, so stages
        // 2 and 3 are refused with it.
        var replicated = false
        if case .topK = compression { replicated = true }
        if replicated && settings.stage != .one {
            throw CollectiveError(
                .invalidArgument,
                "top-k compression updates every parameter on every rank, so ZeRO stage \(settings.stage) has nothing to shard; use stage 1 or dense gradients")
        }
        let own = replicated ? 0..<layout.count : shards.range(communicator.rank)
        let groups = settings.syncGroups + [SyncGroup("default", every: 1) { _ in true }]
        let groupOfEntry = layout.entries.map { e in groups.firstIndex { $0.contains(e.name) }! }
        // Buckets in reverse order: backward produces the last layers' gradients first.
        var buckets: [Bucket] = []
        for (i, e) in layout.entries.enumerated().reversed() {
            if var last = buckets.last, last.group == groupOfEntry[i], (last.range.count + e.count) * 4 <= settings.bucketBytes {
                last.range = e.offset..<last.range.upperBound
                last.names.append(e.name)
                buckets[buckets.count - 1] = last
            } else {
                buckets.append(Bucket(range: e.range, names: [e.name], group: groupOfEntry[i]))
            }
        }
        self.layout = layout
        self.shards = shards
        self.replicatesUpdates = replicated
        self.ownRange = own
        self.communicator = communicator
        self.settings = settings
        self.compression = compression
        self.precision = WirePrecision(precision)
        self.buckets = buckets
        self.parameters = parameters
        self.groupOfEntry = groupOfEntry
        self.schedule = SyncSchedule(groups: groups)
        let made = try optimizer.make()
        self.learningRate = made.learningRate
        self.shard = try ParameterShard(
            layout: layout, range: own, values: try layout.flatten(parameters, range: own), optimizer: made, actorSystem: communicator.actorSystem)
        self.shardGradient = settings.stage == .one ? [] : [Float](repeating: 0, count: own.count)
        if case .topK = compression {
            for (b, bucket) in buckets.enumerated() { compressors[b] = try TopKCompressor(count: bucket.range.count, compression) }
        }
        if settings.stage == .three { releaseParameters() }
    }

    public nonisolated var rank: Int { communicator.rank }
    public nonisolated var worldSize: Int { communicator.worldSize }
    /// The flat range this rank's shard owns (everything when updates are replicated).
    public nonisolated let ownRange: Range<Int>
    /// Whether every rank updates every parameter itself (top-k compression) instead of its
    /// shard, so no updated slices are gathered after a step.
    public nonisolated let replicatesUpdates: Bool

    /// One whole step: the gradients of every trainable parameter (missing ones count as zero).
    public func step(gradients: [String: Tensor]) async throws {
        beginStep()
        for e in layout.entries.reversed() {
            if let g = gradients[e.name] { try await gradientReady(name: e.name, tensor: g) }
        }
        try await finishStep()
    }

    /// Starts a step: decides which sync groups synchronise and clears the gradient buffers.
    public func beginStep() {
        guard !inStep else { return }
        inStep = true
        stepStarted = ContinuousClock.now
        timeline = StepTimeline(buckets: buckets.count)
        syncing = schedule.plan()
        missing = buckets.map { Set($0.names) }
        if settings.stage == .one { fullGradient = [Float](repeating: 0, count: layout.count) }
    }

    /// Hands over one parameter's gradient as soon as backward has produced it; when it
    /// completes its bucket, the bucket's reduction starts at once (overlapping the rest of
    /// the backward pass).
    public func gradientReady(name: String, tensor: Tensor) async throws {
        beginStep()
        guard let entry = layout.entry(named: name), let b = buckets.firstIndex(where: { $0.range.contains(entry.offset) && $0.names.contains(name) }) else {
            throw CollectiveError(.invalidArgument, "gradientReady: \"\(name)\" is not a trainable parameter of this optimizer")
        }
        guard missing[b].remove(name) != nil else {
            throw CollectiveError(.invalidArgument, "gradientReady: \"\(name)\" was already handed over this step")
        }
        let values = try layout.flatten([name: tensor], range: entry.range)
        if settings.stage == .one {
            fullGradient.replaceSubrange(entry.range, with: values)
        } else {
            let bucket = buckets[b]
            var buffer = bucketBuffers[b] ?? [Float](repeating: 0, count: bucket.range.count)
            let at = entry.offset - bucket.range.lowerBound
            buffer.replaceSubrange(at..<at + entry.count, with: values)
            bucketBuffers[b] = buffer
        }
        if missing[b].isEmpty { launch(b) }
    }

    func launch(_ b: Int) {
        guard reductions[b] == nil else { return }
        timeline.reductionStarted[b] = ContinuousClock.now - stepStarted
        reductions[b] = Task(executorPreference: communicator.taskExecutor) {
            try await self.reduce(b)
            await self.reductionFinished(b)
        }
    }

    func tag(_ op: UInt64) -> UInt64 { step << 20 | op }

    /// Reduces one bucket (or holds it back when its sync group skips this step).
    func reduce(_ b: Int) async throws {
        let bucket = buckets[b]
        var values = settings.stage == .one ? Array(fullGradient[bucket.range]) : (bucketBuffers.removeValue(forKey: b) ?? [Float](repeating: 0, count: bucket.range.count))
        if let held = accumulated[b] { for i in values.indices { values[i] += held[i] } }
        guard syncing[bucket.group] else {
            accumulated[b] = values
            if settings.stage == .one { fullGradient.replaceSubrange(bucket.range, with: repeatElement(0, count: bucket.range.count)) }
            return
        }
        accumulated[b] = nil
        let own = ownRange.clamped(to: bucket.range)
        let started = step  // a sum that arrives after `abandonStep` belongs to no step
        if var compressor = compressors[b] {
            let sparse = compressor.compress(values, precision: precision)
            compressors[b] = compressor
            let sum = try await communicator.sparseAllReduce(sparse, tag: tag(UInt64(b)))
            if step == started { store(sum, bucket: bucket, own: own) }
        } else if settings.stage == .one {
            let sum = try await communicator.allReduce(values, precision: precision, tag: tag(UInt64(b)))
            if step == started { store(sum, bucket: bucket, own: own) }
        } else {
            let lo = bucket.range.lowerBound
            let cuts = ChunkLayout(boundaries: shards.boundaries.map { min(max($0, lo), bucket.range.upperBound) - lo })
            let mine = try await communicator.reduceScatter(values, layout: cuts, precision: precision, tag: tag(UInt64(b)))
            guard !own.isEmpty, step == started else { return }
            shardGradient.replaceSubrange((own.lowerBound - ownRange.lowerBound)..<(own.upperBound - ownRange.lowerBound), with: mine)
        }
    }

    func store(_ sum: [Float], bucket: Bucket, own: Range<Int>) {
        if settings.stage == .one {
            fullGradient.replaceSubrange(bucket.range, with: sum)
        } else if !own.isEmpty {
            let lo = bucket.range.lowerBound
            shardGradient.replaceSubrange(
                (own.lowerBound - ownRange.lowerBound)..<(own.upperBound - ownRange.lowerBound), with: sum[(own.lowerBound - lo)..<(own.upperBound - lo)])
        }
    }

    /// Gives up the step in progress (its caller failed before `finishStep`): the gradients
    /// handed over are dropped and reductions still in flight are ignored when they end. The
    /// other ranks are not told; they fail or time out in the collectives this rank left.
    public func abandonStep() {
        guard inStep else { return }
        reductions = [:]
        bucketBuffers = [:]
        fullGradient = []
        if settings.stage != .one { shardGradient = [Float](repeating: 0, count: ownRange.count) }
        step += 1
        inStep = false
    }

    /// Waits for every bucket's reduction, applies the optimizer to this rank's shard and
    /// gathers the updated parameters (stages 1 and 2) into the model.
    public func finishStep() async throws {
        beginStep()
        for b in buckets.indices where reductions[b] == nil { launch(b) }  // gradients never handed over count as zero
        var failure: (any Error)?
        for b in buckets.indices {
            do { try await reductions[b]!.value } catch { failure = failure ?? error }
        }
        reductions = [:]
        bucketBuffers = [:]
        if let failure {
            inStep = false
            throw failure
        }
        let own = ownRange
        if let pacing = settings.pacing { _ = await pacing.paceOptimizerStep(parameters: layout.count, shard: own.count) }
        let scale = 1 / Float(worldSize)
        var gradient = settings.stage == .one ? Array(fullGradient[own]) : shardGradient
        for i in gradient.indices { gradient[i] *= scale }
        let active: [String]? =
            syncing.allSatisfy { $0 } ? nil : layout.entries.indices.filter { syncing[groupOfEntry[$0]] }.map { layout.entries[$0].name }
        let before = try await shard.currentValues().scalars(as: Float.self)
        let updated = try await shard.apply(gradient: Tensor(gradient), learningRate: learningRate, active: active)
        let after = try updated.scalars(as: Float.self)
        try await recordRatios(before: before, after: after)
        if replicatesUpdates {
            try layout.assign(after, to: parameters)
        } else if settings.stage != .three {
            let full = try await communicator.allGather(after, layout: shards, tag: tag(0xFFFFF))
            try layout.assign(full, to: parameters)
        }
        fullGradient = []
        if settings.stage != .one { shardGradient = [Float](repeating: 0, count: own.count) }
        step += 1
        inStep = false
        timeline.finished = ContinuousClock.now - stepStarted
        lastStepTimeline = timeline
    }

    /// Shares ‖Δw‖² and ‖w‖² of every adaptive group so all ranks see the same ratios.
    func recordRatios(before: [Float], after: [Float]) async throws {
        let adaptive = schedule.groups.indices.filter { schedule.groups[$0].importanceThreshold != nil && syncing[$0] }
        guard !adaptive.isEmpty else { return }
        var sums = [Float](repeating: 0, count: 2 * schedule.groups.count)
        for (e, elements) in layout.segments(in: ownRange) {
            let g = groupOfEntry[layout.index[e.name]!]
            let start = e.offset + elements.lowerBound - ownRange.lowerBound
            for i in start..<start + elements.count {
                let d = after[i] - before[i]
                sums[2 * g] += d * d
                sums[2 * g + 1] += after[i] * after[i]
            }
        }
        let total = try await communicator.allReduce(sums, tag: tag(0xFFFFE))
        for g in adaptive { schedule.record(ratio: total[2 * g + 1] > 0 ? Double((total[2 * g] / total[2 * g + 1]).squareRoot()) : 0, group: g) }
    }

    /// The sync schedule's state (pending steps per group, last ratios, worst staleness).
    public var syncState: SyncSchedule { schedule }
}

extension WirePrecision {
    /// The wire precision of a training precision.
    public init(_ precision: Precision) {
        switch precision {
        case .fp32: self = .fp32
        case .fp16: self = .fp16
        case .bf16: self = .bf16
        }
    }
}

import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTraining
import Testing

/// Gradient buckets are reduced while backward still runs: the engine reports each gradient as
/// its node completes, the trainer hands it to the `DistributedOptimizer` at once, and a bucket
/// whose gradients are all in starts its all-reduce before backward has produced the rest.
@Suite struct DistributedOverlapTests {
    func data(_ count: Int, features: Int, seed: UInt64) throws -> LabeledImages {
        var rng = SeededRandom(seed: seed)
        let x = try Tensor.normal([count, features], rng: &rng)
        let labels = try x.sliced(axis: 1, start: 0, end: 10).argmax(axis: 1)
        return LabeledImages(images: x, labels: labels, height: 1, width: features)
    }

    func engine() async throws -> Engine {
        let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
        try await system.start()
        return try await Engine(actorSystem: system, devices: [DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)])
    }

    /// Two ranks train an MLP for a few steps with `bucketBytes` per bucket; returns the trainers.
    func train(sizes: [Int], bucketBytes: Int, steps: Int = 2) async throws -> [Trainer<SGD>] {
        let world = try await InProcessWorld(ranks: 2)
        let train = try data(512, features: sizes[0], seed: 1)
        var trainers: [Trainer<SGD>] = []
        for c in world.communicators {
            let t = Trainer(
                model: try MLP(sizes: sizes, seed: 3), optimizer: try SGD(learningRate: 0.05), engine: try await engine(),
                settings: TrainerSettings(epochs: 1, batchSize: 256, seed: 4, inputShape: [sizes[0]], stepsPerEpoch: steps, prefetch: 0))
            t.distributed = try await DistributedOptimizer(
                t.model.parameters, optimizer: .sgd(learningRate: 0.05), settings: DistributedSettings(bucketBytes: bucketBytes), communicator: c)
            trainers.append(t)
        }
        let all = trainers
        try await withThrowingTaskGroup(of: Void.self) { group in
            for t in all { group.addTask { _ = try await t.fit(train) } }
            try await group.waitForAll()
        }
        return trainers
    }

    @Test func theFirstBucketIsReducedBeforeBackwardHasProducedItsLastGradient() async throws {
        // The last layer (64 → 10) is bucket 0 on its own; after its gradients backward still
        // has the first layer's large weight gradient (4096 × 256 × 128 per rank) to make.
        let trainers = try await train(sizes: [4096, 64, 64, 10], bucketBytes: 4 * (64 * 10 + 10))
        for t in trainers {
            let d = try #require(t.distributed)
            // Buckets run from the last layer to the first, as backward produces them.
            let order = t.model.parameters.filter(\.isTrainable).map(\.name)
            #expect(d.buckets.count >= 4, "\(d.buckets.map(\.names))")
            #expect(Set(d.buckets[0].names) == Set(order.suffix(2)), "\(d.buckets.map(\.names))")
            #expect(d.buckets.last?.names.contains(order.first!) == true)
            let timeline = try #require(await d.lastStepTimeline)
            let lastGradient = try #require(timeline.backwardFinished, "the trainer never said when backward produced its last gradient")
            let first = try #require(timeline.reductionStarted[0])
            #expect(first < lastGradient, "bucket 0 started at \(first), the last gradient came at \(lastGradient)")
            #expect(timeline.startOrder.first == 0, "\(timeline.startOrder)")
            #expect(timeline.overlapped > .zero)
        }
    }

    @Test func overlappingKeepsTheReplicasIdenticalAndEqualToOneBigBucket() async throws {
        // Many small buckets reduced during backward, against one bucket reduced after it: the
        // same sums, so the same parameters bit for bit.
        // (With two ranks every sum is one addition, so the chunking cannot change it either.)
        let sizes = [256, 128, 128, 10]
        let overlapped = try await train(sizes: sizes, bucketBytes: 4 << 10, steps: 3)
        let whole = try await train(sizes: sizes, bucketBytes: 64 << 20, steps: 3)
        #expect(overlapped[0].distributed!.buckets.count > 3)
        #expect(whole[0].distributed!.buckets.count == 1)
        var digests: Set<UInt64> = []
        for t in overlapped + whole { digests.insert(try await t.parameterDigest()) }
        #expect(digests.count == 1)
    }
}

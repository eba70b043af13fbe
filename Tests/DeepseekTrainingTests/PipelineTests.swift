import DeepseekActors
import DeepseekCore
import DeepseekGraph
import DeepseekKernelsBLAS
import DeepseekNN
import DeepseekRuntime
import DeepseekTensor
import DeepseekTestSupport
import DeepseekTraining
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Data pipeline: CSV files, image augmentation, the prefetching loader, and dropout graphs on the engine.
@Suite struct PipelineTests {}

extension PipelineTests {
    @Suite struct CSVFiles {
        @Test func readsAHeaderAndALabelColumnByName() throws {
            let csv = "a,label,b\n1,3,2.5\n4,7,-1e-1\n"
            let table = try CSVReader.parse(Array(csv.utf8), settings: CSVSettings(label: .name("label")))
            #expect(table.features.shape == [2, 2])
            #expect(try table.features.scalars(as: Float.self) == [1, 2.5, 4, -0.1])
            #expect(try table.labels?.scalars(as: Int64.self) == [3, 7])
            #expect(table.featureNames == ["a", "b"])
            #expect(table.labelName == "label")
        }

        @Test func detectsAMissingHeaderAndDefaultsToTheLastColumn() throws {
            let csv = "\u{FEFF}0,255, 128 ,\"2\"\r\n\r\n255,0,0,9\r\n\n"
            let table = try CSVReader.parse(Array(csv.utf8), settings: CSVSettings(featureScale: 1.0 / 255))
            #expect(table.rowCount == 2 && table.featureCount == 3)
            #expect(try table.features.scalars(as: Float.self) == [0, 1, Float(128.0 / 255), 1, 0, 0])
            #expect(try table.labels?.scalars(as: Int64.self) == [2, 9])
            #expect(table.featureNames.isEmpty && table.labelName == nil)
            let noLabels = try CSVReader.parse(Array("1,2\n3,4\n".utf8), settings: CSVSettings(label: nil))
            #expect(noLabels.labels == nil && noLabels.featureCount == 2)
            let firstColumn = try CSVReader.parse(Array("5,1,2\n6,3,4\n".utf8), settings: CSVSettings(label: .index(0)))
            #expect(try firstColumn.labels?.scalars(as: Int64.self) == [5, 6])
            #expect(try firstColumn.features.scalars(as: Float.self) == [1, 2, 3, 4])
        }

        @Test func readsPlainAndGzippedFilesAlike() throws {
            let dir = TemporaryDirectory()
            defer { dir.remove() }
            var text = "p0,p1,p2,p3,label\n"
            for r in 0..<50 { text += "\(r),\(r * 2),\(Double(r) / 8),\(-r),\(r % 10)\n" }
            let plain = dir.write("data.csv", Array(text.utf8))
            let packed = dir.write("data.csv.gz", try Gzip.compress(Array(text.utf8)))
            let a = try CSVReader.read(plain)
            let b = try CSVReader.read(packed)
            #expect(a.rowCount == 50 && a.featureCount == 4)
            #expect(try a.features.scalars(as: Float.self) == b.features.scalars(as: Float.self))
            #expect(try a.labels?.scalars(as: Int64.self) == b.labels?.scalars(as: Int64.self))
            #expect(try a.features.scalars(as: Float.self)[4 * 3 + 2] == 0.375)
            let images = try a.labeledImages(height: 2, width: 2)
            #expect(images.count == 50 && images.height == 2)
            #expect(throws: DatasetError.self) { try a.labeledImages(height: 3, width: 3) }
        }

        @Test func errorsNameTheFileLineColumnAndCell() throws {
            let dir = TemporaryDirectory()
            defer { dir.remove() }
            let ragged = dir.write("ragged.csv", Array("x,y,label\n1,2,0\n3,1\n".utf8))
            let e1 = try #require(throws: DatasetError.self) { try CSVReader.read(ragged) }
            #expect(e1.code == .malformed && e1.file == ragged)
            #expect(e1.message.contains("line 3 has 2 cells but the header has 3"), "\(e1.message)")

            let word = dir.write("word.csv", Array("x,y,label\n1,2,0\n3,n/a,1\n".utf8))
            let e2 = try #require(throws: DatasetError.self) { try CSVReader.read(word) }
            #expect(e2.message.hasPrefix(word) && e2.message.contains("line 3, column 2 (\"y\"): \"n/a\" is not a number"), "\(e2.message)")

            let empty = try #require(throws: DatasetError.self) {
                try CSVReader.parse(Array("1,2,0\n3,,1\n".utf8), file: "e.csv")
            }
            #expect(empty.message.contains("line 2, column 2: the cell is empty"), "\(empty.message)")

            let fraction = try #require(throws: DatasetError.self) { try CSVReader.parse(Array("1,2,0.5\n".utf8)) }
            #expect(fraction.message.contains("not an integer class"), "\(fraction.message)")

            let missing = try #require(throws: DatasetError.self) {
                try CSVReader.parse(Array("a,b\n1,2\n".utf8), settings: CSVSettings(label: .name("class")))
            }
            #expect(missing.code == .invalidArgument && missing.message.contains("no column is named \"class\""))
            #expect(throws: DatasetError.self) { try CSVReader.parse(Array("1,2\n".utf8), settings: CSVSettings(label: .index(5))) }
            #expect(throws: DatasetError.self) { try CSVReader.parse([]) }
            let absent = try #require(throws: DatasetError.self) { try CSVReader.read(dir.path + "/absent.csv") }
            #expect(absent.code == .io)
        }
    }
}

extension PipelineTests {
    @Suite struct ImageAugmentation {
        static let geometry = ImageGeometry(channels: 2, height: 5, width: 4)

        /// `count` images of `geometry` whose pixels are `1 + image·1000 + channel·100 + y·10 + x`.
        static func images(_ count: Int, _ g: ImageGeometry = geometry) throws -> Tensor {
            var v: [Float] = []
            for n in 0..<count {
                for c in 0..<g.channels { for y in 0..<g.height { for x in 0..<g.width { v.append(Float(1 + n * 1000 + c * 100 + y * 10 + x)) } } }
            }
            return try Tensor(v, shape: [count, g.channels, g.height, g.width])
        }

        @Test func randomCropMatchesPaddingThenCroppingAtTheDrawnOffset() throws {
            let g = Self.geometry
            let p = 2
            let augment = Augmentation([RandomCrop(padding: p)], seed: 3)
            let input = try Self.images(16)
            let output = try augment.apply(to: input, epoch: 1, batch: 2).scalars(as: Float.self)
            // Replay the draws: one stream split off the batch's generator, row offset then column offset.
            var root = augment.generator(epoch: 1, batch: 2)
            var rng = root.split()
            let x = try input.scalars(as: Float.self)
            var moved = 0
            for n in 0..<16 {
                let (i, j) = (rng.nextInt(below: 2 * p + 1), rng.nextInt(below: 2 * p + 1))
                if i != p || j != p { moved += 1 }
                // Build the padded image explicitly, then cut the window at (i, j).
                let (ph, pw) = (g.height + 2 * p, g.width + 2 * p)
                var padded = [Float](repeating: 0, count: g.channels * ph * pw)
                for c in 0..<g.channels { for y in 0..<g.height { for xx in 0..<g.width {
                    padded[(c * ph + y + p) * pw + xx + p] = x[((n * g.channels + c) * g.height + y) * g.width + xx]
                } } }
                for c in 0..<g.channels { for y in 0..<g.height { for xx in 0..<g.width {
                    let got = output[((n * g.channels + c) * g.height + y) * g.width + xx]
                    #expect(got == padded[(c * ph + y + i) * pw + xx + j], "image \(n) c\(c) (\(y), \(xx)) offset (\(i), \(j))")
                } } }
            }
            #expect(moved > 0)
        }

        @Test func horizontalFlipMirrorsRowsWithTheGivenProbability() throws {
            let input = try Self.images(4)
            let always = try Augmentation([RandomHorizontalFlip(probability: 1)], seed: 1).apply(to: input, epoch: 0, batch: 0)
            let x = try input.scalars(as: Float.self)
            let y = try always.scalars(as: Float.self)
            let w = Self.geometry.width
            for row in 0..<(x.count / w) { #expect(Array(y[(row * w)..<((row + 1) * w)]) == Array(x[(row * w)..<((row + 1) * w)].reversed())) }
            let never = try Augmentation([RandomHorizontalFlip(probability: 0)], seed: 1).apply(to: input, epoch: 0, batch: 0)
            #expect(try never.scalars(as: Float.self) == x)
            // p = 0.5 over 2 000 one-row images: about half flipped (σ ≈ 11).
            let rows = try Tensor((0..<2000).flatMap { _ in [Float(0), 1] }, shape: [2000, 1, 1, 2])
            let flipped = try Augmentation([RandomHorizontalFlip()], seed: 9).apply(to: rows, epoch: 0, batch: 0).scalars(as: Float.self)
            let count = stride(from: 0, to: flipped.count, by: 2).filter { flipped[$0] == 1 }.count
            #expect(abs(count - 1000) < 80, "\(count) of 2000 flipped")
        }

        @Test func brightnessScalesAndContrastBlendsWithTheMean() throws {
            var rng = SeededRandom(seed: 4)
            let input = try Tensor.uniform([32, 1, 4, 4], low: 0.1, high: 0.6, rng: &rng)
            let x = try input.scalars(as: Float.self)
            let bright = try Augmentation([ColorJitter(brightness: 0.5)], seed: 2).apply(to: input, epoch: 0, batch: 0).scalars(as: Float.self)
            var factors = Set<Float>()
            for n in 0..<32 {
                let f = bright[n * 16] / x[n * 16]
                #expect(f >= 0.5 - 1e-5 && f <= 1.5 + 1e-5)
                for i in 0..<16 { #expect(abs(bright[n * 16 + i] - min(1, x[n * 16 + i] * f)) < 1e-5) }
                factors.insert(f)
            }
            #expect(factors.count > 20)
            let contrast = try Augmentation([ColorJitter(contrast: 0.8, clamp: nil)], seed: 2).apply(to: input, epoch: 0, batch: 0)
                .scalars(as: Float.self)
            for n in 0..<32 {
                let image = Array(x[(n * 16)..<((n + 1) * 16)])
                let out = Array(contrast[(n * 16)..<((n + 1) * 16)])
                let mean = image.reduce(0, +) / 16
                #expect(abs(out.reduce(0, +) / 16 - mean) < 1e-5, "the mean is kept")
                let f = (out[0] - mean) / (image[0] - mean)
                #expect(f >= 0.2 - 1e-4 && f <= 1.8 + 1e-4)
                for i in 0..<16 { #expect(abs(out[i] - (f * image[i] + (1 - f) * mean)) < 1e-4) }
            }
        }

        @Test func augmentationIsDeterministicPerSeedEpochAndBatch() throws {
            let input = try Self.images(8)
            let transforms: [any ImageTransform] = [RandomCrop(padding: 1), RandomHorizontalFlip(), ColorJitter(brightness: 0.3, contrast: 0.3, clamp: nil)]
            let a = Augmentation(transforms, seed: 5)
            let first = try a.apply(to: input, epoch: 2, batch: 3).scalars(as: Float.self)
            #expect(first == (try a.apply(to: input, epoch: 2, batch: 3).scalars(as: Float.self)))
            #expect(first != (try a.apply(to: input, epoch: 2, batch: 4).scalars(as: Float.self)))
            #expect(first != (try a.apply(to: input, epoch: 3, batch: 3).scalars(as: Float.self)))
            #expect(first != (try Augmentation(transforms, seed: 6).apply(to: input, epoch: 2, batch: 3).scalars(as: Float.self)))
            // The input is a value: applying does not change it.
            #expect(try input.scalars(as: Float.self) == Self.images(8).scalars(as: Float.self))
        }

        @Test func rowsNeedAGeometryAndImagesMustBeFloat32() throws {
            let rows = try Tensor.zeros([3, 40])
            let withGeometry = Augmentation([RandomHorizontalFlip()], seed: 1, geometry: Self.geometry)
            #expect(try withGeometry.apply(to: rows, epoch: 0, batch: 0).shape == [3, 40])
            let error = try #require(throws: DatasetError.self) {
                try Augmentation([RandomHorizontalFlip()], seed: 1).apply(to: rows, epoch: 0, batch: 0)
            }
            #expect(error.code == .invalidArgument)
            #expect(throws: DatasetError.self) { try withGeometry.apply(to: Tensor.zeros([3, 40], dtype: .float64), epoch: 0, batch: 0) }
        }

        @Test func aBatchOf64FashionSizedImagesTakesLittleTime() throws {
            let g = ImageGeometry(height: 28, width: 28)
            var rng = SeededRandom(seed: 1)
            let input = try Tensor.uniform([64, 784], rng: &rng)
            let augment = Augmentation(
                [RandomCrop(padding: 2), RandomHorizontalFlip(), ColorJitter(brightness: 0.2, contrast: 0.2)], seed: 1, geometry: g)
            _ = try augment.apply(to: input, epoch: 0, batch: 0)
            let clock = ContinuousClock()
            let rounds = 20
            let elapsed = try clock.measure { for b in 0..<rounds { _ = try augment.apply(to: input, epoch: 0, batch: b) } }
            let perBatch = elapsed / rounds
            print("augmentation (crop, flip, jitter) of 64×1×28×28: \(perBatch) per batch")
            // A loose bound that holds in unoptimised builds on a busy machine.
            #expect(perBatch < .milliseconds(200))
        }
    }
}

extension PipelineTests {
    @Suite struct Loading {
        struct Failure: Error, Equatable { let index: Int }

        /// 50 images of 1×4×4 labelled by their row.
        static func batches(seed: UInt64 = 3) throws -> Batches {
            var rng = SeededRandom(seed: 1)
            let images = try Tensor.uniform([50, 16], rng: &rng)
            return try Batches(images: images, labels: Tensor((0..<50).map { Int64($0) }), batchSize: 8, seed: seed)
        }

        static let augmentation = Augmentation(
            [RandomCrop(padding: 1), RandomHorizontalFlip(), ColorJitter(brightness: 0.2)], seed: 11, geometry: ImageGeometry(height: 4, width: 4))

        static func expectSame(_ a: MiniBatch, _ b: MiniBatch, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
            #expect(a.indices == b.indices, sourceLocation: sourceLocation)
            #expect(try a.images.scalars(as: Float.self) == b.images.scalars(as: Float.self), sourceLocation: sourceLocation)
            #expect(try a.labels.scalars(as: Int64.self) == b.labels.scalars(as: Int64.self), sourceLocation: sourceLocation)
        }

        @Test func batchesEqualTheBatchesSequenceWithAugmentationAppliedExactly() async throws {
            let batches = try Self.batches()
            let loader = try DataLoader(batches, augmentation: Self.augmentation, prefetch: 3)
            #expect(try await loader.next() == nil)  // no epoch started yet
            for epoch in 0..<2 {
                await loader.epoch(epoch)
                var served: [MiniBatch] = []
                while let batch = try await loader.next() { served.append(batch) }
                let expected = try batches.epoch(epoch).enumerated().map { try Self.augmentation.apply(to: $0.element, epoch: epoch, index: $0.offset) }
                #expect(served.count == 7 && expected.count == 7)
                for (a, b) in zip(served, expected) { try Self.expectSame(a, b) }
                #expect(try await loader.next() == nil)
            }
            await loader.stop()
        }

        @Test func theSequenceDoesNotDependOnTiming() async throws {
            let batches = try Self.batches()
            func collect(slowConsumer: Bool, prefetch: Int) async throws -> [MiniBatch] {
                let loader = try DataLoader(batches, augmentation: Self.augmentation, prefetch: prefetch)
                await loader.epoch(4)
                var out: [MiniBatch] = []
                var rng = SeededRandom(seed: 8)
                while let b = try await loader.next() {
                    out.append(b)
                    if slowConsumer { for _ in 0..<rng.nextInt(below: 20) { await Task.yield() } }
                }
                await loader.stop()
                return out
            }
            let fast = try await collect(slowConsumer: false, prefetch: 1)
            let slow = try await collect(slowConsumer: true, prefetch: 5)
            #expect(fast.count == slow.count)
            for (a, b) in zip(fast, slow) { try Self.expectSame(a, b) }
        }

        @Test func thePrefetchDepthBoundsTheWorkDoneAhead() async throws {
            let made = Mutex(0)
            let taken = Mutex(0)
            let violations = Mutex(0)
            let prefetch = 2
            let loader = try DataLoader(try Self.batches(), prefetch: prefetch) { batch in
                let index = made.withLock { n -> Int in
                    n += 1
                    return n - 1
                }
                // Batch k is made only after k − prefetch batches left the queue (one more may be in hand).
                if taken.withLock({ $0 }) < index - prefetch - 1 { violations.withLock { $0 += 1 } }
                return batch
            }
            await loader.epoch(0)
            // Nobody consumes: the producer fills the queue, makes one more batch and waits to put it.
            #expect(try await eventually { made.withLock { $0 } == prefetch + 1 })
            for _ in 0..<200 { await Task.yield() }
            #expect(made.withLock { $0 } == prefetch + 1)
            #expect(loader.bufferedCount == prefetch)
            while try await loader.next() != nil {
                taken.withLock { $0 += 1 }
                await Task.yield()
            }
            #expect(made.withLock { $0 } == 7)
            #expect(violations.withLock { $0 } == 0)
            await loader.stop()
        }

        @Test func anErrorMakingABatchIsThrownInOrderAndEndsTheEpoch() async throws {
            let third = Array(try Self.batches().order(epoch: 0)[16..<24])
            let loader = try DataLoader(try Self.batches(), prefetch: 4) { batch in
                if batch.indices == third { throw Failure(index: 2) }
                return batch
            }
            await loader.epoch(0)
            #expect(try await loader.next() != nil)
            #expect(try await loader.next() != nil)
            await #expect(throws: Failure(index: 2)) { try await loader.next() }
            #expect(try await loader.next() == nil)
            await loader.stop()
        }

        @Test func aWaitingConsumerThatIsCancelledThrowsAtOnce() async throws {
            let release = Mutex(false)
            let loader = try DataLoader(try Self.batches(), prefetch: 1) { batch in
                // Hold the producer until the test lets go (bounded, so a broken test cannot hang).
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(120)
                while !release.withLock({ $0 }) && clock.now < deadline { usleep(1000) }
                return batch
            }
            await loader.epoch(0)
            let consumer = Task { try await loader.next() }
            // Cancel only once the consumer is really waiting (however slowly a busy machine gets it there).
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(120)
            while !loader.hasWaitingConsumer && clock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            #expect(loader.hasWaitingConsumer)
            consumer.cancel()
            let started = ContinuousClock.now
            await #expect(throws: CancellationError.self) { try await consumer.value }
            #expect(ContinuousClock.now - started < .seconds(5))
            release.withLock { $0 = true }
            await loader.stop()
            #expect(try await loader.next() == nil)
        }

        @Test func startingAnEpochMidwayRestartsFromItsFirstBatch() async throws {
            let batches = try Self.batches()
            let loader = try DataLoader(batches, prefetch: 2)
            await loader.epoch(0)
            _ = try await loader.next()
            _ = try await loader.next()
            await loader.epoch(1)
            #expect(await loader.currentEpoch == 1)
            let first = try #require(try await loader.next())
            #expect(first.indices == Array(batches.order(epoch: 1)[0..<8]))
            await loader.stop()
            #expect(try await loader.next() == nil)
        }

        @Test func aDroppedLoaderIsFreedWithItsProducerWaiting() async throws {
            weak var weakLoader: DataLoader?
            do {
                let loader = try DataLoader(try Self.batches(), prefetch: 1)
                weakLoader = loader
                await loader.epoch(0)
                _ = try await loader.next()
            }
            #expect(try await eventually { weakLoader == nil })
        }

        @Test func aPrefetchDepthBelowOneIsRefused() throws {
            let error = try #require(throws: DatasetError.self) { try DataLoader(try Self.batches(), prefetch: 0) }
            #expect(error.code == .invalidArgument)
        }
    }
}

extension PipelineTests {
    @Suite struct DropoutOnTheEngine {
        @Test func aTrainingGraphWithADropoutMaskRunsOnTheEngineAsItDoesSequentially() async throws {
            var rng = SeededRandom(seed: 2)
            let model = Sequential([try Linear(inFeatures: 6, outFeatures: 5, rng: &rng), ReLU(), try Dropout(probability: 0.4), try Linear(5, 3, rng: &rng)])
            let tracer = GraphTracer()
            let graph = try Dropout.withMode(.training(seed: 1, step: 7)) {
                let x = try tracer.input("x", TensorType([4, 6]))
                let y = try tracer.input("y", TensorType([4], .int64))
                return tracer.finish(outputs: [try crossEntropy(logits: model(x), labels: y)])
            }
            let training = try graph.trainingGraph(loss: graph.outputs[0])
            let feeds = GraphFeeds(
                inputs: ["x": try Tensor.uniform([4, 6], rng: &rng), "y": Tensor([0, 2, 1, 2] as [Int64])], parameters: model.parameterValues)
            let sequential = try training.graph.run(feeds)
            let system = DeepseekActorSystem(transport: InProcessNetwork().transport(for: NodeID(0)))
            try await system.start()
            let device = DeviceActor(backend: CPUBackend(), kind: .cpu, actorSystem: system)
            let engine = try await Engine(actorSystem: system, devices: [device])
            let result = try await engine.run(training.graph, feeds)
            #expect(result.outputs.count == sequential.count)
            for (a, b) in zip(result.outputs, sequential) { expectClose(a, b, tolerance: Tolerance(absolute: 1e-5, relative: 1e-4)) }
            withExtendedLifetime(device) {}
        }
    }
}

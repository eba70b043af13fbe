import DeepseekTensor
import DeepseekTraining
import Testing

@Suite struct BatchesTests {
    /// Ten examples of three features, row r holding r*10, r*10+1, r*10+2, labelled r.
    static func data() throws -> (Tensor, Tensor) {
        let images = try Tensor((0..<10).flatMap { r in (0..<3).map { Float(r * 10 + $0) } }, shape: [10, 3])
        let labels = Tensor((0..<10).map { Int64($0) })
        return (images, labels)
    }

    @Test func sameSeedGivesTheSameOrderAndEveryOrderIsAPermutation() throws {
        let (images, labels) = try Self.data()
        let a = try Batches(images: images, labels: labels, batchSize: 4, seed: 11)
        let b = try Batches(images: images, labels: labels, batchSize: 4, seed: 11)
        let c = try Batches(images: images, labels: labels, batchSize: 4, seed: 12)
        for epoch in 0..<5 {
            let order = a.order(epoch: epoch)
            #expect(order == b.order(epoch: epoch))
            #expect(order.sorted() == Array(0..<10))
        }
        #expect(a.order(epoch: 0) != a.order(epoch: 1))
        #expect((0..<5).contains { a.order(epoch: $0) != c.order(epoch: $0) })
    }

    @Test func largeShufflesAreDeterministicPermutations() throws {
        let images = try Tensor.zeros([100_000, 1])
        let labels = try Tensor.zeros([100_000], dtype: .int64)
        let batches = try Batches(images: images, labels: labels, batchSize: 128, seed: 3)
        let order = batches.order(epoch: 7)
        #expect(order == batches.order(epoch: 7))
        #expect(Set(order).count == 100_000)
        #expect(order.min() == 0 && order.max() == 99_999)
        #expect(order != Array(0..<100_000))
    }

    @Test func batchesHoldTheGatheredRowsAndMatchingLabels() throws {
        let (images, labels) = try Self.data()
        let batches = try Batches(images: images, labels: labels, batchSize: 4, seed: 5)
        var seen: [Int] = []
        for batch in batches.epoch(2) {
            #expect(batch.images.isContiguous && batch.images.offset == 0)
            #expect(batch.images.shape == [batch.indices.count, 3])
            #expect(batch.labels.shape == [batch.indices.count])
            let rows = try batch.images.scalars(as: Float.self)
            #expect(rows == batch.indices.flatMap { r in (0..<3).map { Float(r * 10 + $0) } })
            #expect(try batch.labels.scalars(as: Int64.self) == batch.indices.map(Int64.init))
            seen += batch.indices
        }
        #expect(seen == batches.order(epoch: 2))
    }

    @Test func lastPartialBatchIsKeptOrDropped() throws {
        let (images, labels) = try Self.data()
        let kept = try Batches(images: images, labels: labels, batchSize: 4, seed: 1)
        #expect(kept.batchesPerEpoch == 3)
        #expect(kept.epoch(0).map(\.indices.count) == [4, 4, 2])

        let dropped = try Batches(images: images, labels: labels, batchSize: 4, seed: 1, dropLast: true)
        #expect(dropped.batchesPerEpoch == 2)
        #expect(dropped.epoch(0).map(\.indices.count) == [4, 4])

        let exact = try Batches(images: images, labels: labels, batchSize: 5, dropLast: true)
        #expect(exact.epoch(0).map(\.indices.count) == [5, 5])
    }

    @Test func withoutShuffleBatchesFollowTheDataOrder() throws {
        let (images, labels) = try Self.data()
        let batches = try Batches(images: images, labels: labels, batchSize: 3, shuffle: false)
        #expect(batches.order(epoch: 4) == Array(0..<10))
        let first = try #require(batches.epoch(0).first(where: { _ in true }))
        #expect(try first.images.scalars(as: Float.self) == [0, 1, 2, 10, 11, 12, 20, 21, 22])
    }

    @Test func nonContiguousInputIsGatheredCorrectly() throws {
        // A transposed view: example r is column r of a [3, 10] tensor.
        let (images, labels) = try Self.data()
        let view = try images.transposed().contiguous().transposed()
        #expect(!view.isContiguous)
        let batches = try Batches(images: view, labels: labels, batchSize: 10, shuffle: false)
        let batch = try #require(batches.epoch(0).first(where: { _ in true }))
        #expect(try batch.images.scalars(as: Float.self) == images.scalars(as: Float.self))
    }

    @Test func badArgumentsAreRejected() throws {
        let (images, labels) = try Self.data()
        let zero = try #require(throws: DatasetError.self) { try Batches(images: images, labels: labels, batchSize: 0) }
        #expect(zero.code == .invalidArgument)
        let short = try labels.sliced(axis: 0, end: 9)
        let mismatch = try #require(throws: DatasetError.self) { try Batches(images: images, labels: short, batchSize: 2) }
        #expect(mismatch.code == .inconsistent)
        #expect(mismatch.message.contains("10 ≠ 9"))
    }
}

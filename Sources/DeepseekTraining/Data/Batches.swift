import DeepseekCore
public import DeepseekTensor

/// One mini-batch: the gathered rows of a data set and the labels that go with them.
public struct MiniBatch: Sendable {
    /// The examples, `[batch, …]`, contiguous and owning their storage.
    public var images: Tensor
    /// The labels, `[batch, …]`, contiguous and owning their storage.
    public var labels: Tensor
    /// Which rows of the data set the batch holds, in batch order.
    public var indices: [Int]

    public init(images: Tensor, labels: Tensor, indices: [Int]) {
        self.images = images
        self.labels = labels
        self.indices = indices
    }
}

/// Mini-batches over a data set, one epoch at a time, in an order fixed by a seed.
///
/// Each epoch visits every example once (all but the last `count % batchSize` when `dropLast` is
/// set). With `shuffle`, epoch `e` uses a permutation drawn from a generator derived from `seed`
/// and `e` alone, so any epoch can be replayed — after a restart, say — without replaying the
/// ones before it. Batches are fresh contiguous tensors of the selected rows, safe to hand to
/// another actor or device while the next one is gathered.
///
/// ```swift
/// let train = try FashionMNIST.load(split: .train)
/// let batches = try Batches(train, batchSize: 64, seed: 7)
/// for epoch in 0..<3 {
///     for batch in batches.epoch(epoch) {
///         // batch.images: [64, 784] float32, batch.labels: [64] int64
///     }
/// }
/// ```
public struct Batches: Sendable {
    /// The examples, first axis over examples.
    public let images: Tensor
    /// The labels, first axis over examples.
    public let labels: Tensor
    /// Examples per batch (the last batch of an epoch may hold fewer unless `dropLast`).
    public let batchSize: Int
    /// Whether each epoch visits the examples in a seeded random order rather than in order.
    public let shuffle: Bool
    /// The seed the order of every epoch derives from.
    public let seed: UInt64
    /// Whether a final batch smaller than `batchSize` is left out.
    public let dropLast: Bool

    /// Creates batches over a pair of tensors whose first axes have the same length.
    ///
    /// - Throws: `DatasetError.invalidArgument` for a batch size below 1 or tensors without
    ///   data; `.inconsistent` when the tensors disagree on the number of examples.
    public init(
        images: Tensor, labels: Tensor, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0, dropLast: Bool = false
    ) throws(DatasetError) {
        guard batchSize >= 1 else {
            throw DatasetError(.invalidArgument, "Batches: batch size \(batchSize) is below 1; pass a positive batch size")
        }
        guard images.rank >= 1, labels.rank >= 1, !images.isMeta, !labels.isMeta else {
            throw DatasetError(
                .invalidArgument,
                "Batches: images \(images.shape) and labels \(labels.shape) need data and at least one axis, the axis over examples")
        }
        guard images.shape[0] == labels.shape[0] else {
            throw DatasetError(
                .inconsistent,
                "Batches: images \(images.shape) and labels \(labels.shape) disagree on the number of examples (\(images.shape[0]) ≠ \(labels.shape[0])); pass labels for the same examples")
        }
        do {
            // Rows are copied with one memcpy each, which needs a dense row-major layout.
            self.images = images.isContiguous ? images : try images.contiguous()
            self.labels = labels.isContiguous ? labels : try labels.contiguous()
        } catch {
            throw DatasetError(.resource, "Batches: cannot make the data contiguous: \(error)", cause: error)
        }
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.seed = seed
        self.dropLast = dropLast
    }

    /// Creates batches over a labelled image set.
    public init(_ data: LabeledImages, batchSize: Int, shuffle: Bool = true, seed: UInt64 = 0, dropLast: Bool = false)
        throws(DatasetError)
    {
        try self.init(
            images: data.images, labels: data.labels, batchSize: batchSize, shuffle: shuffle, seed: seed, dropLast: dropLast)
    }

    /// The number of examples.
    public var exampleCount: Int { images.shape[0] }

    /// The number of batches in each epoch.
    public var batchesPerEpoch: Int {
        dropLast ? exampleCount / batchSize : (exampleCount + batchSize - 1) / batchSize
    }

    /// The order in which epoch `epoch` visits the examples: a permutation of `0..<exampleCount`
    /// (the identity without `shuffle`).
    ///
    /// - Complexity: O(`exampleCount` + `epoch`).
    public func order(epoch: Int) -> [Int] {
        precondition(epoch >= 0, "Batches.order(epoch:): epoch \(epoch) is negative; epochs count from 0")
        var order = Array(0..<exampleCount)
        guard shuffle else { return order }
        // One independent stream per epoch, split off a root generator, so epochs do not overlap.
        var root = SeededRandom(seed: seed)
        var rng = root.split()
        for _ in 0..<epoch { rng = root.split() }
        // Fisher–Yates: every permutation equally likely.
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, rng.nextInt(below: i + 1))
        }
        return order
    }

    /// The batches of epoch `epoch`, in order.
    public func epoch(_ epoch: Int) -> Epoch {
        Epoch(batches: self, order: order(epoch: epoch))
    }

    /// Gathers batch `index` of an epoch whose visiting order is `order`.
    ///
    /// - Throws: `TensorError.outOfMemory` when the batch does not fit in memory.
    public func batch(_ index: Int, order: [Int]) throws(TensorError) -> MiniBatch {
        precondition(
            index >= 0 && index < batchesPerEpoch, "Batches.batch: index \(index) outside 0..<\(batchesPerEpoch)")
        precondition(
            order.count == exampleCount, "Batches.batch: order has \(order.count) entries for \(exampleCount) examples")
        let start = index * batchSize
        let rows = Array(order[start..<min(start + batchSize, exampleCount)])
        return MiniBatch(
            images: try Self.gather(images, rows: rows), labels: try Self.gather(labels, rows: rows), indices: rows)
    }

    /// The batches of one epoch, gathered one at a time as the sequence is iterated.
    public struct Epoch: Sequence, Sendable {
        /// The batches this epoch draws from.
        public let batches: Batches
        /// The order in which this epoch visits the examples.
        public let order: [Int]

        /// The number of batches.
        public var underestimatedCount: Int { batches.batchesPerEpoch }

        public func makeIterator() -> Iterator { Iterator(epoch: self) }

        /// Gathers the next batch on each call to `next()`.
        ///
        /// A batch that does not fit in memory stops the program with the allocator's message,
        /// as `IteratorProtocol` cannot throw; call `Batches.batch(_:order:)` to handle that case.
        public struct Iterator: IteratorProtocol {
            let epoch: Epoch
            var index = 0

            public mutating func next() -> MiniBatch? {
                guard index < epoch.batches.batchesPerEpoch else { return nil }
                defer { index += 1 }
                do { return try epoch.batches.batch(index, order: epoch.order) } catch { fatalError("\(error)") }
            }
        }
    }

    /// A new contiguous tensor of the given rows of `source` (contiguous), copying runs of
    /// consecutive rows with one memcpy.
    private static func gather(_ source: Tensor, rows: [Int]) throws(TensorError) -> Tensor {
        var shape = source.shape
        shape[0] = rows.count
        let out = try Tensor.empty(shape, dtype: source.dtype, op: "Batches.gather")
        let rowBytes = source.shape[0] == 0 ? 0 : source.elementCount / source.shape[0] * source.dtype.byteSize
        guard rowBytes > 0, let dst = out.storage.baseAddress, let base = source.storage.baseAddress else { return out }
        let src = UnsafeRawPointer(base) + source.offset * source.dtype.byteSize
        var k = 0
        while k < rows.count {
            var run = 1
            while k + run < rows.count && rows[k + run] == rows[k] + run { run += 1 }
            (dst + k * rowBytes).copyMemory(from: src + rows[k] * rowBytes, byteCount: run * rowBytes)
            k += run
        }
        return out
    }
}

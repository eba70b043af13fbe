extension Communicator {
    var everyone: [Int] { Array(0..<worldSize) }

    /// The sum of every rank's `values` (ring all-reduce; hierarchical when the group has more
    /// than one device per node and more than one node).
    public func allReduce(_ values: [Float], precision: WirePrecision = .fp32, tag: UInt64? = nil) async throws -> [Float] {
        let tag = tag ?? nextTag()
        let d = group.devicesPerNode
        if d > 1 && worldSize > d {
            let m = HierarchicalAllReduce(rank: rank, worldSize: worldSize, devicesPerNode: d, buffer: values, precision: precision, tag: tag)
            return try await run(m, name: "hierarchical allReduce").buffer
        }
        let m = RingCollective(.allReduce, members: everyone, position: rank, buffer: values, precision: precision, tag: tag)
        return try await run(m, name: "allReduce").buffer
    }

    /// This rank's chunk of the sum of every rank's `values` (chunk `rank` of `layout`).
    public func reduceScatter(_ values: [Float], layout: ChunkLayout? = nil, precision: WirePrecision = .fp32, tag: UInt64? = nil) async throws -> [Float] {
        let m = RingCollective(.reduceScatter, members: everyone, position: rank, buffer: values, layout: layout, precision: precision, tag: tag ?? nextTag())
        let done = try await run(m, name: "reduceScatter")
        return Array(done.buffer[done.ownChunk])
    }

    /// Every rank's chunk concatenated: rank `r` contributes `chunk`, which must have the length
    /// of chunk `r` of `layout`.
    public func allGather(_ chunk: [Float], layout: ChunkLayout, precision: WirePrecision = .fp32, tag: UInt64? = nil) async throws -> [Float] {
        let own = layout.range(rank)
        guard chunk.count == own.count else {
            throw CollectiveError(.invalidArgument, "allGather on \(group.describe(rank)): chunk has \(chunk.count) values, its slot in \(layout) has \(own.count)")
        }
        var buffer = [Float](repeating: 0, count: layout.count)
        buffer.replaceSubrange(own, with: chunk)
        let m = RingCollective(.allGather, members: everyone, position: rank, buffer: buffer, layout: layout, precision: precision, tag: tag ?? nextTag())
        return try await run(m, name: "allGather").buffer
    }

    /// The root's `values` on every rank (binomial tree); other ranks pass `nil`.
    public func broadcast(_ values: [Float]?, root: Int, precision: WirePrecision = .fp32, tag: UInt64? = nil) async throws -> [Float] {
        let m = TreeBroadcast(members: everyone, position: rank, root: root, buffer: rank == root ? values : nil, precision: precision, tag: tag ?? nextTag())
        return try await run(m, name: "broadcast").buffer ?? []
    }

    /// Returns once every rank has entered the barrier.
    public func barrier(tag: UInt64? = nil) async throws {
        _ = try await run(DisseminationBarrier(members: everyone, position: rank, tag: tag ?? nextTag()), name: "barrier")
    }

    /// The dense sum of every rank's sparse gradient, added in rank order on every rank.
    public func sparseAllReduce(_ local: SparseGradient, tag: UInt64? = nil) async throws -> [Float] {
        let m = SparseAllGather(members: everyone, position: rank, local: local, tag: tag ?? nextTag())
        return try await run(m, name: "sparse allReduce").sum
    }
}

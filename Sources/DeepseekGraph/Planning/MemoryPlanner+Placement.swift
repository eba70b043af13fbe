extension MemoryPlanner {
    /// Assigns arena offsets to slots, largest first, each at the best-fitting gap left by the
    /// already-placed slots whose lifetimes overlap its own.
    ///
    /// Largest-first matters because big tensors are the hardest to fit later; best fit (the
    /// smallest gap that holds the slot, lowest offset on ties, the top of the overlapping blocks
    /// when no gap fits) keeps the large holes free for the next large slot.
    ///
    /// Complexity: O(n log n) to sort plus, per slot, O(log T + min(k log k, p)) where T is the step
    /// count, k the number of placed slots overlapping it in time and p the number placed so far.
    /// Finding those k without scanning every placed slot is what keeps sparse schedules (most
    /// inference graphs) near linear: a placed slot overlaps `[a, b]` exactly when it is live at
    /// step `a` or starts in `(a, b]`, and two segment trees over the steps answer each question in
    /// O(log T + k) without duplicates. When most placed slots overlap (saved activations of a
    /// training step), one walk of all placed slots in offset order is cheaper than sorting the k;
    /// that case is quadratic overall, as greedy placement inherently is when most pairs of
    /// lifetimes overlap.
    ///
    /// - Parameters:
    ///   - starts: the first step of each slot.
    ///   - ends: the last step of each slot (inclusive, `≥ start`).
    ///   - sizes: the aligned size of each slot; zero-sized slots get offset 0 and occupy nothing.
    ///   - stepCount: the number of steps; every start and end is below it.
    /// - Returns: the offset of each slot and the arena size (the largest `offset + size`).
    static func placeGreedyBySize(
        starts: [Int], ends: [Int], sizes: [Int], stepCount: Int
    ) -> (offsets: [Int], arenaByteCount: Int) {
        let slotCount = sizes.count
        var offsets = [Int](repeating: 0, count: slotCount)
        guard slotCount > 0 else { return (offsets, 0) }

        // Deterministic order: size descending, then longer lifetimes first (they constrain more
        // slots), then earlier start, then index.
        let order = (0..<slotCount).sorted { a, b in
            if sizes[a] != sizes[b] { return sizes[a] > sizes[b] }
            let lengthA = ends[a] - starts[a]
            let lengthB = ends[b] - starts[b]
            if lengthA != lengthB { return lengthA > lengthB }
            if starts[a] != starts[b] { return starts[a] < starts[b] }
            return a < b
        }

        var index = PlacedSlotIndex(stepCount: stepCount)
        // Placed slots in offset order, with their lifetimes packed beside them: when most placed
        // slots overlap the new one, one walk of this list replaces gathering and sorting them.
        var byOffset = OffsetOrderedSlots()
        var blocks: [Block] = []
        var arenaByteCount = 0
        for slot in order {
            let size = sizes[slot]
            if size == 0 { continue }
            let start = starts[slot]
            let end = ends[slot]

            let offset: Int
            // Sorting k blocks costs about k·log2(k); walking all placed slots costs their count.
            let overlapping = index.overlapCount(start: start, end: end)
            let sortCost = overlapping * (Int.bitWidth - overlapping.leadingZeroBitCount)
            if overlapping > 16, sortCost > byOffset.count {
                offset = byOffset.bestFit(size: size, overlapping: start...end)
            } else {
                blocks.removeAll(keepingCapacity: true)
                index.forEachOverlapping(start: start, end: end) { other in
                    blocks.append(Block(offset: offsets[other], end: offsets[other] + sizes[other]))
                }
                offset = bestFit(size: size, among: &blocks)
            }
            offsets[slot] = offset
            arenaByteCount = max(arenaByteCount, offset + size)
            index.insert(Int32(slot), start: start, end: end)
            byOffset.insert(.init(offset: offset, end: offset + size, start: Int32(start), last: Int32(end)))
        }
        return (offsets, arenaByteCount)
    }

    /// An occupied byte range `offset..<end` of the arena.
    struct Block {
        var offset: Int
        var end: Int
    }

    /// The lowest offset of the smallest gap between `blocks` that holds `size` bytes, or the top
    /// of the blocks when no gap does. Reorders `blocks`.
    static func bestFit(size: Int, among blocks: inout [Block]) -> Int {
        blocks.sort { $0.offset < $1.offset }
        var scan = BestFitScan(size: size)
        for block in blocks where !scan.isExact { scan.visit(offset: block.offset, end: block.end) }
        return scan.offset
    }

    /// Best fit over occupied byte ranges visited in offset order: tracks the top of the ranges seen
    /// so far and the smallest gap below them that holds `size` bytes (the lowest one on ties).
    ///
    /// Gaps are measured between the ranges visited, so a gap is only final once the range above it
    /// has been visited; that is why the scan needs offset order.
    struct BestFitScan {
        let size: Int
        private var cursor = 0
        private var bestOffset = -1
        private var bestGap = Int.max

        init(size: Int) { self.size = size }

        @inline(__always)
        mutating func visit(offset: Int, end: Int) {
            if offset > cursor {
                let gap = offset - cursor
                if gap >= size, gap < bestGap {
                    bestGap = gap
                    bestOffset = cursor
                }
            }
            cursor = max(cursor, end)
        }

        /// Whether a gap of exactly `size` bytes was found: no later gap can beat it, so the scan may
        /// stop early with the same result as a full one.
        var isExact: Bool { bestGap == size }

        /// The chosen offset: the best gap, or the top of everything visited when no gap fits.
        var offset: Int { bestOffset >= 0 ? bestOffset : cursor }
    }
}

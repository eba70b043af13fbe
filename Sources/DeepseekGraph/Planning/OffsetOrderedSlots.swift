extension MemoryPlanner {
    /// Placed slots in offset order with their lifetimes, for walking every placed slot once when
    /// most of them overlap the slot being placed.
    ///
    /// Keeping one array sorted would cost a memory move of its tail per insertion, quadratic bytes
    /// in all, and sparse schedules never walk at all. So insertions are appended unsorted; a walk
    /// first sorts them into a short side list, which it merges with the main list on the fly,
    /// and folds the side list into the main list once it reaches `foldThreshold` entries: O(1) per
    /// insertion, O(m log m) per walk for m newcomers, and O(n) per fold.
    struct OffsetOrderedSlots {
        /// A placed slot: its bytes `offset..<end` and its lifetime `start...last`.
        struct Slot {
            var offset: Int
            var end: Int
            var start: Int32
            var last: Int32
        }

        private var sorted: [Slot] = []
        private var recent: [Slot] = []
        private var unsorted: [Slot] = []
        private var scratch: [Slot] = []
        private let foldThreshold = 128

        var count: Int { sorted.count + recent.count + unsorted.count }

        mutating func insert(_ slot: Slot) { unsorted.append(slot) }

        /// Best fit among the slots whose lifetimes overlap `steps`, visited in offset order.
        mutating func bestFit(size: Int, overlapping steps: ClosedRange<Int>) -> Int {
            settle()
            let first = Int32(steps.lowerBound)
            let last = Int32(steps.upperBound)
            var scan = BestFitScan(size: size)
            // A slot outside the lifetime is visited as the empty range 0..<0, a no-op, so the loop
            // does not branch on the overlap test, which is hard to predict.
            @inline(__always) func visit(_ slot: Slot) {
                let overlaps = slot.start <= last && slot.last >= first
                scan.visit(offset: overlaps ? slot.offset : 0, end: overlaps ? slot.end : 0)
            }
            var next = 0
            sorted.withUnsafeBufferPointer { main in
                for newcomer in recent {
                    while next < main.count, main[next].offset <= newcomer.offset {
                        visit(main[next])
                        next += 1
                    }
                    visit(newcomer)
                    if scan.isExact { return }
                }
                while next < main.count {
                    visit(main[next])
                    next += 1
                }
            }
            return scan.offset
        }

        /// Sorts the unsorted newcomers into the side list, folding it into the main list when long.
        private mutating func settle() {
            guard !unsorted.isEmpty else { return }
            unsorted.sort { $0.offset < $1.offset }
            Self.merge(recent, unsorted, into: &scratch)
            swap(&recent, &scratch)
            unsorted.removeAll(keepingCapacity: true)
            if recent.count >= foldThreshold {
                Self.merge(sorted, recent, into: &scratch)
                swap(&sorted, &scratch)
                recent.removeAll(keepingCapacity: true)
            }
        }

        /// Writes the merge of two offset-sorted lists into `output`.
        private static func merge(_ a: [Slot], _ b: [Slot], into output: inout [Slot]) {
            output.removeAll(keepingCapacity: true)
            output.reserveCapacity(a.count + b.count)
            var next = 0
            for slot in b {
                while next < a.count, a[next].offset <= slot.offset {
                    output.append(a[next])
                    next += 1
                }
                output.append(slot)
            }
            output.append(contentsOf: a[next...])
        }
    }
}

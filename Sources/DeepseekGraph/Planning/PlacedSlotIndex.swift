extension MemoryPlanner {
    /// Placed slots indexed by lifetime: how many placed slots overlap a step range, in O(log T), and
    /// which ones, in O(log T + k) without duplicates.
    ///
    /// A placed slot overlaps `[a, b]` exactly when it is live at step `a` or starts in `(a, b]`.
    /// Two bottom-up segment trees over the steps keep a list of slot ids per node: `covering` stores a
    /// slot at the canonical nodes of its lifetime, which are disjoint, so the root-to-leaf path of
    /// step `a` meets each slot live at `a` exactly once; `starting` stores a slot at its start leaf
    /// and every ancestor, so the canonical nodes of `(a, b]` list each slot starting there exactly
    /// once. Two Fenwick trees count starts and ends, so the overlap count is
    /// `#(start ≤ b) − #(end < a)` without touching the lists.
    struct PlacedSlotIndex {
        private let leafCount: Int
        private var covering: [[Int32]]
        private var starting: [[Int32]]
        private var startCounts: [Int]
        private var endCounts: [Int]

        init(stepCount: Int) {
            var leaves = 1
            while leaves < max(stepCount, 1) { leaves <<= 1 }
            leafCount = leaves
            covering = Array(repeating: [], count: 2 * leaves)
            starting = Array(repeating: [], count: 2 * leaves)
            startCounts = Array(repeating: 0, count: leaves + 1)
            endCounts = Array(repeating: 0, count: leaves + 1)
        }

        mutating func insert(_ slot: Int32, start: Int, end: Int) {
            var low = start + leafCount
            var high = end + 1 + leafCount
            while low < high {
                if low & 1 == 1 {
                    covering[low].append(slot)
                    low += 1
                }
                if high & 1 == 1 {
                    high -= 1
                    covering[high].append(slot)
                }
                low >>= 1
                high >>= 1
            }
            var node = start + leafCount
            while node >= 1 {
                starting[node].append(slot)
                node >>= 1
            }
            Self.add(1, at: start, to: &startCounts)
            Self.add(1, at: end, to: &endCounts)
        }

        /// The number of placed slots whose lifetime overlaps `start...end`.
        func overlapCount(start: Int, end: Int) -> Int {
            Self.prefixSum(through: end, of: startCounts) - Self.prefixSum(through: start - 1, of: endCounts)
        }

        /// Calls `body` once for each placed slot whose lifetime overlaps `start...end`.
        func forEachOverlapping(start: Int, end: Int, _ body: (Int) -> Void) {
            var node = start + leafCount
            while node >= 1 {
                for slot in covering[node] { body(Int(slot)) }
                node >>= 1
            }
            var low = start + 1 + leafCount
            var high = end + 1 + leafCount
            while low < high {
                if low & 1 == 1 {
                    for slot in starting[low] { body(Int(slot)) }
                    low += 1
                }
                if high & 1 == 1 {
                    high -= 1
                    for slot in starting[high] { body(Int(slot)) }
                }
                low >>= 1
                high >>= 1
            }
        }

        private static func add(_ amount: Int, at step: Int, to tree: inout [Int]) {
            var position = step + 1
            while position < tree.count {
                tree[position] += amount
                position += position & -position
            }
        }

        /// The sum over steps `0...step` (0 for a negative step).
        private static func prefixSum(through step: Int, of tree: [Int]) -> Int {
            var position = step + 1
            var sum = 0
            while position > 0 {
                sum += tree[position]
                position -= position & -position
            }
            return sum
        }
    }
}

/// Where every planned value lives in one arena, and when it is alive.
///
/// Produced by ``MemoryPlanner/plan(_:settings:)``. An executor allocates one buffer of
/// ``arenaByteCount`` bytes (aligned to ``alignment``) and addresses value `v` at
/// `offset(of: v)`; values outside the arena (graph inputs, parameters, constants) have no
/// placement. Two values whose lifetimes overlap never overlap in memory, except an honoured
/// in-place pair, where the output deliberately takes over the input's storage at the step that
/// reads the input for the last time.
public struct MemoryPlan: Sendable, Hashable {
    /// The storage and lifetime of one planned value.
    public struct Placement: Sendable, Hashable {
        /// The byte offset of the value inside the arena; a multiple of the plan's alignment.
        public var offset: Int
        /// The value's byte count as given in the problem (without alignment padding).
        public var byteCount: Int
        /// The steps during which the value must keep its bytes: from the step that writes it to
        /// the last step that reads it (to the last step of the run for graph outputs).
        public var lifetime: ClosedRange<Int>

        public init(offset: Int, byteCount: Int, lifetime: ClosedRange<Int>) {
            self.offset = offset
            self.byteCount = byteCount
            self.lifetime = lifetime
        }

        /// The arena bytes the value occupies.
        public var byteRange: Range<Int> { offset..<(offset + byteCount) }
    }

    /// An output written into the storage of an input whose last reader is the same step.
    public struct InPlaceReuse: Sendable, Hashable {
        /// The step that reads `input` for the last time and writes `output`.
        public var step: Int
        /// The value index whose storage is reused.
        public var input: Int
        /// The value index written into that storage.
        public var output: Int

        public init(step: Int, input: Int, output: Int) {
            self.step = step
            self.input = input
            self.output = output
        }
    }

    /// The alignment of every offset and of the arena size, in bytes.
    public let alignment: Int
    /// The placement of each value, indexed by value index; `nil` for values outside the arena.
    public let placements: [Placement?]
    /// The in-place pairs the planner honoured, in step order.
    public let inPlaceReuses: [InPlaceReuse]
    /// The bytes the arena needs: the largest `offset + byteCount`, rounded up to the alignment.
    public let arenaByteCount: Int
    /// For each step, the planned values whose last reader it is (graph outputs never appear);
    /// an executor that does not use the arena can free them after the step.
    public let releasedAfterStep: [[Int]]
    /// The figures of the plan and a readable summary.
    public let report: MemoryPlanReport

    public init(
        alignment: Int, placements: [Placement?], inPlaceReuses: [InPlaceReuse], arenaByteCount: Int,
        releasedAfterStep: [[Int]], report: MemoryPlanReport
    ) {
        self.alignment = alignment
        self.placements = placements
        self.inPlaceReuses = inPlaceReuses
        self.arenaByteCount = arenaByteCount
        self.releasedAfterStep = releasedAfterStep
        self.report = report
    }

    /// The arena offset of `value`, or `nil` when it lives outside the arena.
    public func offset(of value: Int) -> Int? { placements[value]?.offset }

    /// The lifetime of `value`, or `nil` when it lives outside the arena.
    public func lifetime(of value: Int) -> ClosedRange<Int>? { placements[value]?.lifetime }
}

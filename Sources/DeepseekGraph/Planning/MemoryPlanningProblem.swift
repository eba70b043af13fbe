/// The input of the memory planner: values with sizes and kinds, and the steps of one execution
/// order that read and write them.
///
/// The problem speaks only of integer value indices and step positions, so any graph
/// representation can be adapted to it: number the tensors, list the operators in the order they
/// will run, and say for each operator which tensors it reads and writes.
///
/// Graph inputs, parameters and constants live outside the arena (their storage belongs to the
/// caller); only activations are planned. An activation flagged as a graph output is planned too,
/// but stays alive until the end of the run so the caller can read it afterwards.
///
/// ```swift
/// var problem = MemoryPlanningProblem()
/// let x = problem.addValue(byteCount: 4096, kind: .graphInput)
/// let h = problem.addValue(byteCount: 4096)
/// let y = problem.addValue(byteCount: 4096, isGraphOutput: true)
/// problem.addStep(reads: [x], writes: [h])
/// problem.addStep(reads: [h], writes: [y], inPlace: [.init(output: y, input: h)])
/// let plan = try MemoryPlanner.plan(problem)
/// ```
public struct MemoryPlanningProblem: Sendable, Hashable {
    /// One tensor of the schedule.
    public struct Value: Sendable, Hashable {
        /// Where a value's storage comes from.
        public enum Kind: Sendable, Hashable, CaseIterable, CustomStringConvertible {
            /// Fed by the caller for each run; not planned.
            case graphInput
            /// A trained weight owned by the model; not planned.
            case parameter
            /// A fixed tensor baked into the graph; not planned.
            case constant
            /// Produced by a step; planned in the arena.
            case activation

            public var description: String {
                switch self {
                case .graphInput: "graph input"
                case .parameter: "parameter"
                case .constant: "constant"
                case .activation: "activation"
                }
            }
        }

        /// The number of bytes the value occupies (before alignment padding).
        public var byteCount: Int
        /// Where the value's storage comes from.
        public var kind: Kind
        /// Whether the caller reads the value after the run; only meaningful for activations, which
        /// then stay alive until the last step.
        public var isGraphOutput: Bool

        public init(byteCount: Int, kind: Kind = .activation, isGraphOutput: Bool = false) {
            self.byteCount = byteCount
            self.kind = kind
            self.isGraphOutput = isGraphOutput
        }

        /// Whether the planner assigns this value an arena offset.
        public var isPlanned: Bool { kind == .activation }
    }

    /// Permission for a step to write one of its outputs into the storage of one of its inputs.
    ///
    /// The caller decides eligibility (an element-wise op whose output has the input's shape and
    /// dtype, or a smaller element). The planner honours a hint only when it is safe: the input is
    /// an activation that is not a graph output, this step is its last reader, its storage is at
    /// least as large as the output, and neither the input nor the output is already part of
    /// another in-place pair.
    public struct InPlaceHint: Sendable, Hashable {
        /// The value index of the output that may reuse the input's storage.
        public var output: Int
        /// The value index of the input whose storage may be reused.
        public var input: Int

        public init(output: Int, input: Int) {
            self.output = output
            self.input = input
        }
    }

    /// One operator of the execution order.
    public struct Step: Sendable, Hashable {
        /// Value indices this step reads (repeats allowed).
        public var reads: [Int]
        /// Value indices this step writes; each activation is written by exactly one step.
        public var writes: [Int]
        /// Outputs this step may write in place of its inputs.
        public var inPlaceHints: [InPlaceHint]

        public init(reads: [Int], writes: [Int], inPlaceHints: [InPlaceHint] = []) {
            self.reads = reads
            self.writes = writes
            self.inPlaceHints = inPlaceHints
        }
    }

    /// All values, indexed by value index.
    public var values: [Value]
    /// The execution order; a step's position is its step index.
    public var steps: [Step]

    public init(values: [Value] = [], steps: [Step] = []) {
        self.values = values
        self.steps = steps
    }

    /// Appends a value and returns its index.
    @discardableResult
    public mutating func addValue(
        byteCount: Int, kind: Value.Kind = .activation, isGraphOutput: Bool = false
    ) -> Int {
        values.append(Value(byteCount: byteCount, kind: kind, isGraphOutput: isGraphOutput))
        return values.count - 1
    }

    /// Appends a step to the execution order and returns its index.
    @discardableResult
    public mutating func addStep(reads: [Int], writes: [Int], inPlace: [InPlaceHint] = []) -> Int {
        steps.append(Step(reads: reads, writes: writes, inPlaceHints: inPlace))
        return steps.count - 1
    }
}

extension MemoryPlanner {
    /// The lifetime of every planned value, derived from one pass over the steps, with the checks
    /// that make the problem a valid schedule.
    struct Liveness {
        /// The step that writes each value; -1 for values outside the arena and unused activations.
        var starts: [Int]
        /// The last step each value must survive: its last reader, its writer when nobody reads it,
        /// or the last step for graph outputs; -1 where `starts` is -1.
        var ends: [Int]

        /// Values above this size are rejected: rounding them up and summing them must not overflow.
        static let largestByteCount = 1 << 56

        init(_ problem: MemoryPlanningProblem) throws(MemoryPlanningError) {
            let values = problem.values
            for (index, value) in values.enumerated()
            where value.byteCount < 0 || value.byteCount > Self.largestByteCount {
                throw MemoryPlanningError(
                    .invalidByteCount,
                    "value \(index) (\(value.kind)) has byte count \(value.byteCount); byte counts must lie in "
                        + "0...\(Self.largestByteCount)")
            }
            starts = Array(repeating: -1, count: values.count)
            ends = Array(repeating: -1, count: values.count)

            for (stepIndex, step) in problem.steps.enumerated() {
                // Reads first: a value written by this step is not yet written when the step reads.
                for input in step.reads {
                    try Self.check(input, in: values, step: stepIndex, role: "reads")
                    guard values[input].isPlanned else { continue }
                    guard starts[input] >= 0 else {
                        throw MemoryPlanningError(
                            .readBeforeWrite,
                            "step \(stepIndex) reads activation \(input) before any step writes it; a step may only "
                                + "read activations written by an earlier step, so reorder the steps or mark the "
                                + "value as a graph input, parameter or constant")
                    }
                    ends[input] = stepIndex
                }
                for output in step.writes {
                    try Self.check(output, in: values, step: stepIndex, role: "writes")
                    guard values[output].isPlanned else {
                        throw MemoryPlanningError(
                            .writesUnplannedValue,
                            "step \(stepIndex) writes value \(output), a \(values[output].kind); steps may only write "
                                + "activations, so give the step a new activation as its output")
                    }
                    guard starts[output] < 0 else {
                        throw MemoryPlanningError(
                            .multipleWriters,
                            "activation \(output) is written by step \(starts[output]) and again by step "
                                + "\(stepIndex); each activation must have exactly one writer")
                    }
                    starts[output] = stepIndex
                    ends[output] = stepIndex
                }
                for hint in step.inPlaceHints {
                    guard step.writes.contains(hint.output), step.reads.contains(hint.input) else {
                        throw MemoryPlanningError(
                            .invalidInPlaceHint,
                            "step \(stepIndex) hints that value \(hint.output) may be written in place of value "
                                + "\(hint.input), but it must write the first and read the second; fix the hint "
                                + "or drop it")
                    }
                }
            }

            let lastStep = problem.steps.count - 1
            for (index, value) in values.enumerated() where value.isPlanned && value.isGraphOutput {
                guard starts[index] >= 0 else {
                    throw MemoryPlanningError(
                        .readBeforeWrite,
                        "activation \(index) is a graph output but no step writes it; add the step that "
                            + "produces it or mark it as a graph input")
                }
                ends[index] = lastStep
            }
        }

        private static func check(
            _ value: Int, in values: [MemoryPlanningProblem.Value], step: Int, role: String
        ) throws(MemoryPlanningError) {
            guard values.indices.contains(value) else {
                throw MemoryPlanningError(
                    .invalidValueIndex,
                    "step \(step) \(role) value \(value), but the problem has \(values.count) values "
                        + "(indices 0..<\(values.count)); add the value or fix the step")
            }
        }
    }
}

public import DeepseekCore

/// An error from memory planning: a problem that does not describe a valid schedule, or a plan that
/// fails validation against its problem.
///
/// The message names the value and step involved and what to change, e.g.
/// `value 7 is read by step 3 but written by step 5; a step may only read values written by an
/// earlier step, so reorder the steps or fix the reads of step 3`.
public struct MemoryPlanningError: DeepseekError {
    /// The kind of planning failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// A step names a value index outside the problem's values.
        public static let invalidValueIndex = Code("invalidValueIndex")
        /// A value has a negative byte count.
        public static let invalidByteCount = Code("invalidByteCount")
        /// An activation is written by more than one step (or twice by one step).
        public static let multipleWriters = Code("multipleWriters")
        /// A step writes a graph input, parameter or constant, which live outside the arena.
        public static let writesUnplannedValue = Code("writesUnplannedValue")
        /// An activation is never written, or is read by a step that does not come after its writer.
        public static let readBeforeWrite = Code("readBeforeWrite")
        /// An in-place hint names an output the step does not write or an input it does not read.
        public static let invalidInPlaceHint = Code("invalidInPlaceHint")
        /// A plan does not satisfy its problem: overlapping live values, a misaligned offset, an
        /// offset past the arena, or an in-place reuse the problem does not allow.
        public static let invalidPlan = Code("invalidPlan")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation

    public init(
        _ code: Code, _ message: String, cause: (any Error)? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }
}

public import DeepseekCore

/// An error from reading or writing a safetensors file, or from loading its tensors into a model.
///
/// Messages name the file and, where there is one, the tensor: a broken file or a checkpoint for
/// a different model reads as such instead of as a crash or a shape error deep in a graph.
public struct SafetensorsError: DeepseekError {
    /// The kind of failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The file cannot be opened, mapped, read or written.
        public static let io = Code("io")
        /// The 8-byte length or the JSON header is malformed, or an entry lacks a field.
        public static let invalidHeader = Code("invalidHeader")
        /// A tensor's bytes run past the end of the file.
        public static let truncated = Code("truncated")
        /// A tensor's byte length does not match its dtype and shape, or its dtype cannot be
        /// stored in the model's parameter (integers into a float weight).
        public static let dtypeMismatch = Code("dtypeMismatch")
        /// The header names a dtype Deepseek does not have (`F8_E4M3`, `U16`, …).
        public static let unsupportedDType = Code("unsupportedDType")
        /// A tensor has a different shape than the parameter it is loaded into.
        public static let shapeMismatch = Code("shapeMismatch")
        /// The model has a parameter the file does not provide.
        public static let missingTensor = Code("missingTensor")
        /// The file has a tensor the model has no parameter for.
        public static let unexpectedTensor = Code("unexpectedTensor")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The tensor the error is about, when there is one.
    public var tensor: String?

    public init(_ code: Code, _ message: String, tensor: String? = nil, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.tensor = tensor
        self.cause = cause
        self.location = SourceLocation(file: file, line: line)
    }
}

public import DeepseekCore

/// An error from reading or running an ONNX model: a corrupt or truncated file, a model that
/// breaks the ONNX rules, or a feature Deepseek does not implement.
///
/// Errors about a file name the file and, where it is known, the byte offset at which reading
/// failed, e.g. `malformed: model.onnx: byte 1234: length-delimited field 5 claims 900 bytes
/// but only 12 remain; the file is truncated or corrupt`.
public struct ONNXError: DeepseekError {
    /// The kind of ONNX failure.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The bytes are not valid protocol-buffer wire format (truncated, corrupt, bad lengths).
        public static let malformed = Code("malformed")
        /// The file decodes but breaks an ONNX rule (element counts, missing fields, bad names).
        public static let invalidModel = Code("invalidModel")
        /// An operator, attribute value, dtype or value kind that Deepseek does not implement.
        public static let unsupported = Code("unsupported")
        /// A file could not be read.
        public static let io = Code("io")
    }

    public var code: Code
    public var message: String
    public var cause: (any Error)?
    public var location: SourceLocation
    /// The file being read when the error happened, if any.
    public var file: String?
    /// The byte offset within `file` at which decoding failed, if known.
    public var byteOffset: Int?

    public init(
        _ code: Code, _ message: String, file: String? = nil, byteOffset: Int? = nil, cause: (any Error)? = nil,
        sourceFile: String = #fileID, sourceLine: Int = #line
    ) {
        self.code = code
        self.file = file
        self.byteOffset = byteOffset
        self.cause = cause
        self.location = SourceLocation(file: sourceFile, line: sourceLine)
        var prefix = ""
        if let file { prefix += "\(file): " }
        if let byteOffset { prefix += "byte \(byteOffset): " }
        self.message = prefix + message
    }

    /// Shorthand for an unsupported feature, the reason a conformance case is skipped.
    static func unsupported(_ message: String) -> ONNXError { ONNXError(.unsupported, message) }

    /// Shorthand for a model that breaks an ONNX rule.
    static func invalid(_ message: String) -> ONNXError { ONNXError(.invalidModel, message) }
}

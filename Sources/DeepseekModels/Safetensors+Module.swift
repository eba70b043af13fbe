public import DeepseekNN
import DeepseekTensor

/// How the tensor names of a weight file map onto a model's parameter names.
///
/// Deepseek's models name their parameters as the PyTorch reference implementation does
/// (`encoder.layer.0.attention.self.query.weight`), so most files load with the defaults.
/// Checkpoints saved from a model with a head add a prefix (`bert.`) and extra tensors
/// (`cls.predictions.*`); strip the one and ignore the others.
public struct WeightLoadingOptions: Sendable {
    /// Prefixes removed from a file name before it is matched (the first that matches wins).
    public var stripPrefixes: [String]
    /// File tensors the model does not need: exact names, or prefixes ending in `*` (`cls.*`).
    public var ignoring: [String]
    /// Whether every parameter must be in the file and every (non-ignored) file tensor must be used.
    public var strict: Bool

    public init(stripPrefixes: [String] = [], ignoring: [String] = [], strict: Bool = true) {
        self.stripPrefixes = stripPrefixes
        self.ignoring = ignoring
        self.strict = strict
    }

    /// Whether `name` (as written in the file) is on the ignore list.
    public func ignores(_ name: String) -> Bool {
        ignoring.contains { $0.hasSuffix("*") ? name.hasPrefix($0.dropLast()) : name == $0 }
    }

    /// The parameter name a file name maps to.
    public func parameterName(for fileName: String) -> String {
        for p in stripPrefixes where fileName.hasPrefix(p) { return String(fileName.dropFirst(p.count)) }
        return fileName
    }
}

extension Module {
    /// Saves every parameter (buffers included) to a safetensors file, under its parameter name.
    ///
    /// ```swift
    /// try model.save(to: "/tmp/model.safetensors")
    /// let copy = try BERTModel(configuration: model.configuration, seed: 9)
    /// try copy.load(safetensorsAt: "/tmp/model.safetensors")
    /// ```
    ///
    /// - Throws: `SafetensorsError.io` when the file cannot be written.
    public func save(to path: String, metadata: [String: String] = ["format": "pt"]) throws {
        try SafetensorsFile.write(parameterValues, metadata: metadata, to: path)
    }

    /// Loads parameter values from the safetensors file at `path`; see `load(from:options:)`.
    @discardableResult
    public func load(safetensorsAt path: String, options: WeightLoadingOptions = .init()) throws -> [String] {
        try load(from: try SafetensorsFile(contentsOf: path), options: options)
    }

    /// Sets every parameter from the tensor of the same name in `file`, cast to the parameter's dtype.
    ///
    /// Everything is checked before anything is assigned, so a failed load leaves the model as it
    /// was. Float16 and bfloat16 tensors are widened to the parameter's dtype; float32 tensors
    /// aligned in the file are used in place (copy-on-write views of the mapping).
    ///
    /// - Returns: the file tensors that were left out (ignored, or unused when not `strict`).
    /// - Throws: `SafetensorsError` naming the tensor — `.missingTensor` for a parameter the file
    ///   lacks, `.unexpectedTensor` for a file tensor that matches no parameter (when `strict`),
    ///   `.shapeMismatch` for a tensor of another shape, `.dtypeMismatch` for an integer tensor
    ///   given to a floating-point parameter (or the reverse).
    @discardableResult
    public func load(from file: SafetensorsFile, options: WeightLoadingOptions = .init()) throws -> [String] {
        var fileNameFor: [String: String] = [:]
        var leftOut: [String] = []
        let parameterNames = Set(parameters.map(\.name))
        for name in file.names {
            if options.ignores(name) {
                leftOut.append(name)
                continue
            }
            let target = options.parameterName(for: name)
            guard parameterNames.contains(target) else {
                if options.strict {
                    throw SafetensorsError(
                        .unexpectedTensor,
                        "\(file.path): tensor \"\(name)\" matches no parameter of the model (\(parameterNames.count) parameters, e.g. \(parameterNames.sorted().prefix(3).joined(separator: ", "))); add it to WeightLoadingOptions.ignoring or load with strict: false",
                        tensor: name)
                }
                leftOut.append(name)
                continue
            }
            fileNameFor[target] = name
        }
        var values: [(Parameter, Tensor)] = []
        for p in parameters {
            guard let name = fileNameFor[p.name] else {
                if options.strict {
                    throw SafetensorsError(
                        .missingTensor, "\(file.path) has no tensor for parameter \"\(p.name)\" (\(p.type)); the file is for another model or size", tensor: p.name)
                }
                continue
            }
            let entry = file.entry(named: name)!
            guard entry.shape == p.value.shape else {
                throw SafetensorsError(
                    .shapeMismatch,
                    "\(file.path): tensor \"\(name)\" has shape \(entry.shape) but parameter \"\(p.name)\" is \(p.type); the file is for another model size",
                    tensor: name)
            }
            let t = try file.tensor(named: name)
            guard t.dtype.isFloatingPoint == p.value.dtype.isFloatingPoint else {
                throw SafetensorsError(
                    .dtypeMismatch, "\(file.path): tensor \"\(name)\" is \(entry.dtypeName) but parameter \"\(p.name)\" is \(p.value.dtype); integer and floating-point weights do not mix",
                    tensor: name)
            }
            values.append((p, t.dtype == p.value.dtype ? t : try t.cast(to: p.value.dtype)))
        }
        for (p, v) in values { p.value = v }
        return leftOut
    }
}

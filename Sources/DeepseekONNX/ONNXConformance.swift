import DeepseekCore
public import DeepseekTensor

/// Runs ONNX's operator conformance tests (the "node" test vectors) against Deepseek's tensor
/// operations on a chosen kernel backend.
///
/// Each case is a directory `test_<name>/` holding `model.onnx` and one or more
/// `test_data_set_N/` folders of `input_K.pb` and `output_K.pb` tensors. A case passes when
/// every output matches in dtype, shape and values (relative tolerance 1e-3, absolute 1e-7,
/// NaN equal to NaN, exact for integers and booleans; `bfloat16` outputs allow one bfloat16
/// epsilon, 2⁻⁷, because 1e-3 is finer than the format can resolve and the reference values
/// truncate where Deepseek rounds to nearest). A case is skipped, with the reason, when its
/// operator, an attribute value, a value kind or a dtype is not implemented, when the backend
/// answers `TensorError.unsupported` for a dtype it lacks, or when it is listed in
/// `knownDefects`; these are all decided before any output is compared. Anything else — wrong
/// values, dtypes or shapes, or an error while running — is a failure.
///
/// ```swift
/// let conformance = ONNXConformance(dataDirectory: ONNXConformance.defaultDataDirectory)
/// let summary = try conformance.runAll(backend: ReferenceBackend())
/// print(summary.renderText())   // …, last line "689 passed, 0 failed, 243 skipped"
/// ```
public struct ONNXConformance: Sendable {
    /// Where Debian's `libonnx-testdata` package installs the node tests.
    public static let defaultDataDirectory = "/usr/share/libonnx-testdata/data/node"

    /// The directory holding the `test_*` case directories.
    public var dataDirectory: String
    /// Relative tolerance for floating-point outputs.
    public var relativeTolerance: Double = 1e-3
    /// Absolute tolerance for floating-point outputs.
    public var absoluteTolerance: Double = 1e-7

    /// Cases whose expected values contradict their own model, with the evidence. They are
    /// skipped before running, and the reason says why, so the report still lists them.
    public static let knownDefects: [String: String] = [
        "test_adam_multiple":
            "known defect in the test data: the expected values use epsilon 1e-2, but the model sets no epsilon, so the operator default 1e-6 applies (later ONNX releases add the attribute)"
    ]

    public init(dataDirectory: String = ONNXConformance.defaultDataDirectory) {
        self.dataDirectory = dataDirectory
    }

    /// Whether the data directory exists (the Debian package may not be installed).
    public var isAvailable: Bool { isDirectory(dataDirectory) }

    /// The case names (directory names such as `test_add`), sorted.
    ///
    /// - Throws: `ONNXError.io` when the data directory cannot be listed.
    public func listCases() throws(ONNXError) -> [String] {
        try listDirectory(dataDirectory).filter { $0.hasPrefix("test_") && fileExists(path($0, "model.onnx")) }
    }

    func path(_ parts: String...) -> String {
        ([dataDirectory] + parts).joined(separator: "/")
    }

    /// Runs one case on `backend` and reports its outcome; never throws.
    public func run(case name: String, backend: any KernelBackend) -> ONNXCaseResult {
        let clock = ContinuousClock()
        let start = clock.now
        var op = "?"
        let status: ONNXCaseResult.Status
        do {
            let model = try ONNXModel(contentsOf: path(name, "model.onnx"))
            op = operatorLabel(name, model)
            if let defect = Self.knownDefects[name] {
                status = .skipped(defect)
            } else if let reason = model.unsupportedReason {
                status = .skipped(reason)
            } else {
                status = try KernelBackends.using(backend) { try check(name, model) }
            }
        } catch let error as ONNXError where error.code == .unsupported {
            status = .skipped(error.message)
        } catch let error as TensorError where error.code == .unsupported {
            status = .skipped("backend \(backend.name): \(error.message)")
        } catch {
            status = .failed("\(error)")
        }
        let elapsed = clock.now - start
        let seconds = elapsed.inSeconds
        return ONNXCaseResult(name: name, op: op, status: status, seconds: seconds)
    }

    /// Runs every case (or those whose name contains `filter`) in name order.
    ///
    /// - Parameters:
    ///   - backend: the kernel backend the tensor operations run on.
    ///   - filter: a substring a case name must contain, or `nil` for all cases.
    ///   - progress: called after each case with its result.
    /// - Throws: `ONNXError.io` when the data directory cannot be listed.
    public func runAll(
        backend: any KernelBackend, filter: String? = nil, progress: ((ONNXCaseResult) -> Void)? = nil
    ) throws(ONNXError) -> ONNXConformanceSummary {
        var results: [ONNXCaseResult] = []
        for name in try listCases() where filter.map({ name.contains($0) }) ?? true {
            let result = run(case: name, backend: backend)
            progress?(result)
            results.append(result)
        }
        return ONNXConformanceSummary(backend: backend.name, results: results)
    }

    /// The operator a case exercises: the node's type for one-node graphs, and for the
    /// function-expanded variants (`…_expanded`) the operator of the case they expand.
    func operatorLabel(_ name: String, _ model: ONNXModel) -> String {
        if model.graph.nodes.count == 1 { return model.graph.nodes[0].opType }
        if name.hasSuffix("_expanded"),
            let original = try? ONNXModel(contentsOf: path(String(name.dropLast("_expanded".count)), "model.onnx")),
            original.graph.nodes.count == 1
        {
            return original.graph.nodes[0].opType + " (expanded)"
        }
        return "graph"
    }

    /// Runs every data set of a case and compares the outputs.
    func check(_ name: String, _ model: ONNXModel) throws -> ONNXCaseResult.Status {
        let sets = try listDirectory(path(name)).filter { $0.hasPrefix("test_data_set_") }
        guard !sets.isEmpty else { return .failed("no test_data_set_N directory") }
        for set in sets {
            let files = try listDirectory(path(name, set))
            func load(_ prefix: String, declared: [ONNXValueInfo]) throws -> [Tensor] {
                let count = files.filter { $0.hasPrefix(prefix) && $0.hasSuffix(".pb") }.count
                return try (0..<count).map { k in
                    var proto = try ONNXTensorProto(contentsOf: path(name, set, "\(prefix)\(k).pb"))
                    // ONNX's generator stores bfloat16 vectors as uint16 bit patterns (NumPy has
                    // no bfloat16); the graph's declared type says how to read them.
                    if proto.dataType == .uint16, k < declared.count,
                        case .tensor(let declaredType, _) = declared[k].type, declaredType == .bfloat16
                    {
                        proto.dataType = .bfloat16
                    }
                    return try proto.tensor()
                }
            }
            let inputs = try load("input_", declared: model.graph.feedInputs)
            let expected = try load("output_", declared: model.graph.outputs)
            let actual = try model.run(inputs)
            guard actual.count == expected.count else {
                return .failed("\(set): the graph produced \(actual.count) outputs but \(expected.count) are expected")
            }
            for (k, (a, e)) in zip(actual, expected).enumerated() {
                if let mismatch = try compare(a, e) {
                    return .failed("\(set) output \(k) ('\(model.graph.outputs[k].name)'): \(mismatch)")
                }
            }
        }
        return .passed
    }

    /// Describes how `actual` differs from `expected`, or returns `nil` when they match.
    public func compare(_ actual: Tensor, _ expected: Tensor) throws -> String? {
        guard actual.dtype == expected.dtype else { return "dtype \(actual.dtype), expected \(expected.dtype)" }
        guard actual.shape == expected.shape else { return "shape \(actual.shape), expected \(expected.shape)" }
        var mismatches = 0
        var first: String?
        var worst = 0.0
        if expected.dtype.isFloatingPoint {
            let rtol = expected.dtype == .bfloat16 ? Swift.max(relativeTolerance, 1.0 / 128) : relativeTolerance
            let a = try actual.scalarsAsDouble()
            let e = try expected.scalarsAsDouble()
            for i in e.indices {
                let ok: Bool
                if e[i].isNaN {
                    ok = a[i].isNaN
                } else if e[i].isInfinite || a[i].isInfinite || a[i].isNaN {
                    ok = a[i] == e[i]
                } else {
                    let difference = Swift.abs(a[i] - e[i])
                    ok = difference <= absoluteTolerance + rtol * Swift.abs(e[i])
                    if !ok { worst = Swift.max(worst, difference) }
                }
                if !ok {
                    mismatches += 1
                    if first == nil { first = "first at index \(i): got \(a[i]), expected \(e[i])" }
                }
            }
            if mismatches > 0 {
                return "\(mismatches) of \(e.count) values differ beyond rtol \(rtol), atol \(absoluteTolerance); \(first!); largest difference \(worst)"
            }
            return nil
        }
        let a = try actual.scalars(as: Int64.self)
        let e = try expected.scalars(as: Int64.self)
        for i in e.indices where a[i] != e[i] {
            mismatches += 1
            if first == nil { first = "first at index \(i): got \(a[i]), expected \(e[i])" }
        }
        return mismatches > 0 ? "\(mismatches) of \(e.count) values differ; \(first!)" : nil
    }
}

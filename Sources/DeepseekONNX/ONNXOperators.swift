import DeepseekTensor

/// The inputs, attributes and operator-set version one node runs with.
///
/// Operator implementations read attributes through the typed accessors, which apply ONNX's
/// defaults and turn a wrongly typed attribute into an `invalidModel` error naming the node.
struct NodeContext {
    let node: ONNXNode
    /// The version of the default operator set; decides which revision of an operator applies.
    let opset: Int
    /// Input values; `nil` where an optional input is omitted.
    let inputs: [Tensor?]

    var op: String { node.opType }

    func invalid(_ message: String) -> ONNXError {
        ONNXError.invalid("\(op) node '\(node.name)': \(message)")
    }

    func unsupported(_ message: String) -> ONNXError {
        ONNXError.unsupported("\(op): \(message)")
    }

    /// A required input.
    func input(_ index: Int) throws(ONNXError) -> Tensor {
        guard index < inputs.count, let t = inputs[index] else {
            throw invalid("input \(index) is required but missing")
        }
        return t
    }

    /// An optional input, `nil` when omitted.
    func optionalInput(_ index: Int) -> Tensor? {
        index < inputs.count ? inputs[index] : nil
    }

    /// Whether output `index` is requested by the graph.
    func wantsOutput(_ index: Int) -> Bool {
        index < node.outputs.count && !node.outputs[index].isEmpty
    }

    func int(_ name: String, default value: Int) throws(ONNXError) -> Int {
        guard let a = node.attribute(name) else { return value }
        guard let i = a.i else { throw invalid("attribute '\(name)' must be an int") }
        return Int(i)
    }

    func optionalInt(_ name: String) throws(ONNXError) -> Int? {
        guard node.attribute(name) != nil else { return nil }
        return try int(name, default: 0)
    }

    func float(_ name: String, default value: Float) throws(ONNXError) -> Float {
        guard let a = node.attribute(name) else { return value }
        if let f = a.f { return f }
        if let i = a.i { return Float(i) }
        throw invalid("attribute '\(name)' must be a float")
    }

    func optionalFloat(_ name: String) throws(ONNXError) -> Float? {
        guard node.attribute(name) != nil else { return nil }
        return try float(name, default: 0)
    }

    func ints(_ name: String) -> [Int]? {
        guard let a = node.attribute(name) else { return nil }
        return a.ints.map { Int($0) }
    }

    func string(_ name: String, default value: String) throws(ONNXError) -> String {
        guard let a = node.attribute(name) else { return value }
        guard let s = a.string else { throw invalid("attribute '\(name)' must be a string") }
        return s
    }

    /// The integer values of an input tensor (shapes, axes, repeats), or `nil` when omitted.
    func intValues(_ index: Int) throws -> [Int]? {
        guard let t = optionalInput(index) else { return nil }
        guard t.dtype.isInteger else { throw invalid("input \(index) must be an integer tensor, got \(t.dtype)") }
        return try t.scalars(as: Int64.self).map { Int($0) }
    }

    /// The scalar value of a one-element input, or `nil` when omitted.
    func scalarValue(_ index: Int) throws -> Double? {
        guard let t = optionalInput(index) else { return nil }
        guard t.elementCount == 1 else { throw invalid("input \(index) must hold one value, got shape \(t.shape)") }
        return try t.scalarsAsDouble()[0]
    }

    /// Axes given as an attribute before `inputFrom` and as input `index` from that opset on.
    func axes(attributeBefore inputFrom: Int, inputIndex index: Int) throws -> [Int]? {
        opset >= inputFrom ? try intValues(index) : ints("axes")
    }
}

/// Runs one ONNX operator on Deepseek tensors, returning one value per node output (`nil` for
/// an output it does not produce).
typealias ONNXOperator = @Sendable (NodeContext) throws -> [Tensor?]

/// The table of ONNX operators mapped onto Deepseek tensor operations.
enum ONNXOperators {
    /// Operator type → implementation, for the default domain.
    static let table: [String: ONNXOperator] = {
        var t: [String: ONNXOperator] = [:]
        registerElementwise(&t)
        registerActivations(&t)
        registerReductions(&t)
        registerNN(&t)
        registerPooling(&t)
        registerLosses(&t)
        registerShapeOps(&t)
        registerIndexing(&t)
        registerNormalization(&t)
        registerConstruction(&t)
        registerSelection(&t)
        return t
    }()

    /// The implementation of `op` in `domain`, or `nil` when Deepseek has none.
    static func lookup(domain: String, op: String) -> ONNXOperator? {
        switch domain {
        case "", "ai.onnx": table[op]
        case trainingDomain: trainingTable[op]
        default: nil
        }
    }

    /// The operator types Deepseek implements, sorted (training operators prefixed by their domain).
    static var supported: [String] { table.keys.sorted() + trainingTable.keys.sorted().map { "\(trainingDomain).\($0)" } }
}

extension Tensor {
    /// A scalar of `value` in this tensor's dtype, for attribute constants.
    func scalarLike(_ value: Double) -> Tensor { Tensor(scalar: value, dtype: dtype) }
}

/// A host-built int64 tensor, for index constants (class indices, positions) that shape a
/// computation but are not computed by it.
func indexTensor(_ values: [Int], shape: Shape) throws -> Tensor {
    try Tensor(values.map { Int64($0) }, shape: shape)
}

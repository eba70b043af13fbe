public import DeepseekTensor
import Synchronization

/// Records a graph while a model's forward pass runs on `SymbolicTensor`s — define-by-run.
///
/// Each step may trace a different graph (control flow in Swift decides what is recorded); the
/// engine keys its plan cache by the graph's structural hash, so an unchanged graph is planned
/// once.
///
/// ```swift
/// let tracer = GraphTracer()
/// let x = try tracer.input("x", TensorType([64, 784]))
/// let y = try model(x)          // layers call ops on SymbolicTensor
/// let graph = tracer.finish(outputs: [y])
/// ```
public final class GraphTracer: Sendable {
    private let state = Mutex(State())

    struct State: Sendable {
        var graph = Graph()
        var parameters: [String: ValueID] = [:]
        var pins: [DevicePin] = []
        var scopes: [String] = []
        var casts: [String: ValueID] = [:]
    }

    /// The dtype each floating-point parameter is cast to when traced, by parameter name (`nil`:
    /// used as stored). Mixed precision keeps float32 master weights and computes in float16 or
    /// bfloat16 this way; the gradient flows back through the cast to the float32 parameter.
    let parameterCast: @Sendable (String) -> DType?

    public init(parameterCast: @escaping @Sendable (String) -> DType? = { _ in nil }) {
        self.parameterCast = parameterCast
    }

    /// Adds a tensor fed at run time.
    public func input(_ name: String, _ type: TensorType) throws -> SymbolicTensor {
        let id = try state.withLock { s in try s.graph.addInput(name, type, pin: s.pins.last ?? .any) }
        return SymbolicTensor(tracer: self, id: id, type: type)
    }

    /// The parameter `name`, added on first use; later uses return the same value. When the
    /// tracer casts parameters, the result is the cast (recorded once per parameter).
    public func parameter(_ name: String, _ type: TensorType) throws -> SymbolicTensor {
        let stored = try storedParameter(name, type)
        guard type.dtype.isFloatingPoint, let target = parameterCast(name), target != type.dtype else { return stored }
        let key = "\(name)@\(target)"
        if let cast = state.withLock({ $0.casts[key] }) { return SymbolicTensor(tracer: self, id: cast, type: TensorType(type.shape, target)) }
        let result = try tracer(apply: .cast(target), stored, name: "\(name).cast")
        state.withLock { $0.casts[key] = result.id }
        return result
    }

    private func tracer(apply op: GraphOp, _ input: SymbolicTensor, name: String) throws -> SymbolicTensor {
        try apply(op, [input], name: name)[0]
    }

    /// The stored (master) parameter, whatever the tracer casts it to.
    public func storedParameter(_ name: String, _ type: TensorType) throws -> SymbolicTensor {
        let id = try state.withLock { s -> ValueID in
            if let existing = s.parameters[name] {
                let t = s.graph[value: existing].type
                guard t == type else {
                    throw GraphError(.inference, "parameter \"\(name)\" was traced as \(t) and is now used as \(type); parameter names must be unique per shape")
                }
                return existing
            }
            let v = try s.graph.addParameter(name, type, pin: s.pins.last ?? .any)
            s.parameters[name] = v
            return v
        }
        return SymbolicTensor(tracer: self, id: id, type: type)
    }

    /// Adds a constant.
    public func constant(_ tensor: Tensor) throws -> SymbolicTensor {
        let id = try record(.constant(tensor), [])[0]
        return SymbolicTensor(tracer: self, id: id, type: TensorType(tensor.shape, tensor.dtype))
    }

    /// Records `op` applied to `inputs` and returns its outputs.
    public func apply(_ op: GraphOp, _ inputs: [SymbolicTensor], name: String? = nil) throws -> [SymbolicTensor] {
        for t in inputs where t.tracer !== self {
            throw GraphError(.unknownReference, "\(op.label): input \(t.id) belongs to another tracer; trace a model with one GraphTracer")
        }
        let (ids, types) = try state.withLock { s -> ([ValueID], [TensorType]) in
            let scoped = name.map { (s.scopes + [$0]).joined(separator: ".") }
            let ids = try s.graph.add(op, inputs.map(\.id), name: scoped.map { Self.unique($0, in: s.graph) }, pin: s.pins.last ?? .any)
            return (ids, ids.map { s.graph[value: $0].type })
        }
        return zip(ids, types).map { SymbolicTensor(tracer: self, id: $0, type: $1) }
    }

    func record(_ op: GraphOp, _ inputs: [ValueID]) throws -> [ValueID] {
        try state.withLock { s in try s.graph.add(op, inputs, pin: s.pins.last ?? .any) }
    }

    private static func unique(_ name: String, in graph: Graph) -> String {
        guard graph.node(named: name) != nil else { return name }
        var k = 1
        while graph.node(named: "\(name)_\(k)") != nil { k += 1 }
        return "\(name)_\(k)"
    }

    /// Runs `body` with every node it records pinned to `pin`.
    public func pinned<R>(_ pin: DevicePin, _ body: () throws -> R) rethrows -> R {
        state.withLock { $0.pins.append(pin) }
        defer { state.withLock { _ = $0.pins.popLast() } }
        return try body()
    }

    /// Runs `body` with `name` prefixed to the names of nodes it records (`encoder.attn.q`).
    public func scope<R>(_ name: String, _ body: () throws -> R) rethrows -> R {
        state.withLock { $0.scopes.append(name) }
        defer { state.withLock { _ = $0.scopes.popLast() } }
        return try body()
    }

    /// The graph traced so far, with `outputs` as its results.
    public func finish(outputs: [SymbolicTensor]) -> Graph {
        state.withLock { s in
            var g = s.graph
            g.outputs = outputs.map(\.id)
            return g
        }
    }
}

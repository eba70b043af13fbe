public import DeepseekGraph
public import DeepseekTensor
import Synchronization

/// A trainable tensor owned by a layer: its name within the model and its current value.
///
/// Parameters are reference types so an optimizer updates the value a layer reads on the next
/// step, as in PyTorch. A layer creates its parameters with local names (`weight`, `bias`); each
/// parent prefixes the names of its children's parameters when it is built (`Module.named(_:)`),
/// so a finished model's parameters carry dotted paths such as `encoder.0.attn.q.weight`.
///
/// A parameter with `isTrainable == false` is what PyTorch calls a buffer (BatchNorm's running
/// statistics): it is fed to the graph like any parameter, so changing it needs no retrace, but
/// optimizers leave it alone.
public final class Parameter: Sendable {
    private struct State: Sendable {
        var name: String
        var value: Tensor
    }

    private let state: Mutex<State>
    /// Whether optimizers update this tensor (`false` for buffers such as running statistics).
    public let isTrainable: Bool

    public init(_ name: String, _ value: Tensor, trainable: Bool = true) {
        self.state = Mutex(State(name: name, value: value))
        self.isTrainable = trainable
    }

    /// The dotted name (`encoder.0.weight`), complete once the model is built.
    public var name: String { state.withLock { $0.name } }

    /// The current value.
    public var value: Tensor {
        get { state.withLock { $0.value } }
        set { state.withLock { $0.value = newValue } }
    }

    public var type: TensorType { let v = value; return TensorType(v.shape, v.dtype) }

    /// The parameter as a symbolic tensor in `tracer`'s graph.
    public func traced(in tracer: GraphTracer) throws -> SymbolicTensor { try tracer.parameter(name, type) }

    /// Puts `prefix.` in front of the name; parents call this (through `named(_:)`) on their children.
    func prefixName(with prefix: String) {
        state.withLock { $0.name = prefix.isEmpty ? $0.name : "\(prefix).\($0.name)" }
    }
}

/// A layer or model: a forward pass over symbolic tensors and the parameters it owns.
///
/// Running `callAsFunction` on a `SymbolicTensor` records the graph (define-by-run); the engine
/// then plans and executes it. Parameter names are unique within a model.
///
/// A module that holds children names them once, when it is built, with `named(_:)`, and runs
/// each one under the same name with `child(x, scope: "name")`; parameters and graph nodes then
/// share one dotted path (`attn.q.weight` is read by the node `attn.q.matmul`):
///
/// ```swift
/// final class Block: Module {
///     let norm: LayerNorm
///     let fc: Linear
///     init(dim: Int, rng: inout SeededRandom) throws {
///         norm = try LayerNorm(normalizedShape: [dim]).named("norm")
///         fc = try Linear(inFeatures: dim, outFeatures: dim, rng: &rng).named("fc")
///     }
///     func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
///         try x + fc(norm(x, scope: "norm"), scope: "fc")
///     }
///     var parameters: [Parameter] { norm.parameters + fc.parameters }
/// }
/// ```
public protocol Module: AnyObject, Sendable {
    /// Records the forward pass.
    func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor
    /// Every parameter of the module and its children, in a stable order.
    var parameters: [Parameter] { get }
}

extension Module {
    /// The parameters' current values by name, as graph feeds.
    public var parameterValues: [String: Tensor] {
        Dictionary(parameters.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// The parameters an optimizer updates (buffers such as running statistics left out).
    public var trainableParameters: [Parameter] { parameters.filter(\.isTrainable) }

    /// The number of scalars in all parameters (buffers included).
    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.value.elementCount } }

    /// Prefixes the names of every parameter of this module with `name` and returns the module.
    ///
    /// A parent calls it on each child as it builds it — PyTorch's attribute name. Run the child
    /// under the same name with `callAsFunction(_:scope:)` so node names match parameter names.
    @discardableResult
    public func named(_ name: String) -> Self {
        for p in parameters { p.prefixName(with: name) }
        return self
    }

    /// Runs the module with the nodes it records named under `scope` (`attn.q.matmul`).
    public func callAsFunction(_ x: SymbolicTensor, scope: String) throws -> SymbolicTensor {
        try x.tracer.scope(scope) { try self(x) }
    }

    /// Traces the forward pass for one input and returns its graph.
    ///
    /// ```swift
    /// let graph = try model.trace(TensorType([64, 784]))
    /// let logits = try graph.run(GraphFeeds(inputs: ["x": x], parameters: model.parameterValues))[0]
    /// ```
    public func trace(_ input: TensorType, name: String = "x") throws -> Graph {
        let tracer = GraphTracer()
        let x = try tracer.input(name, input)
        let y = try self(x)
        return tracer.finish(outputs: [y])
    }

    /// Replaces parameter values by name — weights from a checkpoint or another model.
    ///
    /// - Parameter strict: when `true`, every parameter must be given and every name must exist.
    /// - Throws: `NNError` naming the parameter whose value is missing, unknown or of the wrong type.
    public func load(_ values: [String: Tensor], strict: Bool = true) throws {
        let byName = Dictionary(parameters.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        if strict, let unknown = values.keys.sorted().first(where: { byName[$0] == nil }) {
            throw NNError(.unknownParameter, "load: \"\(unknown)\" is not a parameter of this model (it has \(byName.count): \(byName.keys.sorted().prefix(8).joined(separator: ", "))…)")
        }
        for p in parameters {
            guard let v = values[p.name] else {
                if strict { throw NNError(.unknownParameter, "load: no value for parameter \"\(p.name)\" (\(p.type)); pass it or load with strict: false") }
                continue
            }
            guard v.shape == p.value.shape else {
                throw NNError(.shapeMismatch, "load: parameter \"\(p.name)\" is \(p.type) but the value has shape \(v.shape)")
            }
            p.value = try v.cast(to: p.value.dtype)
        }
    }

    /// Casts every floating-point parameter (buffers included) to `dtype`.
    public func cast(to dtype: DType) throws {
        for p in parameters where p.value.dtype.isFloatingPoint { p.value = try p.value.cast(to: dtype) }
    }
}

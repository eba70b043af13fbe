import DeepseekCore
public import DeepseekGraph
public import DeepseekTensor

/// Whether `Dropout` layers drop while a forward pass is traced, and the seed their masks come from.
///
/// The mode is task-local (`Dropout.mode`), not a property of each layer, so a trainer can switch
/// every dropout of any model — including ones nested in custom modules it cannot see into — by
/// wrapping the trace:
///
/// ```swift
/// let graph = try Dropout.withMode(.training(seed: 7, step: step)) {
///     let x = try tracer.input("x", TensorType([64, 784]))
///     return tracer.finish(outputs: [try crossEntropy(logits: model(x), labels: y)])
/// }
/// ```
///
/// Outside such a scope the mode is `.evaluation` and dropout is the identity, so `Module.trace`
/// gives the inference graph.
public struct DropoutMode: Sendable, Hashable, CustomStringConvertible {
    /// Whether masks are recorded (training) or dropout is the identity (evaluation).
    public var isTraining: Bool
    /// The seed every mask of the trace derives from; equal seeds give equal masks.
    public var seed: UInt64

    public init(isTraining: Bool, seed: UInt64 = 0) {
        self.isTraining = isTraining
        self.seed = seed
    }

    /// No dropout: the layers record nothing.
    public static let evaluation = DropoutMode(isTraining: false)

    /// Dropout with masks determined by `seed` and `step` alone, so a step can be replayed (after
    /// a restart, say) without replaying the steps before it.
    public static func training(seed: UInt64, step: Int = 0) -> DropoutMode {
        DropoutMode(isTraining: true, seed: mixSeed(seed, UInt64(bitPattern: Int64(step))))
    }

    public var description: String { isTraining ? "training(seed: \(seed))" : "evaluation" }
}

/// Zeroes each element with probability `probability` while training and scales the rest by
/// `1/(1 − probability)` (inverted dropout, PyTorch's `nn.Dropout`); the identity in evaluation.
///
/// In training mode (see `DropoutMode`) the layer records a `DropoutMask` node — an op with no
/// inputs whose attributes hold the shape, dtype, probability and seed — and multiplies the input
/// by it. The mask's seed mixes the trace's seed with the position of the input in the graph, so
/// two dropout layers of one model draw different masks and the same model traced with the same
/// seed draws the same ones. The mask has no inputs, so autodiff sends no gradient into it and
/// the gradient of the product reaches the weights through the multiply as usual.
///
/// A graph with dropout depends on its seed: traced with a new seed each step, it has a new
/// structural hash each step.
///
/// No parameters. Nodes (training only): `mask`, `dropout`.
public final class Dropout: Module {
    /// The probability of zeroing an element, in `[0, 1)`.
    public let probability: Double
    /// Mixed into the seed of this layer's masks, to tell apart layers that drop the same value.
    public let salt: UInt64

    /// The mode of the current task; `.evaluation` unless set with `withMode` (or `$mode.withValue`).
    @TaskLocal public static var mode: DropoutMode = .evaluation

    /// - Throws: `NNError.invalidArgument` for a probability outside `[0, 1)`.
    public init(probability: Double = 0.5, salt: UInt64 = 0) throws {
        guard probability >= 0, probability < 1 else {
            throw NNError(
                .invalidArgument,
                "Dropout: probability must be in [0, 1), got \(probability); 1 would zero every element and leave no scale for the rest")
        }
        self.probability = probability
        self.salt = salt
    }

    /// Runs `body` with `mode` as the dropout mode of the current task.
    public static func withMode<R>(_ mode: DropoutMode, _ body: () throws -> R) rethrows -> R {
        try $mode.withValue(mode, operation: body)
    }

    /// Runs the asynchronous `body` with `mode` as the dropout mode of the current task.
    public static func withMode<R>(
        _ mode: DropoutMode, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> R
    ) async rethrows -> R {
        try await $mode.withValue(mode, operation: body, isolation: isolation)
    }

    public func callAsFunction(_ x: SymbolicTensor) throws -> SymbolicTensor {
        let mode = Self.mode
        guard mode.isTraining, probability > 0 else { return x }
        guard x.dtype.isFloatingPoint else {
            throw NNError(.dtypeMismatch, "Dropout: input must be floating-point, got \(x.type)")
        }
        let seed = mixSeed(mixSeed(mode.seed, UInt64(x.id.rawValue)), salt)
        let op = DropoutMask(shape: x.shape, dtype: x.dtype, probability: probability, seed: seed)
        let mask = try x.tracer.apply(.custom(op), [], name: "mask")[0]
        return try x.recording(.binary(.mul), [mask], name: "dropout")
    }

    public var parameters: [Parameter] { [] }
}

/// A graph op with no inputs that makes an inverted-dropout mask: each element is
/// `1/(1 − probability)` with probability `1 − probability` and 0 otherwise — a Bernoulli(1 − p)
/// mask already scaled, so dropout is one multiply.
///
/// The mask is a pure function of the attributes: it equals the mask of
/// `Tensor.dropout(probability:rng:)` with `SeededRandom(seed: seed)`, on every backend and in
/// every process. Evaluated on `MetaBackend` (shape inference, cost models) it returns a meta tensor.
public struct DropoutMask: CustomGraphOp {
    public let shape: Shape
    public let dtype: DType
    /// The probability of a zero, in `[0, 1)`.
    public let probability: Double
    public let seed: UInt64

    public init(shape: Shape, dtype: DType = .float32, probability: Double, seed: UInt64) {
        self.shape = shape
        self.dtype = dtype
        self.probability = probability
        self.seed = seed
    }

    public var label: String { "dropoutMask" }
    public var signature: String { "dropoutMask(\(dtype)\(shape), probability: \(probability), seed: \(seed))" }

    /// The value kept elements hold.
    public var scale: Double { 1 / (1 - probability) }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.isEmpty else {
            throw TensorError(.invalidArgument, "dropoutMask: takes no inputs, got \(inputs.count)")
        }
        guard dtype.isFloatingPoint else {
            throw TensorError(.dtypeMismatch, "dropoutMask: the mask must be floating-point, got \(dtype)")
        }
        guard probability >= 0, probability < 1 else {
            throw TensorError(.invalidArgument, "dropoutMask: probability must be in [0, 1), got \(probability)")
        }
        // With no inputs to carry the "meta" marker, the backend tells shape inference apart from a run.
        if KernelBackends.current is MetaBackend { return [Tensor.meta(try shape.validated(for: label), dtype: dtype)] }
        var rng = SeededRandom(seed: seed)
        return [try Tensor.ones(shape, dtype: dtype).dropout(probability: probability, rng: &rng).mask]
    }

    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        let bytes = outputs.reduce(0) { $0 + Double($1.byteCount) }
        return KernelCost(flops: Double(shape.elementCount), bytesRead: 0, bytesWritten: bytes, kernels: 1)
    }
}

/// Combines two words into a seed (SplitMix64 finaliser over their mix): nearby inputs give
/// unrelated outputs, so step 1 and step 2 do not share mask bits.
func mixSeed(_ a: UInt64, _ b: UInt64) -> UInt64 {
    var z = a ^ (b &+ 0x9E37_79B9_7F4A_7C15 &+ (a << 6) &+ (a >> 2))
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

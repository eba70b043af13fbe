public import DeepseekTensor

/// A chain or tree of element-wise operations run as one kernel.
///
/// `ElementwiseFusionPass` makes these from `unary`, `binary`, `select` and `cast` nodes. The
/// node reads the group's external inputs (which may broadcast, like a bias vector) and writes
/// one tensor of the broadcast shape; scalar constants of the group are held inline by the
/// program.
///
/// Execution:
/// - Meta inputs: the program is checked op by op on a `MetaBackend` (the same validation as
///   the unfused nodes) and a meta result of the inferred type is returned.
/// - float32 (and bool) programs: `FloatTileKernel` walks the output in tiles of 1024 elements,
///   keeping intermediates in scratch tiles, so each element makes one trip through memory.
///   The loops run on the host CPU whatever `KernelBackends.current` is; tensors' storage is
///   host memory on every backend.
/// - Any other dtype (float16, bfloat16, float64, integers): the ops run one by one through
///   the `Tensor` front-end on the current backend, exactly as the unfused graph would.
public struct FusedElementwise: CustomGraphOp {
    /// What the kernel computes.
    public let program: ElementwiseProgram
    let schedule: TileSchedule?

    public init(program: ElementwiseProgram) {
        self.program = program
        self.schedule = program.runsOnFloatKernel ? TileSchedule(program) : nil
    }

    /// `fused[mul,add,gelu]`.
    public var label: String { "fused[\(program.labels.joined(separator: ","))]" }
    public var signature: String { "fusedElementwise(\(program.inputTypes.map(\.description).joined(separator: ", ")); \(program))" }
    public var isElementwise: Bool { true }

    /// Whether the float32 tile kernel runs this op (else it runs op by op).
    public var usesFloatKernel: Bool { schedule != nil }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.count == program.inputTypes.count else {
            throw GraphError(.arity, "\(label): takes \(program.inputTypes.count) inputs, got \(inputs.count)")
        }
        if inputs.contains(where: \.isMeta) || program.constants.contains(where: \.isMeta) {
            let metas = inputs.map { Tensor.meta($0.shape, dtype: $0.dtype) }
            let result = try KernelBackends.using(MetaBackend()) { try program.evaluateStepwise(metas) }
            return [.meta(result.shape, dtype: result.dtype)]
        }
        guard let schedule, inputs.map(\.dtype) == program.inputTypes else {
            return [try program.evaluateStepwise(inputs)]
        }
        var shape = Shape([])
        for t in inputs { shape = try Shape.broadcast(shape, t.shape, op: label) }
        for c in program.constants { shape = try Shape.broadcast(shape, c.shape, op: label) }
        return [try FloatTileKernel(program: program, schedule: schedule).run(inputs, outputShape: shape)]
    }

    /// One pass over the output: every instruction counts one operation per element, and each
    /// input and the output move through memory once.
    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        let read = inputs.reduce(0) { $0 + Double($1.byteCount) }
        let written = outputs.reduce(0) { $0 + Double($1.byteCount) }
        let elements = outputs.reduce(0) { $0 + Double($1.shape.elementCount) }
        return KernelCost(flops: elements * Double(program.instructions.count), bytesRead: read, bytesWritten: written, kernels: 1)
    }
}

public import DeepseekTensor

/// The activations `FusedLinear` and `FusedConv2d` apply in place after their main kernel.
public enum FusedActivation {
    /// Whether `op` may follow a matmul or convolution inside the fused kernel.
    public static func isSupported(_ op: UnaryOp) -> Bool {
        switch op {
        case .relu, .leakyRelu, .elu, .geluExact, .geluTanh, .sigmoid, .tanh, .silu, .softplus: true
        default: false
        }
    }

    /// Adds the broadcast `bias` to the fresh float32 `result` and applies `activation`, in one
    /// pass over the result's buffer (no second tensor is allocated).
    ///
    /// - Precondition: `result` is float32 with data; `bias`, if any, is float32 and broadcasts
    ///   to `result.shape` without growing it.
    static func applyInPlace(_ result: inout Tensor, bias: Tensor?, activation: UnaryOp?) throws {
        let count = result.elementCount
        guard count > 0, bias != nil || activation != nil else { return }
        let layout = try bias.map { b in BroadcastLayout(b.shape == result.shape ? b : try b.expanded(to: result.shape)) }
        let biasBase = bias.map { UnsafeRawPointer($0.storage.baseAddress!).assumingMemoryBound(to: Float.self) }
        let expensive: Bool
        switch activation {
        case nil, .relu?, .leakyRelu?: expensive = false
        default: expensive = true
        }
        try withExtendedLifetime(bias) {
            try result.withUnsafeMutableBufferPointer(as: Float.self) { buffer in
                let out = buffer.baseAddress!
                // Cheap element functions are memory-bound and split only over large outputs.
                ParallelRanges.forEach(count, grain: expensive ? 1 << 14 : 1 << 18, alignment: 64) { range in
                    if let layout, let biasBase {
                        layout.forEachRun(in: range) { position, offset, length in
                            let p = out + position
                            FloatMath.apply(.add, length, FloatRun(pointer: UnsafePointer(p), stride: 1),
                                FloatRun(pointer: biasBase + offset, stride: layout.innerStride), p)
                            if let activation { FloatMath.activate(activation, p, length) }
                        }
                    } else if let activation {
                        FloatMath.activate(activation, out + range.lowerBound, range.count)
                    }
                }
            }
        }
    }
}

/// A matrix product followed by a bias add and an activation, as one node.
///
/// The product runs through `Tensor.matmul` (BLAS on the CPU backend); the bias and the
/// activation are then applied in one pass over the freshly allocated product, in place, so
/// the `[M, N]` result is written once and read once instead of three times. Inputs are
/// `x`, `w` and, when `hasBias`, the bias (any shape that broadcasts to the product's shape
/// without growing it, typically `[N]`). For non-float32 products, and for meta tensors, the
/// bias and activation run through the `Tensor` front-end like the unfused ops.
public struct FusedLinear: CustomGraphOp {
    public let hasBias: Bool
    /// The activation applied last, if any (see `FusedActivation.isSupported`).
    public let activation: UnaryOp?

    public init(hasBias: Bool, activation: UnaryOp?) {
        self.hasBias = hasBias
        self.activation = activation
    }

    /// `linear[matmul,add,gelu]`.
    public var label: String {
        "linear[" + (["matmul"] + (hasBias ? ["add"] : []) + (activation.map { ["\($0)"] } ?? [])).joined(separator: ",") + "]"
    }
    public var signature: String { "fusedLinear(bias: \(hasBias), activation: \(activation.map { "\($0)" } ?? "none"))" }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.count == (hasBias ? 3 : 2) else {
            throw GraphError(.arity, "\(label): takes \(hasBias ? 3 : 2) inputs (x, w\(hasBias ? ", bias" : "")), got \(inputs.count)")
        }
        var y = try inputs[0].matmul(inputs[1])
        let bias = hasBias ? inputs[2] : nil
        var biasFits = true
        if let bias {
            let shape = try Shape.broadcast(y.shape, bias.shape, op: label)
            biasFits = bias.dtype == .float32 && !bias.isMeta && shape == y.shape
        }
        if y.isMeta || y.dtype != .float32 || !biasFits {
            if let bias { y = try y.binary(.add, bias) }
            if let activation { y = try y.unary(activation) }
            return [y]
        }
        try FusedActivation.applyInPlace(&y, bias: bias, activation: activation)
        return [y]
    }

    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        let read = inputs.reduce(0) { $0 + Double($1.byteCount) }
        let written = outputs.reduce(0) { $0 + Double($1.byteCount) }
        let out = outputs.first?.shape ?? []
        let k = inputs.first.map { $0.shape.last ?? 1 } ?? 1
        let flops = 2 * Double(out.elementCount) * Double(k) + Double(out.elementCount) * Double((hasBias ? 1 : 0) + (activation == nil ? 0 : 1))
        return KernelCost(flops: flops, bytesRead: read, bytesWritten: written, kernels: 1)
    }
}

/// A 2-D convolution followed by an activation, as one node.
///
/// The convolution runs through `Tensor.conv2d` (with its bias, which is where a folded
/// batch normalisation's shift lands); the activation is then applied in place over the fresh
/// result. Inputs are `x`, `weight` and an optional `bias`, as for `GraphOp.conv2d`.
public struct FusedConv2d: CustomGraphOp {
    public let parameters: Conv2dParameters
    public let activation: UnaryOp

    public init(parameters: Conv2dParameters, activation: UnaryOp) {
        self.parameters = parameters
        self.activation = activation
    }

    /// `conv2d[relu]`.
    public var label: String { "conv2d[\(activation)]" }
    public var signature: String { "fusedConv2d(\(GraphOp.describe(parameters)), activation: \(activation))" }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] {
        guard (2...3).contains(inputs.count) else {
            throw GraphError(.arity, "\(label): takes x, weight and an optional bias, got \(inputs.count) inputs")
        }
        var y = try inputs[0].conv2d(inputs[1], bias: inputs.count > 2 ? inputs[2] : nil, parameters: parameters)
        if y.isMeta || y.dtype != .float32 { return [try y.unary(activation)] }
        try FusedActivation.applyInPlace(&y, bias: nil, activation: activation)
        return [y]
    }

    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        let read = inputs.reduce(0) { $0 + Double($1.byteCount) }
        let written = outputs.reduce(0) { $0 + Double($1.byteCount) }
        let outElements = Double(outputs.first?.shape.elementCount ?? 0)
        let w = inputs.count > 1 ? inputs[1].shape : []
        let perOutput = w.rank == 4 ? Double(w[1] * w[2] * w[3]) : 1
        return KernelCost(flops: 2 * outElements * perOutput + outElements, bytesRead: read, bytesWritten: written, kernels: 1)
    }
}

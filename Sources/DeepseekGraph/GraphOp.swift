public import DeepseekTensor

/// The operation of a graph node.
///
/// One case per tensor operation of `DeepseekTensor`, plus graph sources (inputs, parameters,
/// constants) and `custom` for operations defined outside this enum — the fused kernels made by
/// passes and the gradient kernels made by autodiff. Every case evaluates through the `Tensor`
/// front-end (see `GraphOp.evaluate`), so shape inference (on `MetaBackend`) and execution (on
/// any backend) follow the same validation rules.
public enum GraphOp: Sendable {
    /// A tensor fed by the caller at run time.
    case input(String)
    /// A trainable tensor whose current value the caller (or a parameter store) supplies.
    case parameter(String)
    /// A tensor fixed when the graph was built.
    case constant(Tensor)

    case unary(UnaryOp)
    /// Element-wise with NumPy broadcasting and dtype promotion.
    case binary(BinaryOp)
    /// `condition ? a : b`, broadcasting.
    case select
    case cast(DType)
    case reduce(ReduceOp, axes: [Int], keepDims: Bool)
    case argReduce(ArgReduceOp, axis: Int, keepDims: Bool)
    case matmul
    case softmax(axis: Int)
    case logSoftmax(axis: Int)
    /// Inputs `x`, optional `weight`, optional `bias`; outputs `y`, `mean`, `inverseStdDev`.
    case layerNorm(axis: Int, epsilon: Double)
    /// Inference form. Inputs `x`, `scale`, `bias`, `mean`, `variance`.
    case batchNorm(epsilon: Double)
    /// Training form. Inputs `x`, `scale`, `bias`; outputs `y`, batch `mean`, batch `variance`.
    case batchNormTraining(epsilon: Double)
    /// Inputs `x`, `weight`, optional `bias`.
    case conv2d(Conv2dParameters)
    case pool2d(PoolKind, Pool2dParameters)
    /// Inputs `x`, integer `indices`.
    case gather(axis: Int)
    case concat(axis: Int)
    case reshape(Shape)
    case permute([Int])
    case slice(axis: Int, start: Int?, end: Int?, step: Int)
    case expand(Shape)
    /// Mean cross-entropy of logits against integer labels.
    case crossEntropy(labelSmoothing: Double)
    /// An operation defined outside this enum (fused kernels, gradient kernels).
    case custom(any CustomGraphOp)

    /// A short label for reports and directive logs (`matmul`, `relu`, `add`, `fused[…]`).
    public var label: String {
        switch self {
        case .input: "input"
        case .parameter: "parameter"
        case .constant: "constant"
        case .unary(let op): op.description
        case .binary(let op): op.description
        case .select: "select"
        case .cast: "cast"
        case .reduce(let op, _, _): op.description
        case .argReduce(let op, _, _): op.rawValue
        case .matmul: "matmul"
        case .softmax: "softmax"
        case .logSoftmax: "logSoftmax"
        case .layerNorm: "layerNorm"
        case .batchNorm: "batchNorm"
        case .batchNormTraining: "batchNormTraining"
        case .conv2d: "conv2d"
        case .pool2d(let kind, _): kind == .max ? "maxPool2d" : "avgPool2d"
        case .gather: "gather"
        case .concat: "concat"
        case .reshape: "reshape"
        case .permute: "permute"
        case .slice: "slice"
        case .expand: "expand"
        case .crossEntropy: "crossEntropy"
        case .custom(let op): op.label
        }
    }

    /// The op and every attribute as canonical text: equal signatures mean equal computations on
    /// equal inputs. Structural hashing and snapshots use it.
    public var signature: String {
        switch self {
        case .input(let name): "input(\(name))"
        case .parameter(let name): "parameter(\(name))"
        case .constant(let t): "constant(\(t.dtype)\(t.shape))"
        case .unary(let op): op.description
        case .binary(let op): op.description
        case .select: "select"
        case .cast(let dtype): "cast(\(dtype))"
        case .reduce(let op, let axes, let keep): "\(op)(axes: \(axes), keepDims: \(keep))"
        case .argReduce(let op, let axis, let keep): "\(op.rawValue)(axis: \(axis), keepDims: \(keep))"
        case .matmul: "matmul"
        case .softmax(let axis): "softmax(axis: \(axis))"
        case .logSoftmax(let axis): "logSoftmax(axis: \(axis))"
        case .layerNorm(let axis, let eps): "layerNorm(axis: \(axis), epsilon: \(eps))"
        case .batchNorm(let eps): "batchNorm(epsilon: \(eps))"
        case .batchNormTraining(let eps): "batchNormTraining(epsilon: \(eps))"
        case .conv2d(let p): "conv2d(\(Self.describe(p)))"
        case .pool2d(let kind, let p): "\(label)(\(Self.describe(p)), kind: \(kind))"
        case .gather(let axis): "gather(axis: \(axis))"
        case .concat(let axis): "concat(axis: \(axis))"
        case .reshape(let shape): "reshape(\(shape))"
        case .permute(let axes): "permute(\(axes))"
        case .slice(let axis, let start, let end, let step):
            "slice(axis: \(axis), start: \(start.map(String.init) ?? "nil"), end: \(end.map(String.init) ?? "nil"), step: \(step))"
        case .expand(let shape): "expand(\(shape))"
        case .crossEntropy(let s): "crossEntropy(labelSmoothing: \(s))"
        case .custom(let op): op.signature
        }
    }

    /// Whether the node is a graph source (input, parameter or constant) rather than a computation.
    public var isSource: Bool {
        switch self {
        case .input, .parameter, .constant: true
        default: false
        }
    }

    /// Whether each output element depends only on the input elements at the same (broadcast)
    /// position — the ops fusion may chain and memory planning may run in place.
    public var isElementwise: Bool {
        switch self {
        case .unary, .binary, .select, .cast: true
        case .custom(let op): op.isElementwise
        default: false
        }
    }

    /// Whether the op only reinterprets its input (a view: no kernel, no new buffer when contiguous).
    public var isView: Bool {
        switch self {
        case .reshape, .permute, .slice, .expand: true
        default: false
        }
    }

    /// The number of outputs the op produces.
    public var outputCount: Int {
        switch self {
        case .layerNorm, .batchNormTraining: 3
        case .custom(let op): op.outputCount
        default: 1
        }
    }

    /// The device kinds that can run the op, or `nil` for every kind.
    public var deviceKinds: Set<DeviceKind>? {
        if case .custom(let op) = self { return op.deviceKinds }
        return nil
    }

    static func describe(_ p: Conv2dParameters) -> String {
        "stride: \(p.stride.h)x\(p.stride.w), padding: \(p.padding.top),\(p.padding.left),\(p.padding.bottom),\(p.padding.right), dilation: \(p.dilation.h)x\(p.dilation.w), groups: \(p.groups)"
    }

    static func describe(_ p: Pool2dParameters) -> String {
        "kernel: \(p.kernel.h)x\(p.kernel.w), stride: \(p.stride.h)x\(p.stride.w), padding: \(p.padding.top),\(p.padding.left),\(p.padding.bottom),\(p.padding.right), dilation: \(p.dilation.h)x\(p.dilation.w), ceil: \(p.ceilMode), countPad: \(p.countIncludePad)"
    }
}

/// An operation defined outside `GraphOp`: fused kernels made by passes and gradient kernels
/// made by autodiff.
///
/// `evaluate` runs on `KernelBackends.current` and must validate its inputs (it is also how the
/// graph infers output types, on `MetaBackend`, so it must accept meta tensors: compute shapes,
/// and return `Tensor.meta` results when `inputs.contains(where: \.isMeta)`).
public protocol CustomGraphOp: Sendable {
    /// A short name for reports (`fused[mul,add,relu]`, `conv2dBackwardInput`).
    var label: String { get }
    /// The op and its attributes as canonical text (see `GraphOp.signature`).
    var signature: String { get }
    /// How many outputs `evaluate` returns.
    var outputCount: Int { get }
    /// Whether the op is element-wise (eligible for in-place execution).
    var isElementwise: Bool { get }
    /// The device kinds that can run it, or `nil` for all.
    var deviceKinds: Set<DeviceKind>? { get }
    /// Computes the outputs.
    func evaluate(_ inputs: [Tensor]) throws -> [Tensor]
    /// An estimate of the work, for placement and the simulator.
    func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost
}

extension CustomGraphOp {
    public var outputCount: Int { 1 }
    public var isElementwise: Bool { false }
    public var deviceKinds: Set<DeviceKind>? { nil }
    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        let read = inputs.reduce(0) { $0 + Double($1.byteCount) }
        let written = outputs.reduce(0) { $0 + Double($1.byteCount) }
        let elements = outputs.reduce(0) { $0 + Double($1.shape.elementCount) }
        return KernelCost(flops: elements, bytesRead: read, bytesWritten: written, kernels: 1)
    }
}

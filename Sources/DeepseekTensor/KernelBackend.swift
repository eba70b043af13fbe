/// An element-wise operation of one operand.
public enum UnaryOp: Sendable, Hashable, CustomStringConvertible {
    case neg, abs, exp, log, sqrt, rsqrt, reciprocal, square
    case tanh, sigmoid, relu, silu, softplus, erf
    /// GELU with the exact erf form: x·Φ(x).
    case geluExact
    /// GELU with the tanh approximation used by GPT-2 and BERT implementations.
    case geluTanh
    case leakyRelu(alpha: Float)
    case elu(alpha: Float)
    case floor, ceil, round, sign, sin, cos
    /// Logical not, for `bool` tensors.
    case logicalNot

    public var description: String {
        switch self {
        case .neg: "neg"
        case .abs: "abs"
        case .exp: "exp"
        case .log: "log"
        case .sqrt: "sqrt"
        case .rsqrt: "rsqrt"
        case .reciprocal: "reciprocal"
        case .square: "square"
        case .tanh: "tanh"
        case .sigmoid: "sigmoid"
        case .relu: "relu"
        case .silu: "silu"
        case .softplus: "softplus"
        case .erf: "erf"
        case .geluExact: "gelu"
        case .geluTanh: "gelu(tanh)"
        case .leakyRelu(let a): "leakyRelu(alpha: \(a))"
        case .elu(let a): "elu(alpha: \(a))"
        case .floor: "floor"
        case .ceil: "ceil"
        case .round: "round"
        case .sign: "sign"
        case .sin: "sin"
        case .cos: "cos"
        case .logicalNot: "logicalNot"
        }
    }

    /// Whether the op is defined only for floating-point inputs.
    public var needsFloatingPoint: Bool {
        switch self {
        case .neg, .abs, .relu, .sign, .square, .logicalNot: false
        default: true
        }
    }
}

/// An element-wise operation of two operands of the same shape.
public enum BinaryOp: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case add, sub, mul, div, pow, maximum, minimum, mod
    case equal, notEqual, less, lessEqual, greater, greaterEqual
    case logicalAnd, logicalOr, logicalXor

    /// Whether the result is a `bool` tensor.
    public var isComparison: Bool {
        switch self {
        case .equal, .notEqual, .less, .lessEqual, .greater, .greaterEqual, .logicalAnd, .logicalOr, .logicalXor: true
        default: false
        }
    }

    public var description: String { rawValue }
}

/// A reduction over a set of axes.
public enum ReduceOp: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case sum, mean, max, min, prod
    public var description: String { rawValue }
}

/// A reduction that returns the index of the extreme element.
public enum ArgReduceOp: String, Sendable, Hashable, CaseIterable {
    case argmax, argmin
}

/// The kind of 2-D pooling window.
public enum PoolKind: String, Sendable, Hashable {
    case max, average
}

/// Stride, padding, dilation and groups of a 2-D convolution over NCHW tensors.
public struct Conv2dParameters: Sendable, Hashable {
    public var stride: (h: Int, w: Int)
    /// Padding as (top, left, bottom, right).
    public var padding: (top: Int, left: Int, bottom: Int, right: Int)
    public var dilation: (h: Int, w: Int)
    public var groups: Int

    public init(
        stride: (h: Int, w: Int), padding: (top: Int, left: Int, bottom: Int, right: Int),
        dilation: (h: Int, w: Int), groups: Int
    ) {
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
    }

    /// Symmetric padding `p` on every side and the same stride on both axes.
    public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1, groups: Int = 1) {
        self.init(stride: (stride, stride), padding: (padding, padding, padding, padding), dilation: (dilation, dilation), groups: groups)
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation && a.groups == b.groups
    }
    public func hash(into h: inout Hasher) {
        h.combine(stride.h); h.combine(stride.w); h.combine(padding.top); h.combine(padding.left)
        h.combine(padding.bottom); h.combine(padding.right); h.combine(dilation.h); h.combine(dilation.w); h.combine(groups)
    }
}

/// Window, stride, padding and dilation of 2-D pooling over NCHW tensors.
public struct Pool2dParameters: Sendable, Hashable {
    public var kernel: (h: Int, w: Int)
    public var stride: (h: Int, w: Int)
    /// Padding as (top, left, bottom, right).
    public var padding: (top: Int, left: Int, bottom: Int, right: Int)
    public var dilation: (h: Int, w: Int)
    /// Whether the output size rounds up (a last, partial window is kept).
    public var ceilMode: Bool
    /// For average pooling: whether padded positions count in the divisor.
    public var countIncludePad: Bool

    public init(
        kernel: (h: Int, w: Int), stride: (h: Int, w: Int)? = nil,
        padding: (top: Int, left: Int, bottom: Int, right: Int) = (0, 0, 0, 0), dilation: (h: Int, w: Int) = (1, 1),
        ceilMode: Bool = false, countIncludePad: Bool = false
    ) {
        self.kernel = kernel
        self.stride = stride ?? kernel
        self.padding = padding
        self.dilation = dilation
        self.ceilMode = ceilMode
        self.countIncludePad = countIncludePad
    }

    public static func == (a: Self, b: Self) -> Bool {
        a.kernel == b.kernel && a.stride == b.stride && a.padding == b.padding && a.dilation == b.dilation
            && a.ceilMode == b.ceilMode && a.countIncludePad == b.countIncludePad
    }
    public func hash(into h: inout Hasher) {
        h.combine(kernel.h); h.combine(kernel.w); h.combine(stride.h); h.combine(stride.w)
        h.combine(padding.top); h.combine(padding.left); h.combine(padding.bottom); h.combine(padding.right)
        h.combine(dilation.h); h.combine(dilation.w); h.combine(ceilMode); h.combine(countIncludePad)
    }
}

/// The outputs of a layer normalisation: the result plus the statistics autodiff needs.
public struct LayerNormResult: Sendable {
    public var output: Tensor
    /// Mean over the normalised axes, shaped like the input with those axes kept as size 1.
    public var mean: Tensor
    /// 1 / sqrt(variance + epsilon), shaped like `mean`.
    public var inverseStdDev: Tensor

    public init(output: Tensor, mean: Tensor, inverseStdDev: Tensor) {
        self.output = output
        self.mean = mean
        self.inverseStdDev = inverseStdDev
    }
}

/// The kernels a compute backend provides. Every tensor operation ends in one of these calls.
///
/// The tensor operations on `Tensor` validate their arguments, infer shapes, resolve
/// broadcasting and promote dtypes *before* calling a backend, so a backend receives only
/// well-formed requests and may `precondition` on them. Inputs may be strided views (including
/// stride-0 broadcast axes); outputs are contiguous.
///
/// Implementations: `ReferenceBackend` (naive and obviously correct — the oracle in tests),
/// `MetaBackend` (shapes and costs only), the OpenBLAS CPU backend and the OpenCL backend.
/// A backend may answer `TensorError.unsupported` for a dtype it lacks.
public protocol KernelBackend: Sendable {
    /// A short name for reports (`reference`, `cpu`, `opencl:<device>`, `meta`).
    var name: String { get }

    /// Applies `op` to every element. Float ops on floats keep the dtype; `logicalNot` takes `bool`.
    func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor
    /// Combines two tensors of the same shape and dtype element by element; comparisons give `bool`.
    func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor
    /// Picks `a` where `condition` (bool) is true and `b` elsewhere; all three share one shape.
    func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor
    /// Converts every element to `dtype`.
    func cast(_ x: Tensor, to dtype: DType) throws -> Tensor
    /// A contiguous copy with fresh storage.
    func copy(_ x: Tensor) throws -> Tensor
    /// Reduces over `axes` (sorted, unique, non-empty).
    func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int], keepDims: Bool) throws -> Tensor
    /// The `int64` index of the largest (smallest) element along `axis`.
    func argReduce(_ op: ArgReduceOp, _ x: Tensor, axis: Int, keepDims: Bool, selectLastIndex: Bool) throws -> Tensor
    /// Batched matrix product: `a` is `[batch…, M, K]`, `b` is `[batch…, K, N]` with equal batch axes.
    func matmul(_ a: Tensor, _ b: Tensor) throws -> Tensor
    /// Softmax (or log-softmax) along `axis`.
    func softmax(_ x: Tensor, axis: Int, log: Bool) throws -> Tensor
    /// Normalises over the axes from `axis` to the last, then scales and shifts.
    func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, axis: Int, epsilon: Double) throws -> LayerNormResult
    /// Normalises NC… tensors per channel with the given statistics, then scales and shifts.
    func batchNorm(
        _ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Double
    ) throws -> Tensor
    /// 2-D convolution of `x` `[N, C, H, W]` with `weight` `[O, C/groups, KH, KW]`, plus `bias` `[O]`.
    func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, parameters: Conv2dParameters) throws -> Tensor
    /// 2-D max or average pooling of `x` `[N, C, H, W]`.
    func pool2d(_ kind: PoolKind, _ x: Tensor, parameters: Pool2dParameters) throws -> Tensor
    /// Takes slices of `x` along `axis` at `indices` (int32/int64, already in range).
    func gather(_ x: Tensor, indices: Tensor, axis: Int) throws -> Tensor
    /// Joins tensors of one dtype along `axis`; all other axes agree.
    func concat(_ xs: [Tensor], axis: Int) throws -> Tensor
}

import Synchronization

/// The cost of running kernels: arithmetic and memory traffic, without running anything.
public struct KernelCost: Sendable, Hashable, CustomStringConvertible {
    /// Floating-point (or integer) operations; a fused multiply-add counts as two.
    public var flops: Double
    /// Bytes the kernels read from memory (each distinct input element once).
    public var bytesRead: Double
    /// Bytes the kernels write.
    public var bytesWritten: Double
    /// How many kernels were launched.
    public var kernels: Int

    public init(flops: Double = 0, bytesRead: Double = 0, bytesWritten: Double = 0, kernels: Int = 0) {
        self.flops = flops
        self.bytesRead = bytesRead
        self.bytesWritten = bytesWritten
        self.kernels = kernels
    }

    /// Total bytes moved.
    public var bytes: Double { bytesRead + bytesWritten }

    /// FLOPs per byte moved: where the kernel sits on a roofline.
    public var arithmeticIntensity: Double { bytes > 0 ? flops / bytes : 0 }

    public static func + (a: KernelCost, b: KernelCost) -> KernelCost {
        KernelCost(
            flops: a.flops + b.flops, bytesRead: a.bytesRead + b.bytesRead, bytesWritten: a.bytesWritten + b.bytesWritten,
            kernels: a.kernels + b.kernels)
    }

    public var description: String {
        "\(kernels) kernels, \(flops) FLOP, \(bytesRead) B read, \(bytesWritten) B written"
    }
}

/// One kernel the `MetaBackend` accounted for.
public struct KernelRecord: Sendable, Hashable {
    /// The kernel, e.g. `matmul`, `binary.add`, `conv2d`.
    public var kernel: String
    /// The shapes of the inputs, in order.
    public var inputShapes: [Shape]
    /// The shape of the (first) output.
    public var outputShape: Shape
    public var dtype: DType
    public var cost: KernelCost
}

/// A backend that computes output shapes and dtypes, FLOPs and bytes moved — and no values.
///
/// Every result is a meta tensor (`Tensor.isMeta`), so whole models run on shapes alone: a
/// GPT-3-sized forward pass costs kilobytes, not terabytes. The simulator turns the recorded
/// costs into time with a device model.
///
/// ```swift
/// let meta = MetaBackend(recording: true)
/// let y = try KernelBackends.using(meta) { try Tensor.meta([64, 784]).matmul(.meta([784, 256])) }
/// meta.total.flops   // 2·64·784·256
/// ```
public final class MetaBackend: KernelBackend {
    private struct State {
        var total = KernelCost()
        var records: [KernelRecord] = []
    }
    private let state = Mutex(State())
    private let recording: Bool

    /// - Parameter recording: keep a per-kernel record in addition to the running total.
    public init(recording: Bool = false) { self.recording = recording }

    public var name: String { "meta" }

    /// The summed cost of everything run so far.
    public var total: KernelCost { state.withLock { $0.total } }
    /// Per-kernel records (empty unless created with `recording: true`).
    public var records: [KernelRecord] { state.withLock { $0.records } }

    /// Clears the totals and records.
    public func reset() { state.withLock { $0 = State() } }

    /// Bytes of the distinct elements a (possibly broadcast) view reads.
    static func distinctBytes(_ t: Tensor) -> Double {
        var n = 1.0
        for (d, s) in zip(t.shape.dims, t.strides) where s != 0 { n *= Double(d) }
        return n * Double(t.dtype.byteSize)
    }

    private func account(_ kernel: String, _ inputs: [Tensor], _ output: Tensor, flops: Double) -> Tensor {
        let cost = KernelCost(
            flops: flops, bytesRead: inputs.reduce(0) { $0 + Self.distinctBytes($1) },
            bytesWritten: Double(output.byteCount), kernels: 1)
        let record = recording
            ? KernelRecord(kernel: kernel, inputShapes: inputs.map(\.shape), outputShape: output.shape, dtype: output.dtype, cost: cost)
            : nil
        state.withLock { s in
            s.total = s.total + cost
            if let record { s.records.append(record) }
        }
        return output
    }

    public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
        account("unary.\(op)", [x], .meta(x.shape, dtype: x.dtype), flops: Double(x.elementCount))
    }

    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        account("binary.\(op)", [a, b], .meta(a.shape, dtype: op.isComparison ? .bool : a.dtype), flops: Double(a.elementCount))
    }

    public func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        account("select", [condition, a, b], .meta(a.shape, dtype: a.dtype), flops: Double(a.elementCount))
    }

    public func cast(_ x: Tensor, to dtype: DType) throws -> Tensor {
        account("cast", [x], .meta(x.shape, dtype: dtype), flops: 0)
    }

    public func copy(_ x: Tensor) throws -> Tensor {
        account("copy", [x], .meta(x.shape, dtype: x.dtype), flops: 0)
    }

    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int], keepDims: Bool) throws -> Tensor {
        let reduced = Set(axes)
        let dims = x.shape.indices.compactMap { reduced.contains($0) ? (keepDims ? 1 : nil) : x.shape[$0] }
        return account("reduce.\(op)", [x], .meta(Shape(dims), dtype: x.dtype), flops: Double(x.elementCount))
    }

    public func argReduce(_ op: ArgReduceOp, _ x: Tensor, axis: Int, keepDims: Bool, selectLastIndex: Bool) throws -> Tensor {
        var dims = x.shape.dims
        if keepDims { dims[axis] = 1 } else { dims.remove(at: axis) }
        return account(op.rawValue, [x], .meta(Shape(dims), dtype: .int64), flops: Double(x.elementCount))
    }

    public func matmul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let r = a.rank
        let (m, k, n) = (a.shape[r - 2], a.shape[r - 1], b.shape[r - 1])
        let batch = a.shape.dims.dropLast(2).reduce(1, *)
        let out = Tensor.meta(Shape(Array(a.shape.dims.dropLast(2)) + [m, n]), dtype: a.dtype)
        return account("matmul", [a, b], out, flops: 2 * Double(batch) * Double(m) * Double(n) * Double(k))
    }

    public func softmax(_ x: Tensor, axis: Int, log: Bool) throws -> Tensor {
        account(log ? "logSoftmax" : "softmax", [x], .meta(x.shape, dtype: x.dtype), flops: 5 * Double(x.elementCount))
    }

    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, axis: Int, epsilon: Double) throws -> LayerNormResult {
        let statShape = Shape(x.shape.dims[..<axis] + Array(repeating: 1, count: x.rank - axis))
        let statType: DType = x.dtype == .float64 ? .float64 : .float32
        let out = account(
            "layerNorm", [x] + [weight, bias].compactMap { $0 }, .meta(x.shape, dtype: x.dtype), flops: 8 * Double(x.elementCount))
        return LayerNormResult(output: out, mean: .meta(statShape, dtype: statType), inverseStdDev: .meta(statShape, dtype: statType))
    }

    public func batchNorm(_ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) throws -> Tensor {
        account("batchNorm", [x, scale, bias, mean, variance], .meta(x.shape, dtype: x.dtype), flops: 2 * Double(x.elementCount))
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, parameters: Conv2dParameters) throws -> Tensor {
        let (n, o, cg, kh, kw) = (x.shape[0], weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let (oh, ow) = parameters.outputSize(height: x.shape[2], width: x.shape[3], kernelHeight: kh, kernelWidth: kw)
        let outputs = Double(n * o * oh * ow)
        let flops = 2 * outputs * Double(cg * kh * kw) + (bias == nil ? 0 : outputs)
        return account("conv2d", [x, weight] + [bias].compactMap { $0 }, .meta([n, o, oh, ow], dtype: x.dtype), flops: flops)
    }

    public func pool2d(_ kind: PoolKind, _ x: Tensor, parameters: Pool2dParameters) throws -> Tensor {
        let (oh, ow) = parameters.outputSize(height: x.shape[2], width: x.shape[3])
        let out = Tensor.meta([x.shape[0], x.shape[1], oh, ow], dtype: x.dtype)
        return account(
            kind == .max ? "maxPool2d" : "avgPool2d", [x], out,
            flops: Double(out.elementCount * parameters.kernel.h * parameters.kernel.w))
    }

    public func gather(_ x: Tensor, indices: Tensor, axis: Int) throws -> Tensor {
        let dims = Array(x.shape.dims[..<axis]) + indices.shape.dims + Array(x.shape.dims[(axis + 1)...])
        let out = Tensor.meta(Shape(dims), dtype: x.dtype)
        // A gather reads only the rows it takes, not the whole table.
        let cost = KernelCost(
            flops: 0, bytesRead: Double(out.byteCount) + Self.distinctBytes(indices), bytesWritten: Double(out.byteCount),
            kernels: 1)
        state.withLock { s in
            s.total = s.total + cost
            if recording {
                s.records.append(
                    KernelRecord(kernel: "gather", inputShapes: [x.shape, indices.shape], outputShape: out.shape, dtype: x.dtype, cost: cost))
            }
        }
        return out
    }

    public func concat(_ xs: [Tensor], axis: Int) throws -> Tensor {
        var dims = xs[0].shape.dims
        dims[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        return account("concat", xs, .meta(Shape(dims), dtype: xs[0].dtype), flops: 0)
    }
}

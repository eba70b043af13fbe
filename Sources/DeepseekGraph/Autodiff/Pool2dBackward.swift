public import DeepseekTensor

/// The input gradient of 2-D pooling over `[N, C, H, W]`.
///
/// Inputs: the output gradient `[N, C, OH, OW]`, and for max pooling also the pooled input. Max
/// pooling sends each window's gradient to the element the forward kernel picked (the first
/// largest, skipping padding; a NaN wins); average pooling spreads it evenly over the window's
/// elements with the forward divisor (`countIncludePad`, `ceilMode` and dilation included).
public struct Pool2dBackward: CustomGraphOp, HostGradientKernel {
    public let kind: PoolKind
    public let parameters: Pool2dParameters
    /// The height of the pooled input.
    public let height: Int
    /// The width of the pooled input.
    public let width: Int

    public init(_ kind: PoolKind, _ parameters: Pool2dParameters, height: Int, width: Int) {
        self.kind = kind
        self.parameters = parameters
        self.height = height
        self.width = width
    }

    public var label: String { kind == .max ? "maxPool2dBackward" : "avgPool2dBackward" }
    public var signature: String { "\(label)(\(GraphOp.describe(parameters)), input: \(height)x\(width))" }
    /// A host loop over CPU memory.
    public var deviceKinds: Set<DeviceKind>? { [.cpu] }
    var dataInputs: [Int] { kind == .max ? [0, 1] : [0] }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] { try evaluateOnHost(inputs) }

    /// The 2×2 stride-2 max-pooling path writes every element (a zero where no window's
    /// gradient lands), so its output need not be cleared first.
    func writesEveryElement(_ inputs: [Tensor]) -> Bool {
        // An empty gradient (no windows) leaves the kernel nothing to read, so nothing is written.
        guard kind == .max, inputs.count == 2, inputs[0].rank == 4, inputs[0].shape.elementCount > 0 else { return false }
        return parameters.isPairwise(height: height, width: width, outputs: (inputs[0].shape[2], inputs[0].shape[3]))
    }

    /// One visit per window element of every output position.
    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        let windows = Double(inputs.first?.shape.elementCount ?? 0)
        let read = inputs.reduce(0) { $0 + Double($1.byteCount) }
        return KernelCost(
            flops: windows * Double(parameters.kernel.h * parameters.kernel.w), bytesRead: read,
            bytesWritten: Double(outputs.first?.byteCount ?? 0), kernels: 1)
    }

    func outputShape(_ inputs: [Tensor]) throws -> Shape {
        let p = parameters
        let expected = kind == .max ? 2 : 1
        guard inputs.count == expected, inputs[0].rank == 4 else {
            throw TensorError(
                .shapeMismatch,
                "\(label): needs \(kind == .max ? "the gradient [N, C, OH, OW] and the input [N, C, H, W]" : "the gradient [N, C, OH, OW]"), got \(inputs.map(\.shape))")
        }
        guard p.kernel.h >= 1, p.kernel.w >= 1, p.stride.h >= 1, p.stride.w >= 1, p.dilation.h >= 1, p.dilation.w >= 1,
            p.padding.top >= 0, p.padding.left >= 0, p.padding.bottom >= 0, p.padding.right >= 0
        else {
            throw TensorError(.invalidArgument, "\(label): kernel, stride and dilation must be ≥ 1 and padding ≥ 0, got \(GraphOp.describe(p))")
        }
        let g = inputs[0].shape
        let out = p.outputSize(height: height, width: width)
        let shape: Shape = [g[0], g[1], height, width]
        guard g[2] == out.h, g[3] == out.w else {
            throw TensorError(
                .shapeMismatch, "\(label): the gradient \(g) does not match the \(out.h)x\(out.w) output of pooling a \(height)x\(width) input")
        }
        if kind == .max && inputs[1].shape != shape {
            throw TensorError(.shapeMismatch, "\(label): the pooled input has shape \(inputs[1].shape) but the gradient \(g) needs \(shape)")
        }
        return shape
    }

    func accumulate<T: BinaryFloatingPoint>(into out: UnsafeMutablePointer<T>, data: [UnsafePointer<T>?], inputs: [Tensor]) throws {
        guard let grad = data[0] else { return }
        let p = parameters
        let g = inputs[0].shape
        let (oh, ow) = (g[2], g[3])
        let (h, w) = (height, width)
        // Per output row and column: the taps inside the image (a contiguous range) and, for
        // the countIncludePad divisor, how many fall inside image plus padding.
        let (rows, paddedRows) = p.taps(vertical: true, outputs: oh, size: h)
        let (columns, paddedColumns) = p.taps(vertical: false, outputs: ow, size: w)
        let x = UncheckedSendable(kind == .max ? data[1] : nil)
        let (output, upstreamData) = (UncheckedSendable(out), UncheckedSendable(grad))
        if kind == .max, let input = data[1], p.isPairwise(height: h, width: w, outputs: (oh, ow)) {
            // Writes every element of each plane (see `writesEveryElement`).
            let source = UncheckedSendable(input)
            ParallelRanges.forEach(g[0] * g[1], grain: Swift.max(1, 16384 / Swift.max(1, h * w))) { planes in
                for plane in planes {
                    let (x, up, dst) = (source.value + plane * h * w, upstreamData.value + plane * oh * ow, output.value + plane * h * w)
                    if T.self == Float.self {
                        Self.routePairs(
                            UnsafeRawPointer(x).assumingMemoryBound(to: Float.self), UnsafeRawPointer(up).assumingMemoryBound(to: Float.self),
                            into: UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Float.self), height: h, width: w, oh, ow)
                    } else {
                        Self.routePairs(x, up, into: dst, height: h, width: w, oh, ow)
                    }
                }
            }
            return
        }
        // Planes are independent: each worker owns whole planes of the output.
        ParallelRanges.forEach(g[0] * g[1], grain: Swift.max(1, 4096 / Swift.max(1, h * w))) { planes in
            for plane in planes {
                let dst = output.value + plane * h * w
                let src = x.value.map { $0 + plane * h * w }
                let upstream = upstreamData.value + plane * oh * ow
                for oy in 0..<oh {
                    let ky = rows[oy]
                    let y0 = oy * p.stride.h - p.padding.top
                    for ox in 0..<ow {
                        let kx = columns[ox]
                        let x0 = ox * p.stride.w - p.padding.left
                        let gv = upstream[oy * ow + ox]
                        if let src {
                            // The window's winner: the first largest element, or the last NaN (as the forward pass).
                            var best = -T.infinity
                            var bestIndex = -1
                            for ty in ky {
                                let rowStart = (y0 + ty * p.dilation.h) * w
                                for tx in kx {
                                    let index = rowStart + x0 + tx * p.dilation.w
                                    let e = src[index]
                                    // Selects for the unpredictable comparison, a branch only
                                    // for the rare NaN.
                                    // The first tap starts the window (an all −∞ window sends its gradient there).
                                    let larger = e > best || bestIndex < 0
                                    best = larger ? e : best
                                    bestIndex = larger ? index : bestIndex
                                    if e.isNaN {
                                        best = e
                                        bestIndex = index
                                    }
                                }
                            }
                            if bestIndex >= 0 { dst[bestIndex] += gv }
                            continue
                        }
                        let divisor = p.countIncludePad ? paddedRows[oy] * paddedColumns[ox] : ky.count * kx.count
                        guard divisor > 0 else { continue }
                        let share = gv / T(divisor)
                        for ty in ky {
                            let rowStart = (y0 + ty * p.dilation.h) * w
                            for tx in kx { dst[rowStart + x0 + tx * p.dilation.w] += share }
                        }
                    }
                }
            }
        }
    }
}

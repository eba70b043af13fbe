public import DeepseekTensor

/// Unfolds the windows of a 2-D convolution into columns — the layout that turns the weight
/// gradient into one matrix product per group.
///
/// Input `x` is `[N, C, H, W]`; the output is `[G, Cg·KH·KW, N·OH·OW]` (`G` groups of `Cg = C/G`
/// channels). Row `(ci·KH + ky)·KW + kx` of group `g`, column `n·OH·OW + oy·OW + ox` holds
/// `x[n, g·Cg + ci, oy·sh − top + ky·dh, ox·sw − left + kx·dw]`, or 0 where that lies in the
/// padding. `Col2im` is its adjoint.
///
/// With `ColumnLayout.perImage` the output is `[N, G·Cg·KH·KW, OH·OW]` instead: each image's
/// columns on their own, for one small product per image.
public struct Im2col: CustomGraphOp, HostGradientKernel {
    public let parameters: Conv2dParameters
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let layout: ColumnLayout

    public init(_ parameters: Conv2dParameters, kernel: (h: Int, w: Int), layout: ColumnLayout = .grouped) {
        self.parameters = parameters
        self.kernelHeight = kernel.h
        self.kernelWidth = kernel.w
        self.layout = layout
    }

    public var label: String { "im2col" }
    public var signature: String { "im2col(kernel: \(kernelHeight)x\(kernelWidth), \(parameters.summary)\(layout.suffix))" }
    /// A host loop over CPU memory.
    public var deviceKinds: Set<DeviceKind>? { [.cpu] }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] { try evaluateOnHost(inputs) }

    /// Pure data movement: no arithmetic, the input read once and the columns written once.
    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        KernelCost(
            flops: 0, bytesRead: Double(inputs.first?.byteCount ?? 0), bytesWritten: Double(outputs.first?.byteCount ?? 0), kernels: 1)
    }

    func outputShape(_ inputs: [Tensor]) throws -> Shape {
        guard inputs.count == 1, inputs[0].rank == 4 else {
            throw TensorError(.shapeMismatch, "im2col: needs one input [N, C, H, W], got \(inputs.map(\.shape))")
        }
        let s = inputs[0].shape
        let window = try ConvolutionWindow(parameters, kernelHeight: kernelHeight, kernelWidth: kernelWidth, height: s[2], width: s[3], op: "im2col")
        guard s[1] % parameters.groups == 0 else {
            throw TensorError(.shapeMismatch, "im2col: \(s[1]) channels of \(s) do not divide into \(parameters.groups) groups")
        }
        let rows = s[1] / parameters.groups * kernelHeight * kernelWidth
        switch layout {
        case .grouped: return [parameters.groups, rows, s[0] * window.positions]
        case .perImage: return [s[0], parameters.groups * rows, window.positions]
        }
    }

    func accumulate<T: BinaryFloatingPoint>(into out: UnsafeMutablePointer<T>, data: [UnsafePointer<T>?], inputs: [Tensor]) throws {
        guard let x = data[0] else { return }
        let s = inputs[0].shape
        let (n, c, h, w) = (s[0], s[1], s[2], s[3])
        let win = try ConvolutionWindow(parameters, kernelHeight: kernelHeight, kernelWidth: kernelWidth, height: h, width: w, op: "im2col")
        let cg = c / parameters.groups
        let columns = n * win.positions
        let rows = parameters.groups * cg * kernelHeight * kernelWidth
        let (ow, kernelArea) = (win.outputWidth, kernelHeight * kernelWidth)
        let (output, image) = (UncheckedSendable(out), UncheckedSendable(x))
        let (rowStride, imageStride) = layout.strides(rows: rows, images: n, positions: win.positions)
        let (step, size) = (parameters.stride.w, MemoryLayout<T>.stride)
        /// Fills the `OH·OW` columns of row `r` for image `ni` — every element, with zeros where
        /// a window reads padding, so the output is not cleared first.
        func fill(_ r: Int, _ ni: Int) {
            let plane = r / kernelArea  // g·Cg + ci
            let ky = r % kernelArea / kernelWidth
            let kx = r % kernelWidth
            let (first, end) = win.validColumns(kx, width: w)
            let src = image.value + (ni * c + plane) * h * w
            let dst = output.value + r * rowStride + ni * imageStride
            for oy in 0..<win.outputHeight {
                let d = dst + oy * ow
                let iy = win.inputRow(oy, ky)
                guard iy >= 0 && iy < h, first < end else {
                    clearShortBytes(d, byteCount: ow * size)
                    continue
                }
                let s = src + iy * w + win.inputColumn(first, kx)
                if first > 0 { clearShortBytes(d, byteCount: first * size) }
                if step == 1 {
                    copyShortBytes(to: d + first, from: s, byteCount: (end - first) * size)
                } else {
                    var k = 0
                    for ox in first..<end {
                        d[ox] = s[k]
                        k &+= step
                    }
                }
                if end < ow { clearShortBytes(d + end, byteCount: (ow - end) * size) }
            }
        }
        // Each worker writes whole stretches of the output in memory order: rows (every image's
        // columns) for the grouped layout, images for the per-image one.
        switch layout {
        case .grouped:
            ParallelRanges.forEach(rows, grain: Swift.max(1, 16_384 / Swift.max(1, columns))) { range in
                for r in range { for ni in 0..<n { fill(r, ni) } }
            }
        case .perImage:
            ParallelRanges.forEach(n, grain: Swift.max(1, 16_384 / Swift.max(1, rows * win.positions))) { range in
                for ni in range { for r in 0..<rows { fill(r, ni) } }
            }
        }
    }

    /// Every element of the columns is stored (see `accumulate`) — unless the image is empty
    /// and its padding alone makes windows, when there is nothing to read and the zeros stay.
    func writesEveryElement(_ inputs: [Tensor]) -> Bool { inputs.first.map { $0.shape.elementCount > 0 } ?? false }
}

/// Folds columns back into an image, adding where windows overlap: the adjoint of `Im2col`,
/// which makes the input gradient of a convolution `col2im(Wᵀ · g)`.
///
/// Input `[G, Cg·KH·KW, N·OH·OW]`; output `[N, G·Cg, H, W]`, with `H` and `W` the size of the
/// convolution's input (a strided convolution loses them).
public struct Col2im: CustomGraphOp, HostGradientKernel {
    public let parameters: Conv2dParameters
    public let kernelHeight: Int
    public let kernelWidth: Int
    /// The height of the image to rebuild.
    public let height: Int
    /// The width of the image to rebuild.
    public let width: Int
    /// How the input columns are laid out (as `Im2col` writes them).
    public let layout: ColumnLayout

    public init(_ parameters: Conv2dParameters, kernel: (h: Int, w: Int), height: Int, width: Int, layout: ColumnLayout = .grouped) {
        self.parameters = parameters
        self.kernelHeight = kernel.h
        self.kernelWidth = kernel.w
        self.height = height
        self.width = width
        self.layout = layout
    }

    public var label: String { "col2im" }
    public var signature: String {
        "col2im(kernel: \(kernelHeight)x\(kernelWidth), image: \(height)x\(width), \(parameters.summary)\(layout.suffix))"
    }
    /// A host loop over CPU memory.
    public var deviceKinds: Set<DeviceKind>? { [.cpu] }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] { try evaluateOnHost(inputs) }

    /// One addition per column element.
    public func cost(_ inputs: [TensorType], outputs: [TensorType]) -> KernelCost {
        KernelCost(
            flops: Double(inputs.first?.shape.elementCount ?? 0), bytesRead: Double(inputs.first?.byteCount ?? 0),
            bytesWritten: Double(outputs.first?.byteCount ?? 0), kernels: 1)
    }

    func outputShape(_ inputs: [Tensor]) throws -> Shape {
        let window = try ConvolutionWindow(parameters, kernelHeight: kernelHeight, kernelWidth: kernelWidth, height: height, width: width, op: "col2im")
        let k = kernelHeight * kernelWidth
        let g = parameters.groups
        let fits: Bool
        switch layout {
        case .grouped:
            fits = inputs.count == 1 && inputs[0].rank == 3 && inputs[0].shape[0] == g && inputs[0].shape[1] % k == 0
                && inputs[0].shape[2] % window.positions == 0
        case .perImage:
            fits = inputs.count == 1 && inputs[0].rank == 3 && inputs[0].shape[1] % (g * k) == 0 && inputs[0].shape[2] == window.positions
        }
        guard fits else {
            let expected = layout == .grouped ? "[\(g), Cg·\(k), N·\(window.positions)]" : "[N, \(g)·Cg·\(k), \(window.positions)]"
            throw TensorError(
                .shapeMismatch,
                "col2im: needs one input \(expected) for a \(kernelHeight)x\(kernelWidth) kernel over \(height)x\(width), got \(inputs.map(\.shape))")
        }
        let s = inputs[0].shape
        switch layout {
        case .grouped: return [s[2] / window.positions, g * s[1] / k, height, width]
        case .perImage: return [s[0], s[1] / k, height, width]
        }
    }

    func accumulate<T: BinaryFloatingPoint>(into out: UnsafeMutablePointer<T>, data: [UnsafePointer<T>?], inputs: [Tensor]) throws {
        guard let cols = data[0] else { return }
        let win = try ConvolutionWindow(parameters, kernelHeight: kernelHeight, kernelWidth: kernelWidth, height: height, width: width, op: "col2im")
        let s = inputs[0].shape
        let groups = parameters.groups
        let rows = layout == .grouped ? s[1] : s[1] / groups  // per group
        let cg = rows / (kernelHeight * kernelWidth)
        let n = layout == .grouped ? s[2] / win.positions : s[0]
        let c = groups * cg
        let (h, w) = (height, width)
        let ow = win.outputWidth
        let (rowStride, imageStride) = layout.strides(rows: groups * rows, images: n, positions: win.positions)
        let (output, columnData) = (UncheckedSendable(out), UncheckedSendable(cols))
        let step = parameters.stride.w
        /// Adds the columns of one channel plane of image `ni` into it, in a fixed order (kernel
        /// row, kernel column, output row): the sums where windows overlap do not depend on how
        /// the work is split.
        func fold(_ plane: Int, _ ni: Int) {
            let g = plane / cg
            let ci = plane % cg
            let dst = output.value + (ni * c + plane) * h * w
            for ky in 0..<kernelHeight {
                for kx in 0..<kernelWidth {
                    let row = (ci * kernelHeight + ky) * kernelWidth + kx
                    let src = columnData.value + (g * rows + row) * rowStride + ni * imageStride
                    let (first, end) = win.validColumns(kx, width: w)
                    guard first < end else { continue }
                    for oy in 0..<win.outputHeight {
                        let iy = win.inputRow(oy, ky)
                        guard iy >= 0 && iy < h else { continue }
                        let d = dst + iy * w + win.inputColumn(first, kx)
                        let srow = src + oy * ow
                        if step == 1 {
                            addRow(srow + first, into: d, count: end - first)
                            continue
                        }
                        var k = 0
                        for ox in first..<end {
                            d[k] += srow[ox]
                            k &+= step
                        }
                    }
                }
            }
        }
        // Each worker owns whole output planes and reads the columns in memory order: a
        // channel's rows across every image for the grouped layout, image by image for the
        // per-image one.
        switch layout {
        case .grouped:
            ParallelRanges.forEach(c, grain: 1) { range in
                for plane in range { for ni in 0..<n { fold(plane, ni) } }
            }
        case .perImage:
            ParallelRanges.forEach(n, grain: 1) { range in
                for ni in range { for plane in 0..<c { fold(plane, ni) } }
            }
        }
    }
}

extension Col2im {
    /// `d[0..<count] += s[0..<count]`, eight `Float`s at a time: col2im's rows are short (10–30
    /// elements), where the compiler's loop spends more on alias checks and its scalar tail.
    /// Each element gets the same single addition as in a scalar loop.
    @inline(__always)
    func addRow<T: BinaryFloatingPoint>(_ s: UnsafePointer<T>, into d: UnsafeMutablePointer<T>, count: Int) {
        if T.self == Float.self {
            addShortFloats(
                UnsafeRawPointer(s).assumingMemoryBound(to: Float.self), into: UnsafeMutableRawPointer(d).assumingMemoryBound(to: Float.self), count: count)
            return
        }
        for i in 0..<count { d[i] += s[i] }
    }
}

/// How `Im2col` lays out the columns it unfolds (and `Col2im` reads them).
public enum ColumnLayout: Sendable, Hashable {
    /// `[G, Cg·KH·KW, N·OH·OW]`: every image's columns side by side, one product per group.
    case grouped
    /// `[N, G·Cg·KH·KW, OH·OW]`: each image's columns on their own, one product per image.
    case perImage

    var suffix: String { self == .grouped ? "" : ", per image" }

    /// Element distances between consecutive rows and between consecutive images' blocks.
    func strides(rows: Int, images: Int, positions: Int) -> (row: Int, image: Int) {
        switch self {
        case .grouped: (images * positions, positions)
        case .perImage: (positions, rows * positions)
        }
    }
}

/// Where the windows of a convolution fall on its input.
struct ConvolutionWindow {
    let parameters: Conv2dParameters
    let kernelHeight: Int
    let kernelWidth: Int
    let outputHeight: Int
    let outputWidth: Int
    var positions: Int { outputHeight * outputWidth }

    init(_ p: Conv2dParameters, kernelHeight: Int, kernelWidth: Int, height: Int, width: Int, op: String) throws {
        guard p.groups >= 1, p.stride.h >= 1, p.stride.w >= 1, p.dilation.h >= 1, p.dilation.w >= 1, kernelHeight >= 1,
            kernelWidth >= 1, p.padding.top >= 0, p.padding.left >= 0, p.padding.bottom >= 0, p.padding.right >= 0
        else {
            throw TensorError(.invalidArgument, "\(op): kernel, stride, dilation and groups must be ≥ 1 and padding ≥ 0, got \(GraphOp.describe(p))")
        }
        let out = p.outputSize(height: height, width: width, kernelHeight: kernelHeight, kernelWidth: kernelWidth)
        guard out.h > 0, out.w > 0 else {
            throw TensorError(.shapeMismatch, "\(op): a \(kernelHeight)x\(kernelWidth) kernel does not fit the padded \(height)x\(width) input")
        }
        parameters = p
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        outputHeight = out.h
        outputWidth = out.w
    }

    @inline(__always) func inputRow(_ oy: Int, _ ky: Int) -> Int {
        oy * parameters.stride.h - parameters.padding.top + ky * parameters.dilation.h
    }

    /// The output columns `first..<end` whose input column for kernel column `kx` lies inside
    /// an image of `width` (the others read padding).
    func validColumns(_ kx: Int, width: Int) -> (first: Int, end: Int) {
        let (sw, offset) = (parameters.stride.w, kx * parameters.dilation.w - parameters.padding.left)
        // ix = ox·sw + offset must satisfy 0 ≤ ix < width.
        let first = offset >= 0 ? 0 : (-offset + sw - 1) / sw
        let last = width - 1 - offset < 0 ? -1 : (width - 1 - offset) / sw
        return (Swift.min(first, outputWidth), Swift.max(Swift.min(first, outputWidth), Swift.min(last + 1, outputWidth)))
    }

    @inline(__always) func inputColumn(_ ox: Int, _ kx: Int) -> Int {
        ox * parameters.stride.w - parameters.padding.left + kx * parameters.dilation.w
    }
}

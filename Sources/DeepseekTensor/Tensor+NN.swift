public import DeepseekCore

extension Conv2dParameters {
    /// The output height and width for an input of `height`×`width` and a `kh`×`kw` kernel.
    public func outputSize(height: Int, width: Int, kernelHeight kh: Int, kernelWidth kw: Int) -> (h: Int, w: Int) {
        let effH = (kh - 1) * dilation.h + 1
        let effW = (kw - 1) * dilation.w + 1
        let oh = (height + padding.top + padding.bottom - effH) / stride.h + 1
        let ow = (width + padding.left + padding.right - effW) / stride.w + 1
        return (oh, ow)
    }
}

extension Pool2dParameters {
    /// The output height and width for an input of `height`×`width`.
    ///
    /// With `ceilMode`, a last partial window is kept only when it starts inside the input or the
    /// leading padding (the rule PyTorch and ONNX share).
    public func outputSize(height: Int, width: Int) -> (h: Int, w: Int) {
        func size(_ n: Int, _ k: Int, _ s: Int, _ p0: Int, _ p1: Int, _ d: Int) -> Int {
            let eff = (k - 1) * d + 1
            let span = n + p0 + p1 - eff
            if span < 0 { return 0 }
            var out = (ceilMode ? (span + s - 1) / s : span / s) + 1
            if ceilMode && (out - 1) * s >= n + p0 { out -= 1 }
            return out
        }
        return (
            size(height, kernel.h, stride.h, padding.top, padding.bottom, dilation.h),
            size(width, kernel.w, stride.w, padding.left, padding.right, dilation.w)
        )
    }

    /// Whether these are 2×2 windows with stride 2, no padding and no dilation, and every output
    /// window lies inside the `height`×`width` input: each input element is in at most one window.
    public func isPairwise(height: Int, width: Int, outputs: (h: Int, w: Int)) -> Bool {
        kernel == (2, 2) && stride == (2, 2) && dilation == (1, 1) && padding == (0, 0, 0, 0)
            && 2 * outputs.h <= height && 2 * outputs.w <= width
    }

    /// For each output row (`vertical`) or column: the window taps inside the image — a
    /// contiguous range, as positions grow with the tap index — and how many taps land inside
    /// image plus padding (the `countIncludePad` divisor; taps beyond the padding never count).
    /// What pooling kernels and their gradients iterate over instead of testing every tap.
    public func taps(vertical: Bool, outputs: Int, size: Int) -> (inside: [Range<Int>], padded: [Int]) {
        let (s, low, high, d, k) =
            vertical
            ? (stride.h, padding.top, padding.bottom, dilation.h, kernel.h) : (stride.w, padding.left, padding.right, dilation.w, kernel.w)
        var inside: [Range<Int>] = []
        var padded: [Int] = []
        inside.reserveCapacity(outputs)
        padded.reserveCapacity(outputs)
        for o in 0..<outputs {
            let start = o * s - low
            var lo = 0
            while lo < k && start + lo * d < 0 { lo += 1 }
            var hi = lo
            while hi < k && start + hi * d < size { hi += 1 }
            inside.append(lo..<hi)
            var count = 0
            for t in 0..<k where start + t * d < size + high { count += 1 }
            padded.append(count)
        }
        return (inside, padded)
    }
}

extension Tensor {
    func requireFloatingPoint(_ op: String) throws {
        guard dtype.isFloatingPoint else {
            throw TensorError(.dtypeMismatch, "\(op): needs a floating-point tensor, got \(dtype) of shape \(shape)")
        }
    }

    /// Softmax along `axis`: `exp(x - max) / sum(exp(x - max))`.
    public func softmax(axis: Int = -1) throws -> Tensor {
        try requireFloatingPoint("softmax")
        if rank == 0 { return try Tensor.ones([], dtype: dtype) }
        return try KernelBackends.current.softmax(self, axis: shape.normalizedAxis(axis, op: "softmax"), log: false)
    }

    /// Log-softmax along `axis`, computed stably as `x - max - log(sum(exp(x - max)))`.
    public func logSoftmax(axis: Int = -1) throws -> Tensor {
        try requireFloatingPoint("logSoftmax")
        if rank == 0 { return try Tensor.zeros([], dtype: dtype) }
        return try KernelBackends.current.softmax(self, axis: shape.normalizedAxis(axis, op: "logSoftmax"), log: true)
    }

    /// Layer normalisation over the axes from `axis` to the last, with optional scale and shift
    /// shaped like those axes.
    public func layerNorm(
        weight: Tensor? = nil, bias: Tensor? = nil, axis: Int = -1, epsilon: Double = 1e-5
    ) throws -> LayerNormResult {
        try requireFloatingPoint("layerNorm")
        let a = try shape.normalizedAxis(axis, op: "layerNorm")
        let normalized = Shape(Array(shape.dims[a...]))
        for (name, t) in [("weight", weight), ("bias", bias)] {
            guard let t else { continue }
            guard t.elementCount == normalized.elementCount, (try? Shape.broadcast(t.shape, normalized, op: "")) == normalized
            else {
                throw TensorError(
                    .shapeMismatch,
                    "layerNorm: \(name) has shape \(t.shape) but the normalised axes of \(shape) from axis \(a) have shape \(normalized)")
            }
        }
        let w = try weight.map { try $0.cast(to: dtype).reshaped(normalized) }
        let b = try bias.map { try $0.cast(to: dtype).reshaped(normalized) }
        return try KernelBackends.current.layerNorm(self, weight: w, bias: b, axis: a, epsilon: epsilon)
    }

    /// Batch normalisation over axis 1 (channels) with given running statistics (inference).
    public func batchNorm(
        scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Double = 1e-5
    ) throws -> Tensor {
        try requireFloatingPoint("batchNorm")
        guard rank >= 2 else {
            throw TensorError(.shapeMismatch, "batchNorm: needs an input of shape [N, C, …], got \(shape)")
        }
        let c = shape[1]
        for (name, t) in [("scale", scale), ("bias", bias), ("mean", mean), ("variance", variance)] where t.elementCount != c {
            throw TensorError(
                .shapeMismatch, "batchNorm: \(name) has shape \(t.shape) but the input \(shape) has \(c) channels; it needs [\(c)]")
        }
        func prepared(_ t: Tensor) throws -> Tensor { try t.cast(to: dtype).reshaped([c]) }
        return try KernelBackends.current.batchNorm(
            self, scale: prepared(scale), bias: prepared(bias), mean: prepared(mean), variance: prepared(variance),
            epsilon: epsilon)
    }

    /// Batch normalisation in training mode: normalises with this batch's statistics and returns
    /// them (mean and biased variance per channel) for updating running averages.
    public func batchNormTraining(
        scale: Tensor, bias: Tensor, epsilon: Double = 1e-5
    ) throws -> (output: Tensor, mean: Tensor, variance: Tensor) {
        try requireFloatingPoint("batchNorm")
        guard rank >= 2 else {
            throw TensorError(.shapeMismatch, "batchNorm: needs an input of shape [N, C, …], got \(shape)")
        }
        let axes = [0] + Array(2..<rank)
        let mean = try self.mean(axes: axes)
        let variance = try self.variance(axes: axes)
        let y = try batchNorm(scale: scale, bias: bias, mean: mean, variance: variance, epsilon: epsilon)
        return (y, mean, variance)
    }

    /// 2-D convolution (cross-correlation) of NCHW input with OIHW weights.
    ///
    /// - Throws: `TensorError.shapeMismatch` when channels, groups or kernel and input sizes disagree.
    public func conv2d(_ weight: Tensor, bias: Tensor? = nil, parameters: Conv2dParameters = .init()) throws -> Tensor {
        try requireFloatingPoint("conv2d")
        let p = parameters
        guard rank == 4, weight.rank == 4 else {
            throw TensorError(
                .shapeMismatch, "conv2d: needs input [N, C, H, W] and weight [O, C/groups, KH, KW], got \(shape) and \(weight.shape)")
        }
        guard p.groups >= 1, p.stride.h >= 1, p.stride.w >= 1, p.dilation.h >= 1, p.dilation.w >= 1,
            p.padding.top >= 0, p.padding.left >= 0, p.padding.bottom >= 0, p.padding.right >= 0
        else {
            throw TensorError(.invalidArgument, "conv2d: stride, dilation and groups must be ≥ 1 and padding ≥ 0, got \(p)")
        }
        let (c, o) = (shape[1], weight.shape[0])
        guard c % p.groups == 0, o % p.groups == 0, weight.shape[1] * p.groups == c else {
            throw TensorError(
                .shapeMismatch,
                "conv2d: input \(shape) has \(c) channels, weight \(weight.shape) expects \(weight.shape[1]) per group × \(p.groups) groups; channels and outputs must divide by groups")
        }
        if let bias, bias.elementCount != o {
            throw TensorError(.shapeMismatch, "conv2d: bias has shape \(bias.shape) but the weight \(weight.shape) has \(o) outputs")
        }
        let out = p.outputSize(height: shape[2], width: shape[3], kernelHeight: weight.shape[2], kernelWidth: weight.shape[3])
        guard out.h > 0, out.w > 0 else {
            throw TensorError(
                .shapeMismatch,
                "conv2d: kernel \(weight.shape[2])×\(weight.shape[3]) with dilation \(p.dilation) does not fit the padded input \(shape[2])×\(shape[3])")
        }
        let w = try weight.cast(to: dtype)
        let b = try bias.map { try $0.cast(to: dtype).reshaped([o]) }
        return try KernelBackends.current.conv2d(self, weight: w, bias: b, parameters: p)
    }

    func pool2d(_ kind: PoolKind, _ p: Pool2dParameters) throws -> Tensor {
        let op = kind == .max ? "maxPool2d" : "avgPool2d"
        try requireFloatingPoint(op)
        guard rank == 4 else { throw TensorError(.shapeMismatch, "\(op): needs an input [N, C, H, W], got \(shape)") }
        guard p.kernel.h >= 1, p.kernel.w >= 1, p.stride.h >= 1, p.stride.w >= 1, p.dilation.h >= 1, p.dilation.w >= 1,
            p.padding.top >= 0, p.padding.left >= 0, p.padding.bottom >= 0, p.padding.right >= 0
        else {
            throw TensorError(.invalidArgument, "\(op): kernel, stride and dilation must be ≥ 1 and padding ≥ 0, got \(p)")
        }
        let out = p.outputSize(height: shape[2], width: shape[3])
        guard out.h > 0, out.w > 0 else {
            throw TensorError(.shapeMismatch, "\(op): window \(p.kernel) does not fit the input \(shape[2])×\(shape[3])")
        }
        return try KernelBackends.current.pool2d(kind, self, parameters: p)
    }

    /// Max pooling over NCHW input.
    public func maxPool2d(_ parameters: Pool2dParameters) throws -> Tensor { try pool2d(.max, parameters) }
    /// Average pooling over NCHW input.
    public func avgPool2d(_ parameters: Pool2dParameters) throws -> Tensor { try pool2d(.average, parameters) }

    /// Rows of this table selected by integer `indices` along `axis`; negative indices count from the end.
    ///
    /// The result has shape `shape[..<axis] + indices.shape + shape[(axis+1)...]`.
    /// - Throws: `TensorError.indexOutOfRange` naming the first bad index.
    public func gather(indices: Tensor, axis: Int = 0) throws -> Tensor {
        guard indices.dtype == .int32 || indices.dtype == .int64 else {
            throw TensorError(.dtypeMismatch, "gather: indices must be int32 or int64, got \(indices.dtype)")
        }
        let a = try shape.normalizedAxis(axis, op: "gather")
        let n = shape[a]
        if isMeta || indices.isMeta {
            return try KernelBackends.current.gather(self, indices: indices, axis: a)
        }
        let values = try indices.scalars(as: Int64.self)
        var fixed = values
        var changed = false
        for (i, v) in values.enumerated() {
            guard v >= -Int64(n) && v < Int64(n) else {
                throw TensorError(
                    .indexOutOfRange, "gather: index \(v) at position \(i) is out of range for axis \(a) of size \(n) (shape \(shape))")
            }
            if v < 0 {
                fixed[i] = v + Int64(n)
                changed = true
            }
        }
        let idx = changed ? try Tensor(fixed, shape: indices.shape) : indices
        return try KernelBackends.current.gather(self, indices: idx, axis: a)
    }

    /// Embedding lookup: rows of this `[vocabulary, dimension]` table for integer `ids`.
    public func embedding(_ ids: Tensor) throws -> Tensor {
        guard rank == 2 else {
            throw TensorError(.shapeMismatch, "embedding: the table must be [vocabulary, dimension], got \(shape)")
        }
        return try gather(indices: ids, axis: 0)
    }

    /// Inverted dropout: zeroes each element with probability `p` and scales the rest by `1/(1-p)`.
    ///
    /// The mask comes from `rng`, so the same seed drops the same elements. Returns the mask too
    /// (as the input's dtype, already scaled) so a backward pass can reuse it.
    public func dropout(probability p: Double, rng: inout SeededRandom) throws -> (output: Tensor, mask: Tensor) {
        try requireFloatingPoint("dropout")
        guard p >= 0 && p < 1 else {
            throw TensorError(.invalidArgument, "dropout: probability must be in [0, 1), got \(p)")
        }
        if isMeta { return (try self * Tensor.meta(shape, dtype: dtype), Tensor.meta(shape, dtype: dtype)) }
        var mask = try Tensor.empty(shape, dtype: dtype, op: "dropout")
        let scale = 1 / (1 - p)
        let keep = Float(1 - p)
        mask.withMutableElements { count, store in
            for i in 0..<count { store(i, rng.nextFloat() < keep ? scale : 0) }
        }
        return (try self * mask, mask)
    }

    /// Mean cross-entropy between logits `[N, C]` (or `[N, C, d…]`) and integer class labels
    /// `[N]` (or `[N, d…]`), with optional label smoothing.
    public func crossEntropy(labels: Tensor, labelSmoothing: Double = 0) throws -> Tensor {
        try requireFloatingPoint("crossEntropy")
        guard rank >= 2 else {
            throw TensorError(.shapeMismatch, "crossEntropy: logits need shape [N, C, …], got \(shape)")
        }
        var expected = shape.dims
        expected.remove(at: 1)
        guard labels.shape.dims == expected else {
            throw TensorError(
                .shapeMismatch, "crossEntropy: labels have shape \(labels.shape) but logits \(shape) need labels of shape \(Shape(expected))")
        }
        guard labels.dtype.isInteger else {
            throw TensorError(.dtypeMismatch, "crossEntropy: labels must be an integer tensor, got \(labels.dtype)")
        }
        guard labelSmoothing >= 0 && labelSmoothing <= 1 else {
            throw TensorError(.invalidArgument, "crossEntropy: labelSmoothing must be in [0, 1], got \(labelSmoothing)")
        }
        let classes = shape[1]
        let labelValues = labels.isMeta ? [] : try labels.scalars(as: Int64.self)
        if let bad = labelValues.firstIndex(where: { $0 < 0 || $0 >= Int64(classes) }) {
            throw TensorError(
                .indexOutOfRange, "crossEntropy: label \(labelValues[bad]) at position \(bad) is outside 0..<\(classes) classes")
        }
        let logp = try logSoftmax(axis: 1)
        // One-hot along axis 1, built by comparing the labels with the class indices.
        let classIndex = try Tensor((0..<Int64(classes)).map { $0 }, shape: Shape([1, classes] + Array(repeating: 1, count: rank - 2)))
        let oneHot = try labels.unsqueezed(axis: 1).equal(classIndex).cast(to: dtype)
        let nll = try (logp * oneHot).sum(axes: [1]).neg()
        if labelSmoothing == 0 { return try nll.mean() }
        let smooth = try logp.mean(axes: [1]).neg()
        return try (nll * (1 - labelSmoothing) + smooth * labelSmoothing).mean()
    }
}

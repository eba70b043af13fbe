import DeepseekTensor

extension OpenCLBackend {
    /// The kernel's code for a float unary op and its parameter (`alpha`), or `nil` for
    /// `logicalNot`, which only `bool` tensors take.
    static func unaryCode(_ op: UnaryOp) -> (code: Int32, alpha: Double)? {
        switch op {
        case .neg: (0, 0)
        case .abs: (1, 0)
        case .exp: (2, 0)
        case .log: (3, 0)
        case .sqrt: (4, 0)
        case .rsqrt: (5, 0)
        case .reciprocal: (6, 0)
        case .square: (7, 0)
        case .tanh: (8, 0)
        case .sigmoid: (9, 0)
        case .relu: (10, 0)
        case .silu: (11, 0)
        case .softplus: (12, 0)
        case .erf: (13, 0)
        case .geluExact: (14, 0)
        case .geluTanh: (15, 0)
        case .leakyRelu(let a): (16, Double(a))
        case .elu(let a): (17, Double(a))
        case .floor: (18, 0)
        case .ceil: (19, 0)
        case .round: (20, 0)
        case .sign: (21, 0)
        case .sin: (22, 0)
        case .cos: (23, 0)
        case .logicalNot: nil
        }
    }

    /// The kernel and code of a binary op on floats: `binary` for arithmetic, `compare` for
    /// comparisons (bool output); `nil` for the logical ops, which only `bool` tensors take.
    static func binaryCode(_ op: BinaryOp) -> (kernel: String, code: Int32)? {
        switch op {
        case .add: ("binary", 0)
        case .sub: ("binary", 1)
        case .mul: ("binary", 2)
        case .div: ("binary", 3)
        case .pow: ("binary", 4)
        case .maximum: ("binary", 5)
        case .minimum: ("binary", 6)
        case .mod: ("binary", 7)
        case .equal: ("compare", 0)
        case .notEqual: ("compare", 1)
        case .less: ("compare", 2)
        case .lessEqual: ("compare", 3)
        case .greater: ("compare", 4)
        case .greaterEqual: ("compare", 5)
        case .logicalAnd, .logicalOr, .logicalXor: nil
        }
    }

    /// A scalar kernel argument in the program's precision.
    func scalar(_ value: Double, _ p: Precision) -> KernelArgument {
        p == .single ? .float(Float(value)) : .double(value)
    }

    /// An accumulator-typed kernel argument (`ACC` is double on fp64 devices).
    func accumulator(_ value: Double) -> KernelArgument {
        runtime.info.supportsFloat64 ? .double(value) : .float(Float(value))
    }

    /// Runs an element-wise kernel whose arguments are: the contiguous output, `(buffer, offset)`
    /// of each operand, the collapsed shape, each operand's strides, `extra`, and the chunk size.
    func elementwise(
        _ kind: ProgramKind, _ kernel: String, shape: Shape, dtype: DType, operands: [Tensor], extra: [KernelArgument]
    ) throws -> Tensor {
        let out = try Tensor.empty(shape, dtype: dtype)
        if out.elementCount == 0 { return out }
        for o in operands { try o.requireData(kernel) }
        var inputs = operands
        var layout = StridedLayout(shape, inputs.map(\.strides))
        if layout == nil {
            // More than six axes survive collapsing: make the strided operands dense first.
            inputs = try inputs.map { $0.isContiguous ? $0 : try reference.copy($0) }
            layout = StridedLayout(shape, inputs.map(\.strides))
        }
        guard let layout else { preconditionFailure("contiguous operands always collapse") }
        let output = try DeviceBuffer.output(out, runtime)
        var arguments: [KernelArgument] = [.buffer(output)]
        let buffers = try inputs.map { t throws in try DeviceBuffer.input(t, runtime) }
        for (t, buffer) in zip(inputs, buffers) { arguments += [.buffer(buffer), .long(t.offset)] }
        arguments.append(.long8(layout.shape))
        arguments += layout.strides.map { .long8($0) }
        arguments += extra
        arguments.append(.long(StridedLayout.chunk))
        try runtime.launch(kind, kernel, global: layout.grid(chunk: StridedLayout.chunk), arguments)
        try output.complete()
        withExtendedLifetime(buffers) {}
        return out
    }

    public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
        guard let (code, alpha) = Self.unaryCode(op) else { return try reference.unary(op, x) }
        if let p = native(x.dtype) {
            return try elementwise(
                .elementwise(p), "unary", shape: x.shape, dtype: x.dtype, operands: [x], extra: [.int(code), scalar(alpha, p)])
        }
        if isHalf(x.dtype) { return try viaFloat32([x]) { try unary(op, $0[0]) } }
        return try reference.unary(op, x)
    }

    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        precondition(a.shape == b.shape && a.dtype == b.dtype, "binary: operands must be broadcast and promoted")
        guard let (kernel, code) = Self.binaryCode(op) else { return try reference.binary(op, a, b) }
        if let p = native(a.dtype) {
            return try elementwise(
                .elementwise(p), kernel, shape: a.shape, dtype: op.isComparison ? .bool : a.dtype, operands: [a, b],
                extra: [.int(code)])
        }
        if isHalf(a.dtype) { return try viaFloat32([a, b]) { try binary(op, $0[0], $0[1]) } }
        return try reference.binary(op, a, b)
    }

    /// Runs on the device for every dtype: a select moves elements without looking at them.
    public func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        precondition(a.dtype == b.dtype && a.shape == b.shape && condition.shape == a.shape, "select: operands must be broadcast")
        let condition = condition.dtype == .bool ? condition : try cast(condition, to: .bool)
        return try elementwise(
            .movement, "select\(a.dtype.byteSize)", shape: a.shape, dtype: a.dtype, operands: [condition, a, b], extra: [])
    }

    /// The kernel-name tag of a float format, or `nil` for integer and bool types.
    static func formatTag(_ dtype: DType) -> String? {
        switch dtype {
        case .float32: "f32"
        case .float64: "f64"
        case .float16: "f16"
        case .bfloat16: "bf16"
        default: nil
        }
    }

    /// Converts between float formats on the device (float64 only with fp64); other pairs go to
    /// the reference.
    func castFloats(_ x: Tensor, to dtype: DType) throws -> Tensor {
        if x.dtype == dtype { return x }
        guard let from = Self.formatTag(x.dtype), let to = Self.formatTag(dtype),
            (x.dtype != .float64 && dtype != .float64) || runtime.info.supportsFloat64
        else { return try reference.cast(x, to: dtype) }
        return try elementwise(.movement, "cast_\(from)_\(to)", shape: x.shape, dtype: dtype, operands: [x], extra: [])
    }

    public func cast(_ x: Tensor, to dtype: DType) throws -> Tensor {
        if x.dtype == dtype { return try copy(x) }
        return try castFloats(x, to: dtype)
    }

    /// For a copy whose source is dense along some axis other than the innermost (a transpose),
    /// the layout with that axis moved to position 4, next to the innermost; else `nil`.
    static func transposition(_ layout: StridedLayout) -> StridedLayout? {
        let (source, destination) = (layout.strides[0], layout.strides[1])
        guard abs(source[5]) != 1, abs(destination[5]) == 1, layout.shape[5] >= 4,
            let axis = (0..<5).last(where: { abs(source[$0]) == 1 && layout.shape[$0] >= 4 })
        else { return nil }
        var moved = layout
        let order = (0..<6).filter { $0 != axis && $0 != 5 } + [axis, 5]
        moved.shape = order.map { layout.shape[$0] }
        moved.strides = layout.strides.map { s in order.map { s[$0] } }
        return moved
    }

    /// A dense copy on the device, for every dtype.
    public func copy(_ x: Tensor) throws -> Tensor {
        let out = try Tensor.empty(x.shape, dtype: x.dtype)
        if x.elementCount == 0 { return out }
        let output = try DeviceBuffer.output(out, runtime)
        let input = try enqueueCopy(x, into: output, offset: 0, strides: x.shape.contiguousStrides)
        try output.complete()
        withExtendedLifetime(input) {}
        return out
    }

    /// Enqueues a copy of `x` into `output` at element `offset` with the given strides (`concat`
    /// writes each input into its slice of the output this way). Returns the input's buffer,
    /// which must live until the output completes.
    func enqueueCopy(_ x: Tensor, into output: DeviceBuffer, offset: Int, strides: [Int]) throws -> DeviceBuffer? {
        if x.elementCount == 0 { return nil }
        try x.requireData("copy")
        var source = x
        var layout = StridedLayout(x.shape, [x.strides, strides])
        if layout == nil {
            source = try reference.copy(x)
            layout = StridedLayout(x.shape, [source.strides, strides])
        }
        guard let layout else { preconditionFailure("a contiguous source with row-major strides always collapses") }
        let input = try DeviceBuffer.input(source, runtime)
        if let tiled = Self.transposition(layout) {
            // The source is dense along another axis than the destination: copy in tiles.
            try runtime.launch(
                .movement, "copy_tiled\(x.dtype.byteSize)",
                global: [(tiled.shape[5] + 31) / 32, (tiled.shape[4] + 31) / 32, tiled.shape[..<4].reduce(1, *)],
                [
                    .buffer(output), .long(offset), .long8(tiled.strides[1]), .buffer(input), .long(source.offset),
                    .long8(tiled.shape), .long8(tiled.strides[0]),
                ])
            return input
        }
        try runtime.launch(
            .movement, "copy\(x.dtype.byteSize)", global: layout.grid(chunk: StridedLayout.chunk),
            [
                .buffer(output), .long(offset), .long8(layout.strides[1]), .buffer(input), .long(source.offset),
                .long8(layout.shape), .long8(layout.strides[0]), .long(StridedLayout.chunk),
            ])
        return input
    }
}

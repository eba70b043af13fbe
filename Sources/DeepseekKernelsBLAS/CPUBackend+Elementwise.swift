import CDeepseekBLAS
public import DeepseekTensor

extension CPUBackend {
    public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
        guard x.dtype == .float32 || Self.isHalf(x.dtype), op != .logicalNot else { return try reference.unary(op, x) }
        try x.requireData("\(op)")
        let input = try float32Compact(x)
        let out = try Tensor.empty(x.shape, dtype: .float32, op: "\(op)")
        if out.elementCount > 0 {
            let dst = out.elementPointer(as: Float.self)
            switch op {
            case .neg: unaryLoop(NegKernel(), input, dst)
            case .abs: unaryLoop(AbsKernel(), input, dst)
            case .exp: unaryLoop(ExpKernel(), input, dst)
            case .log: unaryLoop(LogKernel(), input, dst)
            case .sqrt: unaryLoop(SqrtKernel(), input, dst)
            case .rsqrt: unaryLoop(RsqrtKernel(), input, dst)
            case .reciprocal: unaryLoop(ReciprocalKernel(), input, dst)
            case .square: unaryLoop(SquareKernel(), input, dst)
            case .tanh: unaryLoop(TanhKernel(), input, dst)
            case .sigmoid: unaryLoop(SigmoidKernel(), input, dst)
            case .relu: unaryLoop(ReluKernel(), input, dst)
            case .silu: unaryLoop(SiluKernel(), input, dst)
            case .softplus: unaryLoop(SoftplusKernel(), input, dst)
            case .leakyRelu(let alpha): unaryLoop(LeakyReluKernel(alpha: alpha), input, dst)
            case .floor: unaryLoop(FloorKernel(), input, dst)
            case .ceil: unaryLoop(CeilKernel(), input, dst)
            case .round: unaryLoop(RoundKernel(), input, dst)
            case .sign: unaryLoop(SignKernel(), input, dst)
            case .sin: unaryLoop(SinKernel(), input, dst)
            case .cos: unaryLoop(CosKernel(), input, dst)
            case .erf: unaryLoop(FloatErfKernel(function: .erf), input, dst)
            case .geluExact: unaryLoop(FloatErfKernel(function: .gelu), input, dst)
            case .geluTanh, .elu:
                unaryLoop(DoublePrecisionKernel(function: ReferenceBackend.unaryFunction(op)), input, dst)
            case .logicalNot: preconditionFailure("logicalNot is delegated above")
            }
        }
        return try narrowed(out, to: x.dtype)
    }

    /// Outputs of at least this many elements (64 MiB of float32, twice the 32 MiB last-level
    /// cache of the machines measured) are written with streaming stores by the C shim's kernels where one
    /// exists (add, sub, mul, div, relu on dense or scalar operands): beyond the caches that
    /// saves the read-for-ownership of every output line. Smaller outputs stay in the cache
    /// for the next kernel, so they keep ordinary stores.
    static let streamingThreshold = 1 << 24

    /// Applies `kernel` to every element of the float32 tensor `x`, writing dense output.
    func unaryLoop<K: FloatUnaryKernel>(_ kernel: K, _ x: Tensor, _ dst: UnsafeMutablePointer<Float>) {
        let src = x.elementPointer(as: Float.self)
        let walk = StridedWalk(shape: x.shape, strides: [x.strides])
        let s = walk.innerStride0
        let parts = parallel.parts(for: walk.count, grain: kernel.isExpensive ? 1 << 14 : Parallel.minimumElements)
        @inline(__always) func compute(_ from: UnsafePointer<Float>, _ to: UnsafeMutablePointer<Float>, _ n: Int) {
            if s == 1 {
                kernel.run(from, to, n)
            } else if s == 0 {
                to.update(repeating: kernel(from[0]), count: n)
            } else if kernel.runsDense {
                for i in 0..<n { to[i] = from[i &* s] }
                kernel.run(to, to, n)
            } else {
                for i in 0..<n { to[i] = kernel(from[i &* s]) }
            }
        }
        let stream = kernel.streamsAsRelu && walk.count >= Self.streamingThreshold
        parallel.forEachRange(walk.count, parts: parts) { range in
            walk.forEachRun(in: range) { o, _, _, start, n in
                if stream && s == 1 {
                    cdsk_f32_stream_relu(src + o, dst + start, n)
                } else if kernel.isVectorExp && s == 1 {
                    cdsk_f32_exp(src + o, dst + start, n)
                } else {
                    compute(src + o, dst + start, n)
                }
            }
        }
    }

    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        precondition(a.shape == b.shape && a.dtype == b.dtype, "binary: operands must be broadcast and promoted")
        guard a.dtype == .float32 || Self.isHalf(a.dtype) else { return try reference.binary(op, a, b) }
        try a.requireData("\(op)")
        try b.requireData("\(op)")
        let x = try float32Compact(a)
        let y = try float32Compact(b)
        if op.isComparison {
            let out = try Tensor.empty(a.shape, dtype: .bool, op: op.rawValue)
            if out.elementCount == 0 { return out }
            let dst = out.elementPointer(as: UInt8.self)
            switch op {
            case .equal: binaryLoop(EqualKernel(), x, y, dst)
            case .notEqual: binaryLoop(NotEqualKernel(), x, y, dst)
            case .less: binaryLoop(LessKernel(), x, y, dst)
            case .lessEqual: binaryLoop(LessEqualKernel(), x, y, dst)
            case .greater: binaryLoop(GreaterKernel(), x, y, dst)
            case .greaterEqual: binaryLoop(GreaterEqualKernel(), x, y, dst)
            default:  // logical ops take bool operands only (validated by the front end)
                return try reference.binary(op, a, b)
            }
            return out
        }
        let out = try Tensor.empty(a.shape, dtype: .float32, op: op.rawValue)
        if out.elementCount > 0 {
            let dst = out.elementPointer(as: Float.self)
            switch op {
            case .add: binaryLoop(AddKernel(), x, y, dst)
            case .sub: binaryLoop(SubKernel(), x, y, dst)
            case .mul: binaryLoop(MulKernel(), x, y, dst)
            case .div: binaryLoop(DivKernel(), x, y, dst)
            case .pow: binaryLoop(PowKernel(), x, y, dst)
            case .maximum: binaryLoop(MaximumKernel(), x, y, dst)
            case .minimum: binaryLoop(MinimumKernel(), x, y, dst)
            case .mod: binaryLoop(ModKernel(), x, y, dst)
            default: preconditionFailure("comparisons are handled above")
            }
        }
        return try narrowed(out, to: a.dtype)
    }

    /// Combines two float32 tensors of one shape element by element into dense output, with fast
    /// paths for the run shapes broadcasting produces: both dense, a scalar on either side.
    func binaryLoop<K: FloatBinaryKernel>(_ kernel: K, _ a: Tensor, _ b: Tensor, _ dst: UnsafeMutablePointer<K.Output>) {
        let pa = a.elementPointer(as: Float.self)
        let pb = b.elementPointer(as: Float.self)
        let walk = StridedWalk(shape: a.shape, strides: [a.strides, b.strides])
        let (sa, sb) = (walk.innerStride0, walk.innerStride1)
        let grain = kernel is PowKernel || kernel is ModKernel ? 1 << 14 : Parallel.minimumElements
        @inline(__always) func compute(
            _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ to: UnsafeMutablePointer<K.Output>, _ n: Int
        ) {
            if sa == 1 && sb == 1 {
                for i in 0..<n { to[i] = kernel(x[i], y[i]) }
            } else if sa == 1 && sb == 0 {
                let v = y[0]
                for i in 0..<n { to[i] = kernel(x[i], v) }
            } else if sa == 0 && sb == 1 {
                let u = x[0]
                for i in 0..<n { to[i] = kernel(u, y[i]) }
            } else {
                for i in 0..<n { to[i] = kernel(x[i &* sa], y[i &* sb]) }
            }
        }
        let streamOp = walk.count >= Self.streamingThreshold && (0...1).contains(sa) && (0...1).contains(sb) ? kernel.streamingOp : nil
        parallel.forEachRange(walk.count, parts: parallel.parts(for: walk.count, grain: grain)) { range in
            walk.forEachRun(in: range) { oa, ob, _, start, n in
                if let streamOp, K.Output.self == Float.self {
                    let out = UnsafeMutableRawPointer(dst + start).assumingMemoryBound(to: Float.self)
                    cdsk_f32_stream_binary(streamOp, pa + oa, Int32(sa), pb + ob, Int32(sb), out, n)
                } else {
                    compute(pa + oa, pb + ob, dst + start, n)
                }
            }
        }
    }

    public func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        try condition.requireData("where")
        try a.requireData("where")
        try b.requireData("where")
        guard condition.dtype == .bool, a.dtype == b.dtype, condition.shape == a.shape, a.shape == b.shape else {
            return try reference.select(condition, a, b)
        }
        let out = try Tensor.empty(a.shape, dtype: a.dtype, op: "where")
        if out.elementCount == 0 { return out }
        // Selection moves whole elements, so it works on the raw bytes of every dtype.
        switch a.dtype.byteSize {
        case 1: selectLoop(UInt8.self, condition, a, b, out)
        case 2: selectLoop(UInt16.self, condition, a, b, out)
        case 4: selectLoop(UInt32.self, condition, a, b, out)
        default: selectLoop(UInt64.self, condition, a, b, out)
        }
        return out
    }

    private func selectLoop<T>(_: T.Type, _ condition: Tensor, _ a: Tensor, _ b: Tensor, _ out: Tensor) {
        let pc = condition.elementPointer(as: UInt8.self)
        let pa = a.elementPointer(as: T.self)
        let pb = b.elementPointer(as: T.self)
        let dst = out.elementPointer(as: T.self)
        let walk = StridedWalk(shape: a.shape, strides: [condition.strides, a.strides, b.strides])
        let (sc, sa, sb) = (walk.innerStride0, walk.innerStride1, walk.innerStride2)
        parallel.forEachRange(walk.count, parts: parallel.parts(for: walk.count)) { range in
            walk.forEachRun(in: range) { oc, oa, ob, start, n in
                let c = pc + oc
                let x = pa + oa
                let y = pb + ob
                let to = dst + start
                if sc == 1 && sa == 1 && sb == 1 {
                    for i in 0..<n { to[i] = c[i] != 0 ? x[i] : y[i] }
                } else {
                    for i in 0..<n { to[i] = c[i &* sc] != 0 ? x[i &* sa] : y[i &* sb] }
                }
            }
        }
    }
}

import DeepseekTensor

/// A gradient kernel written as loops over contiguous host buffers.
///
/// Conformers validate their inputs and give the output shape (which is all that happens for
/// meta tensors), then fill a zero-initialised output — or, when they say they write every
/// element (`writesEveryElement`), an uninitialised one, which saves clearing it. The loops are generic over the float
/// type and run in `Float` or `Double`; `float16` and `bfloat16` go through `float32`.
protocol HostGradientKernel: CustomGraphOp {
    /// The inputs holding floating-point data, which share one dtype (others, such as indices,
    /// are passed through untouched).
    var dataInputs: [Int] { get }
    /// Checks the inputs' shapes and returns the output's.
    func outputShape(_ inputs: [Tensor]) throws -> Shape
    /// Adds the result into `out` (zero on entry unless `writesEveryElement`). `data[i]` points
    /// at input `i`'s contiguous elements when `i` is a data input; `inputs` are the tensors themselves.
    func accumulate<T: BinaryFloatingPoint>(into out: UnsafeMutablePointer<T>, data: [UnsafePointer<T>?], inputs: [Tensor]) throws
    /// Whether `accumulate` stores to every element of the output for these (validated) inputs,
    /// so it may start uninitialised.
    func writesEveryElement(_ inputs: [Tensor]) -> Bool
}

extension HostGradientKernel {
    var dataInputs: [Int] { [0] }
    func writesEveryElement(_ inputs: [Tensor]) -> Bool { false }

    /// `evaluate` for conformers: validation, meta results, dtype dispatch.
    func evaluateOnHost(_ inputs: [Tensor]) throws -> [Tensor] {
        guard let first = dataInputs.first, first < inputs.count, dataInputs.allSatisfy({ $0 < inputs.count }) else {
            throw TensorError(.invalidArgument, "\(label): got \(inputs.count) inputs, which is too few")
        }
        let dtype = inputs[first].dtype
        for i in dataInputs where inputs[i].dtype != dtype || !dtype.isFloatingPoint {
            throw TensorError(
                .dtypeMismatch, "\(label): input \(i) is \(inputs[i].dtype); the data inputs must share one floating-point dtype (input \(first) is \(dtype))")
        }
        let shape = try outputShape(inputs)
        if inputs.contains(where: \.isMeta) { return [Tensor.meta(shape, dtype: dtype)] }
        switch dtype {
        case .float64:
            return [try run(Double.self, .float64, shape, inputs)]
        case .float32:
            return [try run(Float.self, .float32, shape, inputs)]
        default:
            // Half-precision data is widened once, computed in float32 and rounded once on store.
            var wide = inputs
            for i in dataInputs { wide[i] = try inputs[i].cast(to: .float32) }
            return [try run(Float.self, .float32, shape, wide).cast(to: dtype)]
        }
    }

    private func run<T: BinaryFloatingPoint>(_ type: T.Type, _ dtype: DType, _ shape: Shape, _ inputs: [Tensor]) throws -> Tensor {
        let out = writesEveryElement(inputs) ? try Tensor.empty(shape, dtype: dtype, op: label) : try Tensor.zeros(shape, dtype: dtype)
        guard shape.elementCount > 0, let outBase = out.storage.baseAddress else { return out }
        var dense = inputs
        var data = [UnsafePointer<T>?](repeating: nil, count: inputs.count)
        for i in dataInputs {
            dense[i] = try inputs[i].contiguous()
            if let base = dense[i].storage.baseAddress {
                data[i] = UnsafePointer(base.assumingMemoryBound(to: T.self).advanced(by: dense[i].offset))
            }
        }
        try withExtendedLifetime(dense) {
            try accumulate(into: outBase.assumingMemoryBound(to: T.self), data: data, inputs: dense)
        }
        return out
    }
}

extension Conv2dParameters {
    /// `stride: 2x2, padding: 1,1,1,1, dilation: 1x1, groups: 1`.
    var summary: String { GraphOp.describe(self) }
}

public import DeepseekTensor

/// Adds slices of `updates` into a zero tensor at integer `indices` along `axis`: the adjoint of
/// `gather`, and so the gradient of an embedding table.
///
/// Inputs: `updates`, shaped like a gather result `pre + indices.shape + post`, and `indices`
/// (int32 or int64; negative values count from the end). The output is `pre + [size] + post`.
/// Repeated indices add up.
public struct ScatterAdd: CustomGraphOp, HostGradientKernel {
    /// The axis of the output the indices address.
    public let axis: Int
    /// The output's size along `axis` (the gathered table's).
    public let size: Int

    public init(axis: Int, size: Int) {
        self.axis = axis
        self.size = size
    }

    public var label: String { "scatterAdd" }
    public var signature: String { "scatterAdd(axis: \(axis), size: \(size))" }
    /// A host loop over CPU memory.
    public var deviceKinds: Set<DeviceKind>? { [.cpu] }

    public func evaluate(_ inputs: [Tensor]) throws -> [Tensor] { try evaluateOnHost(inputs) }

    func outputShape(_ inputs: [Tensor]) throws -> Shape {
        guard inputs.count == 2 else {
            throw TensorError(.invalidArgument, "scatterAdd: needs updates and indices, got \(inputs.count) inputs")
        }
        let (updates, indices) = (inputs[0].shape, inputs[1].shape)
        guard inputs[1].dtype == .int32 || inputs[1].dtype == .int64 else {
            throw TensorError(.dtypeMismatch, "scatterAdd: indices must be int32 or int64, got \(inputs[1].dtype)")
        }
        guard axis >= 0, size >= 0, updates.rank >= axis + indices.rank,
            Array(updates.dims[axis..<(axis + indices.rank)]) == indices.dims
        else {
            throw TensorError(
                .shapeMismatch,
                "scatterAdd: updates \(updates) must hold the indices' shape \(indices) at axis \(axis), like the result of a gather")
        }
        return Shape(Array(updates.dims[..<axis]) + [size] + Array(updates.dims[(axis + indices.rank)...]))
    }

    func accumulate<T: BinaryFloatingPoint>(into out: UnsafeMutablePointer<T>, data: [UnsafePointer<T>?], inputs: [Tensor]) throws {
        guard let updates = data[0] else { return }
        let indices = try inputs[1].scalars(as: Int64.self)
        let dims = inputs[0].shape.dims
        let outer = dims[..<axis].reduce(1, *)
        let inner = dims[(axis + inputs[1].rank)...].reduce(1, *)
        let rows = indices.count
        var targets = [Int](repeating: 0, count: rows)
        for (j, raw) in indices.enumerated() {
            let i = raw < 0 ? raw + Int64(size) : raw
            guard i >= 0 && i < Int64(size) else {
                throw TensorError(
                    .indexOutOfRange, "scatterAdd: index \(raw) at position \(j) is out of range for axis \(axis) of size \(size)")
            }
            targets[j] = Int(i)
        }
        for o in 0..<outer {
            for j in 0..<rows {
                let src = updates + (o * rows + j) * inner
                let dst = out + (o * size + targets[j]) * inner
                for k in 0..<inner { dst[k] += src[k] }
            }
        }
    }
}

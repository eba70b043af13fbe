import DeepseekTensor

/// The shape and per-operand strides of an element-wise launch, collapsed to six axes.
///
/// Adjacent axes merge when every operand steps through them as one (stride of the outer axis =
/// stride × size of the inner one) and size-1 axes drop, so contiguous tensors become one axis
/// and most broadcasts two or three. Kernels take the result as `long8` arguments: axes 0...4
/// enumerate rows, axis 5 is the inner loop.
struct StridedLayout {
    static let maxRank = 6

    /// Six sizes, unused leading axes 1.
    var shape: [Int]
    /// Six strides per operand, in the order given.
    var strides: [[Int]]

    /// The number of rows (the product of axes 0...4).
    var rows: Int { shape[..<5].reduce(1, *) }
    /// The length of the inner axis.
    var inner: Int { shape[5] }

    /// Collapses `shape` for operands with the given strides, or `nil` when more than six axes
    /// remain (the caller then makes operands contiguous first).
    init?(_ shape: Shape, _ operandStrides: [[Int]]) {
        var sizes: [Int] = []  // innermost first
        var merged: [[Int]] = Array(repeating: [], count: operandStrides.count)
        for axis in stride(from: shape.rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            if let last = sizes.last,
                operandStrides.indices.allSatisfy({ operandStrides[$0][axis] == merged[$0].last! * last })
            {
                sizes[sizes.count - 1] = last * shape[axis]
            } else {
                sizes.append(shape[axis])
                for o in operandStrides.indices { merged[o].append(operandStrides[o][axis]) }
            }
        }
        guard sizes.count <= Self.maxRank else { return nil }
        let pad = Self.maxRank - sizes.count
        self.shape = Array(repeating: 1, count: pad) + sizes.reversed()
        self.strides = merged.map { Array(repeating: 0, count: pad) + $0.reversed() }
    }

    /// Row-major strides of `shape` (for writing a strided view of a contiguous output).
    static func contiguousStrides(_ shape: [Int]) -> [Int] { Shape(shape).contiguousStrides }

    /// The global work size for `chunk` inner elements per work-item.
    func grid(chunk: Int) -> [Int] { [(inner + chunk - 1) / chunk, rows] }

    /// Elements per work-item: long enough to amortise the work-item's row offset, short enough to
    /// give every compute unit several work-items.
    static let chunk = 4096
}

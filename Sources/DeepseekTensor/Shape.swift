/// The extent of each axis of a tensor.
///
/// A shape is a collection of axis sizes; its `count` is the rank and `elementCount` the number of
/// elements. A rank-0 shape (`[]`) describes a scalar.
///
/// ```swift
/// let s: Shape = [64, 3, 28, 28]
/// s.rank          // 4
/// s.elementCount  // 150528
/// ```
public struct Shape: Sendable, Hashable, RandomAccessCollection, MutableCollection,
    ExpressibleByArrayLiteral, CustomStringConvertible
{
    /// The axis sizes, outermost first.
    public var dims: [Int]

    @inlinable public init(_ dims: [Int]) { self.dims = dims }
    @inlinable public init(arrayLiteral elements: Int...) { self.dims = elements }

    @inlinable public var startIndex: Int { 0 }
    @inlinable public var endIndex: Int { dims.count }
    @inlinable public subscript(position: Int) -> Int {
        get { dims[position] }
        set { dims[position] = newValue }
    }

    /// The number of axes.
    @inlinable public var rank: Int { dims.count }

    /// The number of elements (1 for a scalar). Assumes the shape was validated.
    @inlinable public var elementCount: Int { dims.reduce(1, *) }

    /// The row-major (C order) strides, in elements, of a contiguous tensor of this shape.
    @inlinable public var contiguousStrides: [Int] {
        var strides = [Int](repeating: 1, count: dims.count)
        var running = 1
        for axis in stride(from: dims.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= Swift.max(dims[axis], 1)
        }
        return strides
    }

    public var description: String { "[" + dims.map(String.init).joined(separator: ", ") + "]" }

    /// Checks that every axis is non-negative and the element count fits in `Int`.
    public func validated(for op: String) throws(TensorError) -> Shape {
        var count = 1
        for (axis, d) in dims.enumerated() {
            guard d >= 0 else {
                throw TensorError(.shapeMismatch, "\(op): axis \(axis) of shape \(self) is negative; sizes must be ≥ 0")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else {
                throw TensorError(.outOfMemory, "\(op): shape \(self) has more elements than fit in memory")
            }
            count = product
        }
        return self
    }

    /// Normalises a possibly negative axis against `rank`, throwing when it is out of range.
    public func normalizedAxis(_ axis: Int, op: String) throws(TensorError) -> Int {
        let r = rank
        let a = axis < 0 ? axis + r : axis
        guard a >= 0 && a < Swift.max(r, 1) && (r > 0 || a == 0) else {
            throw TensorError(
                .invalidAxis, "\(op): axis \(axis) is out of range for shape \(self) (rank \(r)); use an axis in \(-r)..<\(r)")
        }
        return a
    }

    /// Normalises a list of axes (sorted, unique); an empty list means all axes.
    public func normalizedAxes(_ axes: [Int]?, op: String) throws(TensorError) -> [Int] {
        guard let axes, !axes.isEmpty else { return Array(0..<rank) }
        var result: [Int] = []
        for axis in axes {
            let a = try normalizedAxis(axis, op: op)
            guard !result.contains(a) else {
                throw TensorError(.invalidAxis, "\(op): axis \(axis) appears twice in \(axes) for shape \(self)")
            }
            result.append(a)
        }
        return result.sorted()
    }

    /// The shape two shapes broadcast to under NumPy rules, or an error naming both.
    public static func broadcast(_ a: Shape, _ b: Shape, op: String) throws(TensorError) -> Shape {
        let rank = Swift.max(a.rank, b.rank)
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            let da = i < rank - a.rank ? 1 : a.dims[i - (rank - a.rank)]
            let db = i < rank - b.rank ? 1 : b.dims[i - (rank - b.rank)]
            if da == db || db == 1 {
                out[i] = da
            } else if da == 1 {
                out[i] = db
            } else {
                throw TensorError(
                    .shapeMismatch,
                    "\(op): shapes \(a) and \(b) do not broadcast: axis \(i - rank) has sizes \(da) and \(db); sizes must be equal or one of them 1"
                )
            }
        }
        return Shape(out)
    }
}

/// An n-dimensional array of numbers: the value every Deepseek kernel, operator and message moves.
///
/// `Tensor` is a `Sendable` value type. Copies share storage until one of them is written
/// (copy-on-write), and views — `reshaped`, `permuted`, `sliced`, `expanded` — share storage
/// with the tensor they come from by changing only shape, strides and offset.
///
/// ```swift
/// let x = try Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [2, 3])
/// let y = try x.transposed().matmul(x)      // [3, 3]
/// print(try y.scalars(as: Float.self))
/// ```
///
/// Operations run on the kernel backend in effect (`KernelBackends.current`); they validate shapes,
/// dtypes and axes first and throw a `TensorError` that names the operation and the shapes.
public struct Tensor: Sendable {
    /// The element type.
    public let dtype: DType
    /// The extent of each axis.
    public internal(set) var shape: Shape
    /// The distance in elements between neighbours along each axis (0 for a broadcast axis).
    public internal(set) var strides: [Int]
    /// The element offset of the first element within the storage.
    public internal(set) var offset: Int
    /// The bytes; shared between views and copies until one is written.
    public internal(set) var storage: TensorStorage

    /// Wraps existing storage. The caller guarantees that shape, strides and offset stay in bounds.
    package init(storage: TensorStorage, dtype: DType, shape: Shape, strides: [Int], offset: Int) {
        self.storage = storage
        self.dtype = dtype
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// A contiguous tensor whose contents are unspecified; kernels use it for outputs they fill.
    ///
    /// - Throws: `TensorError.outOfMemory` when the shape needs more memory than the machine has.
    public static func empty(_ shape: Shape, dtype: DType = .float32, op: String = "empty") throws(TensorError) -> Tensor {
        let shape = try shape.validated(for: op)
        let (bytes, overflow) = shape.elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else {
            throw TensorError(.outOfMemory, "\(op): shape \(shape) of \(dtype) needs more bytes than fit in memory")
        }
        let storage: TensorStorage
        if let slot = TensorArena.claimOutputSlot(byteCount: bytes) {
            storage = slot
        } else {
            storage = try TensorStorage(byteCount: bytes, op: op)
        }
        return Tensor(storage: storage, dtype: dtype, shape: shape, strides: shape.contiguousStrides, offset: 0)
    }

    /// A tensor of the given shape filled with zeros.
    public static func zeros(_ shape: Shape, dtype: DType = .float32) throws(TensorError) -> Tensor {
        let t = try empty(shape, dtype: dtype, op: "zeros")
        t.storage.baseAddress?.initializeMemory(as: UInt8.self, repeating: 0, count: t.storage.byteCount)
        return t
    }

    /// A tensor of the given shape with every element equal to `value`.
    public static func full(_ shape: Shape, value: Double, dtype: DType = .float32) throws(TensorError) -> Tensor {
        var t = try empty(shape, dtype: dtype, op: "full")
        t.withMutableElements { count, store in
            for i in 0..<count { store(i, value) }
        }
        return t
    }

    /// A tensor of the given shape filled with ones.
    public static func ones(_ shape: Shape, dtype: DType = .float32) throws(TensorError) -> Tensor {
        try full(shape, value: 1, dtype: dtype)
    }

    /// A meta tensor: shape and dtype without data, for shape inference and cost models.
    public static func meta(_ shape: Shape, dtype: DType = .float32) -> Tensor {
        Tensor(
            storage: TensorStorage(metaByteCount: shape.elementCount * dtype.byteSize), dtype: dtype, shape: shape,
            strides: shape.contiguousStrides, offset: 0)
    }

    /// Creates a tensor from values in row-major order.
    ///
    /// - Throws: `TensorError.shapeMismatch` when `values.count` differs from the shape's element count.
    public init<T: TensorElement>(_ values: [T], shape: Shape) throws(TensorError) {
        let shape = try shape.validated(for: "Tensor.init")
        guard values.count == shape.elementCount else {
            throw TensorError(
                .shapeMismatch,
                "Tensor.init: \(values.count) values do not fill shape \(shape) (\(shape.elementCount) elements); pass exactly that many values or change the shape"
            )
        }
        self = try Tensor.empty(shape, dtype: T.dtype, op: "Tensor.init")
        if let base = storage.baseAddress {
            values.withUnsafeBufferPointer { src in
                base.copyMemory(from: src.baseAddress!, byteCount: values.count * MemoryLayout<T>.stride)
            }
        }
    }

    /// A one-dimensional tensor of the values.
    public init<T: TensorElement>(_ values: [T]) {
        // A 1-D shape always matches its own values and only an impossible allocation can fail.
        do { try self.init(values, shape: [values.count]) } catch { fatalError("\(error)") }
    }

    /// A rank-0 tensor holding one value.
    public init<T: TensorElement>(scalar: T) {
        do { try self.init([scalar], shape: []) } catch { fatalError("\(error)") }
    }

    /// A rank-0 tensor of the given dtype holding `value` (rounded or saturated to the dtype).
    public init(scalar value: Double, dtype: DType) {
        do { self = try Tensor.full([], value: value, dtype: dtype) } catch { fatalError("\(error)") }
    }

    /// The number of axes.
    @inlinable public var rank: Int { shape.rank }
    /// The number of elements.
    @inlinable public var elementCount: Int { shape.elementCount }
    /// Bytes the elements occupy when contiguous.
    @inlinable public var byteCount: Int { shape.elementCount * dtype.byteSize }
    /// Whether this is a meta tensor (shape only, no data).
    public var isMeta: Bool { storage.isMeta }

    /// Whether elements are laid out densely in row-major order (views may not be).
    public var isContiguous: Bool {
        if shape.contains(0) { return true }  // no element, nothing to lay out
        var expected = 1
        for axis in stride(from: shape.rank - 1, through: 0, by: -1) where shape[axis] != 1 {
            if strides[axis] != expected { return false }
            expected *= shape[axis]
        }
        return true
    }
}

extension Tensor: CustomStringConvertible {
    public var description: String {
        if isMeta { return "Tensor(meta, \(dtype), shape: \(shape))" }
        let limit = 16
        let values = (try? scalarsAsDouble().prefix(limit)) ?? []
        let shown = values.map { dtype.isFloatingPoint ? "\(Float($0))" : "\(Int64($0))" }.joined(separator: ", ")
        return "Tensor(\(dtype), shape: \(shape), [\(shown)\(elementCount > limit ? ", …" : "")])"
    }
}

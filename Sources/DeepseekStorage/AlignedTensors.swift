public import DeepseekTensor

/// Tensors whose storage is aligned for direct I/O, so the SSD tier reads into them and writes
/// from them in place, with no copy through its staging buffers.
///
/// O_DIRECT needs the address, the length and the file offset aligned to the device's block
/// (4096 bytes here). Storage from here starts on a 4096-byte boundary and has room up to the
/// next one after the last element, so a read of whole blocks lands in it. The tensor allocator
/// gives every buffer of 64 KiB or more that layout (and recycles it); this asks for it at any
/// size. The SSD tier loads every tensor into such storage; a tensor made here and filled by the
/// caller is written in place too.
///
/// ```swift
/// var t = try AlignedTensors.empty([1 << 20])       // float32, 4 MiB, 4096-aligned
/// try t.withUnsafeMutableBufferPointer(as: Float.self) { $0.initialize(repeating: 1) }
/// try await ssd.store(t, for: "w")                  // written straight from t's memory
/// ```
public enum AlignedTensors {
    /// The alignment of addresses and capacities.
    public static let alignment = 4096

    /// A contiguous tensor with unspecified contents in 4096-aligned storage.
    ///
    /// - Throws: `StorageError.budgetExceeded` when the memory cannot be allocated,
    ///   `.invalidArgument` for a shape with negative or overflowing extents.
    public static func empty(_ shape: Shape, dtype: DType = .float32) throws(StorageError) -> Tensor {
        do { _ = try shape.validated(for: "aligned tensor") } catch {
            throw StorageError(.invalidArgument, error.message, cause: error)
        }
        let (bytes, overflow) = shape.elementCount.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow else { throw StorageError(.invalidArgument, "shape \(shape) of \(dtype) needs more bytes than fit in memory") }
        let storage: TensorStorage
        do { storage = try TensorStorage(byteCount: bytes, pageAligned: true, op: "aligned tensor") } catch {
            throw StorageError(.budgetExceeded, error.message, cause: error)
        }
        return Tensor(storage: storage, dtype: dtype, shape: shape, strides: shape.contiguousStrides, offset: 0)
    }

    /// Whether `tensor` is written by the SSD tier in place: contiguous, on a 4096-byte boundary.
    public static func isAligned(_ tensor: Tensor) -> Bool {
        guard let base = tensor.storage.baseAddress, tensor.isContiguous else { return false }
        return Int(bitPattern: base + tensor.offset * tensor.dtype.byteSize) % alignment == 0
    }
}

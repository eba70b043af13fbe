public import DeepseekTensor
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Tensors whose storage is aligned for direct I/O, so the SSD tier reads into them and writes
/// from them in place, with no copy through its staging buffers.
///
/// O_DIRECT needs the address, the length and the file offset aligned to the device's block
/// (4096 bytes here). Ordinary tensor storage is 64-byte aligned; storage from here starts on
/// a 4096-byte boundary and has room up to the next one after the last element, so a read of
/// whole blocks lands in it. The SSD tier loads every tensor into such storage; a tensor made
/// here and filled by the caller is written in place too.
///
/// Freed storage is kept for reuse, by size, up to a byte budget, so steady-state spilling does
/// not fault in fresh pages for every load.
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
        let storage = try AlignedStoragePool.shared.storage(byteCount: bytes)
        return Tensor(storage: storage, dtype: dtype, shape: shape, strides: shape.contiguousStrides, offset: 0)
    }

    /// Whether `tensor` is written by the SSD tier in place: contiguous, on a 4096-byte boundary.
    public static func isAligned(_ tensor: Tensor) -> Bool {
        guard let base = tensor.storage.baseAddress, tensor.isContiguous else { return false }
        return Int(bitPattern: base + tensor.offset * tensor.dtype.byteSize) % alignment == 0
    }

    /// The bytes freed storage keeps for reuse now.
    public static var cachedBytes: Int { AlignedStoragePool.shared.cachedBytes }
}

/// 4096-aligned buffers, recycled by capacity (a multiple of 4096) up to a byte budget.
final class AlignedStoragePool: Sendable {
    static let shared = AlignedStoragePool(budget: min(TensorStorage.physicalMemory / 16, 512 << 20))

    let budget: Int
    private let state = Mutex<State>(State())

    struct State: ~Copyable {
        var free: [Int: [UInt]] = [:]  // capacity -> addresses (pointers are not Sendable)
        var cachedBytes = 0
    }

    init(budget: Int) { self.budget = budget }

    var cachedBytes: Int { state.withLock { $0.cachedBytes } }

    /// Storage of `byteCount` bytes whose memory has room up to the next multiple of 4096.
    func storage(byteCount: Int) throws(StorageError) -> TensorStorage {
        let alignment = AlignedTensors.alignment
        let capacity = max(alignment, (byteCount + alignment - 1) / alignment * alignment)
        let reused = state.withLock { s -> UInt? in
            guard var list = s.free[capacity], let p = list.popLast() else { return nil }
            s.free[capacity] = list
            s.cachedBytes -= capacity
            return p
        }
        var pointer = reused.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
        if pointer == nil {
            guard capacity <= TensorStorage.physicalMemory else {
                throw StorageError(.budgetExceeded, "cannot allocate \(byteCount) bytes: the machine has \(TensorStorage.physicalMemory)")
            }
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, alignment, capacity) == 0, let raw else {
                throw StorageError(.budgetExceeded, "the allocator refused \(capacity) bytes of aligned memory; free memory or load fewer tensors at once")
            }
            pointer = raw
        }
        return TensorStorage(adopting: pointer!, byteCount: byteCount) { [self] p in give(p, capacity: capacity) }
    }

    private func give(_ pointer: UnsafeMutableRawPointer, capacity: Int) {
        let address = UInt(bitPattern: pointer)
        let kept = state.withLock { s -> Bool in
            guard s.cachedBytes + capacity <= budget else { return false }
            s.free[capacity, default: []].append(address)
            s.cachedBytes += capacity
            return true
        }
        if !kept { free(pointer) }
    }
}

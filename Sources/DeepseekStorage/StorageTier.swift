public import DeepseekTensor

/// A place that holds tensors by key: memory with a byte budget, an SSD file, or a stack of
/// both (`TieredStore`).
///
/// Tiers are actors: a call is a message, and the runtime can put a distributed actor in front
/// of one later without changing its contract. Tensors enter and leave as `Tensor` values (any
/// dtype); what the tier does with the bytes is its own business, but a load returns exactly the
/// bits that were stored, in a contiguous layout. Batched calls let a tier keep several requests
/// in flight (the SSD tier submits a whole batch to io_uring at once).
///
/// Every conforming type passes the same contract suite (`StorageTierContractTests`).
public protocol StorageTier: Actor {
    /// A short name for reports and errors (`memory`, `ssd`, `tiered`).
    nonisolated var name: String { get }

    /// Stores each tensor under its key, replacing what was there.
    ///
    /// - Throws: `StorageError.invalidArgument` for a meta tensor; `.budgetExceeded` or
    ///   `.outOfSpace` when the tier cannot hold the bytes; `.io` for a failed write. A failed
    ///   batch may have stored some of its tensors; none of them is half-stored.
    func store(_ entries: [(key: StorageKey, tensor: Tensor)]) async throws(StorageError)

    /// Loads the tensors stored under `keys`, in the same order.
    ///
    /// - Throws: `StorageError.notFound` naming the first missing key; `.io` for a failed read.
    func load(_ keys: [StorageKey]) async throws(StorageError) -> [Tensor]

    /// Removes the tensor stored under `key`; returns whether there was one.
    @discardableResult
    func remove(_ key: StorageKey) async throws(StorageError) -> Bool

    /// Whether a tensor is stored under `key`.
    func contains(_ key: StorageKey) async -> Bool

    /// The keys stored, sorted.
    func storedKeys() async -> [StorageKey]

    /// Bytes of tensor data held now (what a budget counts: element bytes, not padding).
    func usedBytes() async -> Int
}

extension StorageTier {
    /// Stores one tensor under `key`.
    public func store(_ tensor: Tensor, for key: StorageKey) async throws(StorageError) {
        try await store([(key, tensor)])
    }

    /// Loads the tensor stored under `key`.
    public func load(_ key: StorageKey) async throws(StorageError) -> Tensor {
        try await load([key])[0]
    }
}

/// The contiguous bytes of a tensor, with what is needed to rebuild it.
struct TensorBytes {
    /// Contiguous, offset 0 within the viewed bytes; kept alive while the bytes are used.
    let tensor: Tensor
    let bytes: UnsafeRawBufferPointer

    /// - Throws: `StorageError.invalidArgument` for a meta tensor.
    init(_ tensor: Tensor, key: StorageKey) throws(StorageError) {
        guard !tensor.isMeta else {
            throw StorageError(
                .invalidArgument, "is a meta tensor (\(tensor.dtype)\(tensor.shape)) with no values; store a tensor with data",
                tensor: key.name)
        }
        let t: Tensor
        do { t = try tensor.contiguous() } catch {
            throw StorageError(.invalidArgument, "cannot be laid out contiguously: \(error)", tensor: key.name, cause: error)
        }
        self.tensor = t
        let start = t.storage.baseAddress.map { $0 + t.offset * t.dtype.byteSize }
        self.bytes = UnsafeRawBufferPointer(start: t.byteCount == 0 ? nil : start, count: t.byteCount)
    }

    /// A fresh contiguous tensor of `dtype` and `shape` whose bytes `fill` writes.
    static func make(
        dtype: DType, shape: Shape, key: StorageKey, _ fill: (UnsafeMutableRawBufferPointer) throws(StorageError) -> Void
    ) throws(StorageError) -> Tensor {
        let t: Tensor
        do { t = try Tensor.empty(shape, dtype: dtype, op: "storage load") } catch {
            throw StorageError(.budgetExceeded, "cannot allocate \(dtype)\(shape) to load into: \(error)", tensor: key.name, cause: error)
        }
        let count = t.byteCount
        try fill(UnsafeMutableRawBufferPointer(start: count == 0 ? nil : t.storage.baseAddress, count: count))
        return t
    }
}

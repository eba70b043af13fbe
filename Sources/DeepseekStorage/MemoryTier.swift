public import DeepseekTensor

/// Tensors held in memory, within a byte budget.
///
/// The tier keeps each tensor's value (a contiguous copy when it was given a view, so that the
/// budget counts what is really held). Storing past the budget fails with `.budgetExceeded`: it
/// is the tiered store above it that decides what to evict, not this tier.
///
/// ```swift
/// let ram = MemoryTier(budgetBytes: 64 << 20)
/// try await ram.store(t, for: "fc1.weight")
/// ```
public actor MemoryTier: StorageTier {
    public nonisolated let name: String
    /// Most bytes of tensor data held at once (`nil`: no limit).
    public nonisolated let budgetBytes: Int?
    private var tensors: [StorageKey: Tensor] = [:]
    private var used = 0

    /// - Parameter budgetBytes: the most bytes held at once; `nil` for no limit.
    public init(budgetBytes: Int? = nil, name: String = "memory") {
        precondition((budgetBytes ?? 0) >= 0, "MemoryTier: the budget must be ≥ 0 bytes")
        self.budgetBytes = budgetBytes
        self.name = name
    }

    public func store(_ entries: [(key: StorageKey, tensor: Tensor)]) throws(StorageError) {
        for (key, tensor) in entries {
            let bytes = try TensorBytes(tensor, key: key)
            let replaced = tensors[key]?.byteCount ?? 0
            if let budgetBytes, used - replaced + bytes.bytes.count > budgetBytes {
                throw StorageError(
                    .budgetExceeded,
                    "\(tensor.byteCount) bytes do not fit: \(used - replaced) of \(budgetBytes) bytes are in use; evict something first or raise the budget",
                    tensor: key.name)
            }
            // A view of a larger tensor would keep all of that tensor alive: hold exactly these bytes.
            var value = bytes.tensor
            if value.storage.byteCount != value.byteCount {
                value = try TensorBytes.make(dtype: value.dtype, shape: value.shape, key: key) { out in
                    out.copyMemory(from: bytes.bytes)
                }
            }
            tensors[key] = value
            used += value.byteCount - replaced
        }
    }

    public func load(_ keys: [StorageKey]) throws(StorageError) -> [Tensor] {
        var out: [Tensor] = []
        out.reserveCapacity(keys.count)
        for key in keys {
            guard let t = tensors[key] else { throw Self.missing(key, in: name) }
            out.append(t)
        }
        return out
    }

    @discardableResult
    public func remove(_ key: StorageKey) -> Bool {
        guard let t = tensors.removeValue(forKey: key) else { return false }
        used -= t.byteCount
        return true
    }

    public func contains(_ key: StorageKey) -> Bool { tensors[key] != nil }
    public func storedKeys() -> [StorageKey] { tensors.keys.sorted() }
    public func usedBytes() -> Int { used }

    /// Bytes still free under the budget (`Int.max` without one).
    public func freeBytes() -> Int { budgetBytes.map { $0 - used } ?? Int.max }

    static func missing(_ key: StorageKey, in tier: String) -> StorageError {
        StorageError(.notFound, "nothing is stored under this key in the \(tier) tier; store it first", tensor: key.name)
    }
}

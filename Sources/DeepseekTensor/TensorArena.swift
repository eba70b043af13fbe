import Synchronization

/// One block of memory carved into slots by a memory plan, so a graph's activations reuse a few
/// buffers instead of allocating one per value.
///
/// Kernels allocate their outputs with `Tensor.empty`. Inside `withOutputSlot`, the first such
/// allocation of exactly the slot's size is served from the slot instead of the allocator, so an
/// executor places a node's output where the plan says without changing any kernel. Slots keep
/// the arena alive, so tensors returned from a run stay valid after the run.
///
/// ```swift
/// let arena = try TensorArena(byteCount: plan.arenaBytes)
/// let y = try arena.withOutputSlot(offset: 4096, byteCount: 1024) { try x.relu() }
/// arena.owns(y)   // true when the kernel allocated its output through `Tensor.empty`
/// ```
public final class TensorArena: Sendable {
    /// The arena's size in bytes.
    public let byteCount: Int
    let storage: TensorStorage

    /// Allocates an arena of `byteCount` bytes (64-byte aligned).
    public init(byteCount: Int) throws(TensorError) {
        self.byteCount = byteCount
        self.storage = try TensorStorage(byteCount: max(byteCount, 1), op: "arena")
    }

    /// A pending slot: claimed at most once.
    final class Slot: Sendable {
        let arena: TensorArena
        let offset: Int
        let byteCount: Int
        let claimed = Atomic<Bool>(false)

        init(arena: TensorArena, offset: Int, byteCount: Int) {
            self.arena = arena
            self.offset = offset
            self.byteCount = byteCount
        }
    }

    @TaskLocal static var pendingSlot: Slot?

    /// Runs `body`; the first `Tensor.empty` of exactly `byteCount` bytes it makes lives at `offset`.
    public func withOutputSlot<R>(offset: Int, byteCount: Int, _ body: () throws -> R) rethrows -> R {
        precondition(offset >= 0 && offset % 64 == 0 && offset + byteCount <= self.byteCount,
                     "arena slot \(offset)+\(byteCount) must be 64-byte aligned and inside \(self.byteCount) bytes")
        return try Self.$pendingSlot.withValue(Slot(arena: self, offset: offset, byteCount: byteCount), operation: body)
    }

    static func claimOutputSlot(byteCount: Int) -> TensorStorage? {
        guard let slot = pendingSlot, slot.byteCount == byteCount,
            slot.claimed.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        else { return nil }
        return TensorStorage(slotOf: slot.arena.storage, offset: slot.offset, byteCount: byteCount)
    }

    /// A contiguous tensor over the slot at `offset` (for copying a value into its planned place).
    public func tensor(offset: Int, shape: Shape, dtype: DType) -> Tensor {
        let bytes = shape.elementCount * dtype.byteSize
        return Tensor(storage: TensorStorage(slotOf: storage, offset: offset, byteCount: bytes), dtype: dtype, shape: shape,
                      strides: shape.contiguousStrides, offset: 0)
    }

    /// The byte offset of `tensor`'s storage inside this arena, or `nil` when it lives elsewhere.
    public func offset(of tensor: Tensor) -> Int? {
        guard let base = storage.baseAddress, let p = tensor.storage.baseAddress else { return nil }
        let d = p - base
        return d >= 0 && d < byteCount ? d : nil
    }
}

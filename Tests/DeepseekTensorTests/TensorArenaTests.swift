import DeepseekCore
import DeepseekTensor
import DeepseekTestSupport
import Testing

@Suite struct TensorArenaTests {
    @Test func outputOfAKernelLandsInTheSlot() throws {
        let arena = try TensorArena(byteCount: 4096)
        let x = try Tensor([Float](repeating: -1, count: 16) + [Float](repeating: 2, count: 16), shape: [32])
        let y = try arena.withOutputSlot(offset: 1024, byteCount: 128) { try x.relu() }
        #expect(arena.offset(of: y) == 1024)
        #expect(arena.offset(of: x) == nil)
        expectClose(y, try KernelBackends.using(ReferenceBackend()) { try x.relu() })
    }

    @Test func slotIsClaimedOnceAndOnlyForItsSize() throws {
        let arena = try TensorArena(byteCount: 4096)
        let (a, b, c) = try arena.withOutputSlot(offset: 0, byteCount: 64) {
            (try Tensor.zeros([8]), try Tensor.zeros([16]), try Tensor.zeros([16]))
        }
        #expect(arena.offset(of: a) == nil)  // 32 bytes: not the slot's size
        #expect(arena.offset(of: b) == 0)
        #expect(arena.offset(of: c) == nil)  // already claimed
    }

    @Test func slotsKeepTheArenaAliveAfterItIsDropped() throws {
        var arena: TensorArena? = try TensorArena(byteCount: 256)
        let t = try arena!.withOutputSlot(offset: 64, byteCount: 16) { try Tensor([Float](arrayLiteral: 1, 2, 3, 4), shape: [4]) }
        arena = nil
        #expect(try t.scalars(as: Float.self) == [1, 2, 3, 4])
    }

    @Test func inPlaceElementwiseInTheSameSlotIsCorrect() throws {
        let arena = try TensorArena(byteCount: 1 << 16)
        var rng = SeededRandom(seed: 3)
        let source = try Tensor.normal([1000], rng: &rng)
        let x = arena.tensor(offset: 0, shape: [1000], dtype: .float32)
        try x.storage.baseAddress!.copyMemory(from: source.contiguous().storage.baseAddress!, byteCount: 4000)
        let y = try arena.withOutputSlot(offset: 0, byteCount: 4000) { try x.exp() }
        #expect(arena.offset(of: y) == 0)
        expectClose(y, try source.exp())
    }
}

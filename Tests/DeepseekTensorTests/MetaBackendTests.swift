import DeepseekTensor
import Testing

@Suite struct MetaBackendTests {
    @Test func matmulCostsTwoFlopsPerMultiplyAdd() throws {
        let meta = MetaBackend(recording: true)
        let y = try KernelBackends.using(meta) { try Tensor.meta([64, 784]).matmul(.meta([784, 256])) }
        #expect(y.isMeta && y.shape == [64, 256])
        let expected: Double = 2.0 * 64 * 784 * 256
        #expect(meta.total.flops == expected)
        #expect(meta.total.bytesRead == Double(64 * 784 + 784 * 256) * 4)
        #expect(meta.total.bytesWritten == Double(64 * 256) * 4)
        #expect(meta.records.map(\.kernel) == ["matmul"])
    }

    @Test func convolutionCostAndShape() throws {
        let meta = MetaBackend()
        let y = try KernelBackends.using(meta) {
            try Tensor.meta([64, 32, 28, 28]).conv2d(.meta([64, 32, 3, 3]), parameters: .init(padding: 1))
        }
        #expect(y.shape == [64, 64, 28, 28])
        let expected: Double = 2.0 * 64 * 64 * 28 * 28 * 32 * 9
        #expect(meta.total.flops == expected)
    }

    @Test func aLargeModelRunsOnShapesAlone() throws {
        // One GPT-3-sized projection: 12288 × 49152 weights (2.4 GB in float32) costs no memory.
        let meta = MetaBackend()
        let h = try KernelBackends.using(meta) {
            let x = Tensor.meta([8, 2048, 12288], dtype: .float16)
            let w = Tensor.meta([12288, 49152], dtype: .float16)
            return try x.matmul(w).gelu().layerNorm().output
        }
        #expect(h.shape == [8, 2048, 49152])
        #expect(meta.total.kernels == 3)
        let matmulFlops: Double = 2.0 * 8 * 2048 * 12288 * 49152
        #expect(meta.total.flops >= matmulFlops)
    }

    @Test func broadcastOperandsAreReadOnce() throws {
        let meta = MetaBackend()
        _ = try KernelBackends.using(meta) { try Tensor.meta([1024, 1024]) + Tensor.meta([1024]) }
        #expect(meta.total.bytesRead == Double(1024 * 1024 + 1024) * 4)
    }

    @Test func metaTensorsHaveNoValues() {
        #expect(throws: TensorError.self) { try Tensor.meta([2]).scalarsAsDouble() }
    }
}

@testable import DeepseekKernelsBLAS
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// The two ways `matmul` spreads products over the backend's threads with single-threaded BLAS:
/// many small products (attention heads) one per task, and a linear layer's product split by rows.
@Suite struct BatchedProductTests {
    @Test func batchedSmallProductsMatchReferenceAndRestoreTheBLASThreadCount() throws {
        let blas = try #require(Backends.cpu.blas, "OpenBLAS is not loaded")
        let before = blas.threads()
        // 24 products of 32×32×16 (attention-sized), the keys as a transposed view.
        let q = try Inputs.values([2, 12, 32, 16], seed: 3)
        let k = try Inputs.values([2, 12, 32, 16], seed: 4).permuted([0, 1, 3, 2])
        expectAgreement("batched small products", tolerance: productTolerance(.float32, k: 16)) { try q.matmul(k) }
        #expect(blas.threads() == before)
    }

    @Test func linearLayerSplitByRowsMatchesReference() throws {
        let blas = try #require(Backends.cpu.blas, "OpenBLAS is not loaded")
        let before = blas.threads()
        // 1024 rows × 192 × 96: above the split's thresholds for the tests' three threads.
        let x = try Inputs.values([4, 256, 96], seed: 1)
        let w = try Inputs.values([96, 192], seed: 2)
        expectAgreement("[4, 256, 96] × [96, 192]", tolerance: productTolerance(.float32, k: 96)) { try x.matmul(w) }
        expectAgreement("[4, 256, 96] × transposed", tolerance: productTolerance(.float32, k: 96)) {
            try x.matmul(Inputs.values([192, 96], seed: 3).transposed())
        }
        // Rows read through a transposed view of A (row stride 1).
        let columns = try Inputs.values([96, 4, 256], seed: 4).permuted([1, 2, 0])
        expectAgreement("transposed rows × [96, 192]", tolerance: productTolerance(.float32, k: 96)) { try columns.matmul(w) }
        #expect(blas.threads() == before)
    }
}

@testable import DeepseekKernelsOpenCL
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// The program cache and concurrent use of one backend.
@Suite(.enabled(if: OpenCLBackend.isAvailable))
struct ProgramCacheTests {
    @Test func eachProgramIsBuiltOncePerContext() throws {
        let backend = try OpenCLBackend()
        #expect(backend.runtime.builtProgramCount == 0)
        let a = try Inputs.values([5, 6])
        _ = try KernelBackends.using(backend) { try a.matmul(a.transposed()) }
        let afterFirst = backend.runtime.builtProgramCount
        #expect((1...2).contains(afterFirst))  // linear algebra, plus movement if host alignment was measured
        for _ in 0..<3 { _ = try KernelBackends.using(backend) { try a.matmul(a.transposed()) } }
        #expect(backend.runtime.builtProgramCount == afterFirst)
        try backend.warmUp(dtypes: [.float32, .float16, .bfloat16])
        #expect(backend.runtime.builtProgramCount == 4)  // movement + three float32 programs
        _ = try KernelBackends.using(backend) { try a.matmul(a.transposed()).relu().sum() }
        try backend.warmUp()
        #expect(backend.runtime.builtProgramCount == 4)
    }

    @Test func concurrentCallersShareOneBackend() async throws {
        let backend = try Shared.backend()
        let x = try Inputs.values([16, 24])
        let w = try Inputs.values([24, 40], seed: 2)
        let expected = try KernelBackends.using(Shared.reference) { try x.matmul(w).gelu().softmax(axis: 1) }
        try await withThrowingTaskGroup(of: Tensor.self) { group in
            for _ in 0..<8 {
                group.addTask { try KernelBackends.using(backend) { try x.matmul(w).gelu().softmax(axis: 1) } }
            }
            for try await result in group {
                expectClose(result, expected, tolerance: Tolerance(absolute: 1e-5, relative: 1e-4))
            }
        }
    }
}

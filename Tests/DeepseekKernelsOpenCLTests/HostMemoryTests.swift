@testable import DeepseekKernelsOpenCL
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// How tensors reach the device: in place where the alignment allows, copied otherwise.
@Suite(.enabled(if: OpenCLBackend.isAvailable))
struct HostMemoryTests {
    /// A backend that never uses host memory in place, so every buffer takes the copying path.
    static let copying = Result { try OpenCLBackend(device: .default, matmulKernel: .registerBlocked, inPlaceAlignment: 1 << 40) }

    @Test func tensorStorageIsUsedInPlaceWhenTheDeviceAllowsIt() throws {
        let backend = try Shared.backend()
        let alignment = backend.hostMemoryAlignment
        #expect(alignment >= 1 && alignment <= backend.device.baseAddressAlignment)
        if backend.device.name.hasPrefix("pthread") {
            // PoCL computes on 64-byte-aligned storage directly (measured at start-up).
            #expect(alignment <= 64)
        }
    }

    @Test func copyingPathAgreesWithTheReference() throws {
        let backend = try Self.copying.get()
        #expect(backend.hostMemoryAlignment == 1 << 40)
        let a = try Inputs.values([9, 13])
        let b = try Inputs.values([13, 40], seed: 2)
        let x = try Inputs.values([2, 3, 6, 6])
        let w = try Inputs.values([4, 3, 3, 3], seed: 3)
        let bias = try Inputs.values([4], seed: 4)
        try expectAgreement("matmul", tolerance: .accumulation(.float32, terms: 13), on: backend) { try a.matmul(b) }
        try expectAgreement("conv with bias", tolerance: .accumulation(.float32, terms: 27), on: backend) {
            try x.conv2d(w, bias: bias, parameters: .init(padding: 1))
        }
        try expectAgreement("binary", on: backend) { try a.transposed() * 3 }
        try expectAgreement("concat", on: backend) { try Tensor.concat([a, a.sliced(axis: 1, step: -1)], axis: 0) }
        try expectAgreement("reduce", on: backend) { try x.sum(axes: [0, 2]) }
        try expectAgreement("layerNorm", on: backend) { [try x.layerNorm(axis: 2).output] }
    }
}

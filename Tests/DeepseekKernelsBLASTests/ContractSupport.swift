import DeepseekCore
import DeepseekKernelsBLAS
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// The backends under test. Three threads on a two-core machine makes the parallel splits
/// uneven, which is where off-by-one errors in range splitting show.
enum Backends {
    static let cpu = CPUBackend(settings: .init(threads: 3))
    static let portable = CPUBackend(settings: .init(threads: 3, gemm: .portable))
    static let serial = CPUBackend(settings: .init(threads: 1))
    static let reference = ReferenceBackend()
}

/// Runs `body` on the reference backend and on `backend` and expects the same outcome.
func expectAgreement(
    _ label: String, on backend: any KernelBackend = Backends.cpu, tolerance: Tolerance? = nil,
    sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () throws -> [Tensor]
) {
    expectBackendAgreement(
        label, backend: backend, reference: Backends.reference, tolerance: tolerance, sourceLocation: sourceLocation, body)
}

/// Same as `expectAgreement` for a single tensor.
func expectAgreement(
    _ label: String, on backend: any KernelBackend = Backends.cpu, tolerance: Tolerance? = nil,
    sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () throws -> Tensor
) {
    expectAgreement(label, on: backend, tolerance: tolerance, sourceLocation: sourceLocation) { [try body()] }
}

/// Test inputs: seeded values, laid out in several ways that all read as the same logical shape.
enum Inputs {
    /// Seeded values, computed on the reference backend so every backend sees the same bits.
    static func values(_ shape: Shape, _ dtype: DType = .float32, seed: UInt64 = 1) throws -> Tensor {
        try KernelBackends.using(Backends.reference) { try Tensor.testValues(shape, dtype: dtype, seed: seed) }
    }

    /// Float values that include the awkward ones: NaN, ±∞, ±0, halfway cases for rounding,
    /// large magnitudes (unless `huge` is false: sums of ±1e30 depend on the order of addition);
    /// padded with seeded values to `count`.
    static func specials(_ count: Int, _ dtype: DType = .float32, seed: UInt64 = 7, huge: Bool = true) throws -> Tensor {
        var v: [Double] = [.nan, .infinity, -.infinity, 0, -0.0, 0.5, 1.5, 2.5, -0.5, -2.5, 1e30, -1e30, 1e-30, 60, -60, 25, -25]
        if !huge { v.removeAll { Swift.abs($0) == 1e30 } }
        var rng = SeededRandom(seed: seed)
        while v.count < count { v.append((rng.nextDouble() - 0.5) * 8) }
        let t = try Tensor(Array(v.prefix(count)), shape: [count])
        return try KernelBackends.using(Backends.reference) { try t.cast(to: dtype) }
    }

    /// The same logical tensor as a dense tensor, a transposed view, a stepped slice, an offset
    /// slice and a reversed view (negative stride).
    static func layouts(_ shape: Shape, _ dtype: DType = .float32, seed: UInt64 = 1) throws -> [(String, Tensor)] {
        let dense = try values(shape, dtype, seed: seed)
        var result: [(String, Tensor)] = [("dense", dense)]
        let r = shape.rank
        if r >= 2 {
            var swapped = shape.dims
            swapped.swapAt(r - 1, r - 2)
            result.append(("transposed", try values(Shape(swapped), dtype, seed: seed).transposed()))
        }
        if r >= 1 {
            var wide = shape.dims
            wide[r - 1] = wide[r - 1] * 2
            result.append(("stepped", try values(Shape(wide), dtype, seed: seed).sliced(axis: r - 1, step: 2)))
            var longer = shape.dims
            longer[0] += 1
            result.append(("offset", try values(Shape(longer), dtype, seed: seed).sliced(axis: 0, start: 1)))
            result.append(("reversed", try values(shape, dtype, seed: seed).sliced(axis: r - 1, step: -1)))
        }
        return result
    }
}

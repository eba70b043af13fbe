import DeepseekCore
import DeepseekKernelsOpenCL
import DeepseekTensor
import DeepseekTestSupport
import Testing

/// One backend for every test, created on first use, so each OpenCL program is compiled once
/// per test run (PoCL takes seconds per program cold, then serves it from its disk cache).
enum Shared {
    static let result = Result { try OpenCLBackend() }
    static let reference = ReferenceBackend()

    static func backend() throws -> OpenCLBackend { try result.get() }
}

/// Runs `body` on the reference backend and on the OpenCL backend and expects the same outcome.
func expectAgreement(
    _ label: String, tolerance: Tolerance? = nil, on backend: OpenCLBackend? = nil,
    sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () throws -> [Tensor]
) throws {
    let opencl = try backend ?? Shared.backend()
    expectBackendAgreement(
        label, backend: opencl, reference: Shared.reference, tolerance: tolerance, sourceLocation: sourceLocation, body)
}

/// Same as `expectAgreement` for a single tensor.
func expectAgreement(
    _ label: String, tolerance: Tolerance? = nil, on backend: OpenCLBackend? = nil,
    sourceLocation: Testing.SourceLocation = #_sourceLocation, _ body: () throws -> Tensor
) throws {
    try expectAgreement(label, tolerance: tolerance, on: backend, sourceLocation: sourceLocation) { [try body()] }
}

/// Test inputs: seeded values, laid out in several ways that all read as the same logical shape.
enum Inputs {
    /// Seeded values in [-2, 2), made on the reference backend so both backends see the same bits.
    static func values(_ shape: Shape, _ dtype: DType = .float32, seed: UInt64 = 1) throws -> Tensor {
        try KernelBackends.using(Shared.reference) { try Tensor.testValues(shape, dtype: dtype, seed: seed) }
    }

    /// Values including NaN, ±∞, ±0, rounding ties and large magnitudes, padded with seeded values.
    static func specials(_ count: Int, _ dtype: DType = .float32, seed: UInt64 = 7) throws -> Tensor {
        var v: [Double] = [.nan, .infinity, -.infinity, 0, -0.0, 0.5, 1.5, 2.5, -0.5, -2.5, 1e30, -1e30, 1e-30, 60, -60, 25, -25]
        var rng = SeededRandom(seed: seed)
        while v.count < count { v.append((rng.nextDouble() - 0.5) * 8) }
        let t = try Tensor(Array(v.prefix(count)), shape: [count])
        return try KernelBackends.using(Shared.reference) { try t.cast(to: dtype) }
    }

    /// The same logical tensor dense, transposed, stepped, offset and reversed (negative stride).
    static func layouts(_ shape: Shape, _ dtype: DType = .float32, seed: UInt64 = 1) throws -> [(String, Tensor)] {
        var result: [(String, Tensor)] = [("dense", try values(shape, dtype, seed: seed))]
        let r = shape.rank
        if r >= 2 {
            var swapped = shape.dims
            swapped.swapAt(r - 1, r - 2)
            result.append(("transposed", try values(Shape(swapped), dtype, seed: seed).transposed()))
        }
        if r >= 1 {
            var wide = shape.dims
            wide[r - 1] *= 2
            result.append(("stepped", try values(Shape(wide), dtype, seed: seed).sliced(axis: r - 1, step: 2)))
            var longer = shape.dims
            longer[0] += 1
            result.append(("offset", try values(Shape(longer), dtype, seed: seed).sliced(axis: 0, start: 1)))
            result.append(("reversed", try values(shape, dtype, seed: seed).sliced(axis: r - 1, step: -1)))
        }
        return result
    }
}

extension Tolerance {
    /// For sums of `terms` products of values in [-2, 2): float32 rounding grows with the count.
    static func accumulation(_ dtype: DType, terms: Int) -> Tolerance {
        let base = Tolerance.for(dtype)
        guard dtype == .float32 else { return base }
        return Tolerance(absolute: 4e-7 * Double(max(terms, 16)), relative: 1e-5)
    }
}

import DeepseekCore
public import DeepseekTensor
public import Testing

/// Absolute and relative tolerances for comparing tensors of one dtype.
public struct Tolerance: Sendable {
    public var absolute: Double
    public var relative: Double

    public init(absolute: Double, relative: Double) {
        self.absolute = absolute
        self.relative = relative
    }

    /// The default tolerance for results computed in `dtype` (exact for integers and bool).
    public static func `for`(_ dtype: DType) -> Tolerance {
        switch dtype {
        case .float64: Tolerance(absolute: 1e-12, relative: 1e-10)
        case .float32: Tolerance(absolute: 1e-5, relative: 1e-5)
        case .float16: Tolerance(absolute: 2e-3, relative: 2e-3)
        case .bfloat16: Tolerance(absolute: 1.6e-2, relative: 1.6e-2)
        case .int8, .int32, .int64, .bool: Tolerance(absolute: 0, relative: 0)
        }
    }
}

/// Describes the first element where `actual` and `expected` differ beyond `tolerance`, or `nil`
/// when they agree (same shape and dtype; NaN matches NaN).
public func tensorMismatch(_ actual: Tensor, _ expected: Tensor, tolerance: Tolerance? = nil) -> String? {
    guard actual.shape == expected.shape else {
        return "shape \(actual.shape) differs from expected \(expected.shape)"
    }
    guard actual.dtype == expected.dtype else {
        return "dtype \(actual.dtype) differs from expected \(expected.dtype)"
    }
    let tol = tolerance ?? .for(actual.dtype)
    do {
        if actual.dtype.isInteger {
            let a = try actual.scalars(as: Int64.self)
            let e = try expected.scalars(as: Int64.self)
            if let i = a.indices.first(where: { a[$0] != e[$0] }) {
                return "element \(i): \(a[i]) ≠ expected \(e[i])"
            }
            return nil
        }
        let a = try actual.scalarsAsDouble()
        let e = try expected.scalarsAsDouble()
        for i in a.indices {
            if a[i].isNaN && e[i].isNaN { continue }
            if a[i] == e[i] { continue }
            let diff = Swift.abs(a[i] - e[i])
            if !(diff <= tol.absolute + tol.relative * Swift.abs(e[i])) {
                return "element \(i): \(a[i]) vs expected \(e[i]) (|diff| \(diff) > \(tol.absolute) + \(tol.relative)·|expected|)"
            }
        }
        return nil
    } catch {
        return "could not read values: \(error)"
    }
}

/// Records a test issue when `actual` and `expected` differ beyond `tolerance`.
public func expectClose(
    _ actual: Tensor, _ expected: Tensor, tolerance: Tolerance? = nil, _ context: String = "",
    sourceLocation: Testing.SourceLocation = #_sourceLocation
) {
    if let mismatch = tensorMismatch(actual, expected, tolerance: tolerance) {
        Issue.record("\(context.isEmpty ? "" : context + ": ")\(mismatch)", sourceLocation: sourceLocation)
    }
}

extension Tensor {
    /// Seeded values in [-2, 2) (or small integers / random bools) for kernel tests.
    public static func testValues(_ shape: Shape, dtype: DType = .float32, seed: UInt64 = 1) throws -> Tensor {
        var rng = SeededRandom(seed: seed)
        switch dtype {
        case .bool:
            return try Tensor.uniform(shape, dtype: .float32, rng: &rng).greater(Tensor(scalar: Float(0.5)))
        case .int8, .int32, .int64:
            return try Tensor.uniform(shape, low: -20, high: 20, dtype: .float32, rng: &rng).floor().cast(to: dtype)
        default:
            return try Tensor.uniform(shape, low: -2, high: 2, dtype: dtype, rng: &rng)
        }
    }
}

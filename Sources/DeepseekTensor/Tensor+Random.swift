public import DeepseekCore

/// How an initialiser scales with the layer's fan (PyTorch's `mode`).
public enum FanMode: Sendable {
    case fanIn, fanOut
}

extension Tensor {
    /// Uniform samples in `[low, high)`.
    public static func uniform(
        _ shape: Shape, low: Double = 0, high: Double = 1, dtype: DType = .float32, rng: inout SeededRandom
    ) throws -> Tensor {
        guard low <= high else { throw TensorError(.invalidArgument, "uniform: low \(low) is above high \(high)") }
        var t = try empty(shape, dtype: dtype, op: "uniform")
        let span = high - low
        t.withMutableElements { count, store in
            for i in 0..<count { store(i, low + span * rng.nextDouble()) }
        }
        return t
    }

    /// Normal samples with the given mean and standard deviation.
    public static func normal(
        _ shape: Shape, mean: Double = 0, std: Double = 1, dtype: DType = .float32, rng: inout SeededRandom
    ) throws -> Tensor {
        guard std >= 0 else { throw TensorError(.invalidArgument, "normal: std must be ≥ 0, got \(std)") }
        var t = try empty(shape, dtype: dtype, op: "normal")
        t.withMutableElements { count, store in
            for i in 0..<count { store(i, mean + std * rng.nextNormal()) }
        }
        return t
    }

    /// Fan-in and fan-out of a weight shape: `[out, in]` or `[out, in, k…]`.
    static func fans(_ shape: Shape, op: String) throws -> (fanIn: Int, fanOut: Int) {
        guard shape.rank >= 2 else {
            throw TensorError(.shapeMismatch, "\(op): needs a weight of rank ≥ 2 ([out, in, …]), got \(shape)")
        }
        let receptive = shape.dims.dropFirst(2).reduce(1, *)
        return (shape[1] * receptive, shape[0] * receptive)
    }

    /// Kaiming (He) uniform initialisation for ReLU-family layers: bound `gain·sqrt(3/fan)`.
    public static func kaimingUniform(
        _ shape: Shape, mode: FanMode = .fanIn, gain: Double = 2.0.squareRoot(), dtype: DType = .float32,
        rng: inout SeededRandom
    ) throws -> Tensor {
        let f = try fans(shape, op: "kaimingUniform")
        let bound = gain * (3.0 / Double(mode == .fanIn ? f.fanIn : f.fanOut)).squareRoot()
        return try uniform(shape, low: -bound, high: bound, dtype: dtype, rng: &rng)
    }

    /// Kaiming (He) normal initialisation: std `gain/sqrt(fan)`.
    public static func kaimingNormal(
        _ shape: Shape, mode: FanMode = .fanIn, gain: Double = 2.0.squareRoot(), dtype: DType = .float32,
        rng: inout SeededRandom
    ) throws -> Tensor {
        let f = try fans(shape, op: "kaimingNormal")
        let std = gain / Double(mode == .fanIn ? f.fanIn : f.fanOut).squareRoot()
        return try normal(shape, std: std, dtype: dtype, rng: &rng)
    }

    /// Xavier (Glorot) uniform initialisation: bound `gain·sqrt(6/(fanIn+fanOut))`.
    public static func xavierUniform(
        _ shape: Shape, gain: Double = 1, dtype: DType = .float32, rng: inout SeededRandom
    ) throws -> Tensor {
        let f = try fans(shape, op: "xavierUniform")
        let bound = gain * (6.0 / Double(f.fanIn + f.fanOut)).squareRoot()
        return try uniform(shape, low: -bound, high: bound, dtype: dtype, rng: &rng)
    }

    /// Xavier (Glorot) normal initialisation: std `gain·sqrt(2/(fanIn+fanOut))`.
    public static func xavierNormal(
        _ shape: Shape, gain: Double = 1, dtype: DType = .float32, rng: inout SeededRandom
    ) throws -> Tensor {
        let f = try fans(shape, op: "xavierNormal")
        return try normal(shape, std: gain * (2.0 / Double(f.fanIn + f.fanOut)).squareRoot(), dtype: dtype, rng: &rng)
    }

    /// `0, 1, …, count-1` as a 1-D tensor.
    public static func arange(_ count: Int, dtype: DType = .int64) throws -> Tensor {
        var t = try empty([count], dtype: dtype, op: "arange")
        t.withMutableElements { n, store in for i in 0..<n { store(i, Double(i)) } }
        return t
    }
}

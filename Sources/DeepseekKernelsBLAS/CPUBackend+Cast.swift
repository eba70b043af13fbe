public import DeepseekTensor

/// An element type a cast reads, with the two views the reference rules need: the exact integer
/// (for integer-to-integer casts) and the `Double` value (for everything else).
protocol CastSource {
    static var isIntegral: Bool { get }
    var castInteger: Int64 { get }
    var castDouble: Double { get }
}

/// An element type a cast writes, with the reference rounding and saturation rules.
protocol CastDestination {
    static var isInteger: Bool { get }
    init(castInteger: Int64)
    init(castDouble: Double)
}

extension Float: CastSource, CastDestination {
    static var isIntegral: Bool { false }
    static var isInteger: Bool { false }
    var castInteger: Int64 { Int64(tensorValue: Double(self)) }
    var castDouble: Double { Double(self) }
    init(castInteger v: Int64) { self = Float(Double(v)) }  // via Double, like the reference
    init(castDouble v: Double) { self = Float(v) }
}

extension Double: CastSource, CastDestination {
    static var isIntegral: Bool { false }
    static var isInteger: Bool { false }
    var castInteger: Int64 { Int64(tensorValue: self) }
    var castDouble: Double { self }
    init(castInteger v: Int64) { self = Double(v) }
    init(castDouble v: Double) { self = v }
}

extension Int8: CastSource, CastDestination {
    static var isIntegral: Bool { true }
    static var isInteger: Bool { true }
    var castInteger: Int64 { Int64(self) }
    var castDouble: Double { Double(self) }
    init(castInteger v: Int64) { self = Int8(truncatingIfNeeded: v) }
    init(castDouble v: Double) { self = Int8(tensorValue: v) }
}

extension Int32: CastSource, CastDestination {
    static var isIntegral: Bool { true }
    static var isInteger: Bool { true }
    var castInteger: Int64 { Int64(self) }
    var castDouble: Double { Double(self) }
    init(castInteger v: Int64) { self = Int32(truncatingIfNeeded: v) }
    init(castDouble v: Double) { self = Int32(tensorValue: v) }
}

extension Int64: CastSource, CastDestination {
    static var isIntegral: Bool { true }
    static var isInteger: Bool { true }
    var castInteger: Int64 { self }
    var castDouble: Double { Double(self) }
    init(castInteger v: Int64) { self = v }
    init(castDouble v: Double) { self = Int64(tensorValue: v) }
}

/// `bool` storage: one byte, 0 or 1. Any non-zero value (and NaN) becomes 1.
struct BoolByte: CastSource, CastDestination {
    var raw: UInt8
    static var isIntegral: Bool { true }
    static var isInteger: Bool { false }
    var castInteger: Int64 { raw != 0 ? 1 : 0 }
    var castDouble: Double { raw != 0 ? 1 : 0 }
    init(castInteger v: Int64) { raw = v != 0 ? 1 : 0 }
    init(castDouble v: Double) { raw = v != 0 || v.isNaN ? 1 : 0 }
}

/// Runs a generic body for the Swift types of a pair of dtypes (half types excluded).
private protocol CastBody {
    func run<S: CastSource, D: CastDestination>(_ source: S.Type, _ destination: D.Type)
}

private func dispatchCast(_ from: DType, _ to: DType, _ body: some CastBody) {
    func destination<S: CastSource>(_ s: S.Type) {
        switch to {
        case .float32: body.run(s, Float.self)
        case .float64: body.run(s, Double.self)
        case .int8: body.run(s, Int8.self)
        case .int32: body.run(s, Int32.self)
        case .int64: body.run(s, Int64.self)
        case .bool: body.run(s, BoolByte.self)
        case .float16, .bfloat16: preconditionFailure("half types convert through float32")
        }
    }
    switch from {
    case .float32: destination(Float.self)
    case .float64: destination(Double.self)
    case .int8: destination(Int8.self)
    case .int32: destination(Int32.self)
    case .int64: destination(Int64.self)
    case .bool: destination(BoolByte.self)
    case .float16, .bfloat16: preconditionFailure("half types convert through float32")
    }
}

/// Converts a strided source into dense output, following the reference cast rules exactly.
private struct StridedCast: CastBody {
    let source: Tensor
    let destination: UnsafeMutableRawPointer
    let parallel: Parallel

    func run<S: CastSource, D: CastDestination>(_: S.Type, _: D.Type) {
        let src = source.elementPointer(as: S.self)
        let dst = destination.assumingMemoryBound(to: D.self)
        let walk = StridedWalk(shape: source.shape, strides: [source.strides])
        let s = walk.innerStride0
        parallel.forEachRange(walk.count, parts: parallel.parts(for: walk.count)) { range in
            walk.forEachRun(in: range) { o, _, _, start, n in
                let from = src + o
                let to = dst + start
                // The integer/Double choice is a constant per specialisation.
                if S.isIntegral && D.isInteger {
                    for i in 0..<n { to[i] = D(castInteger: from[i &* s].castInteger) }
                } else if s == 1 {
                    for i in 0..<n { to[i] = D(castDouble: from[i].castDouble) }
                } else {
                    for i in 0..<n { to[i] = D(castDouble: from[i &* s].castDouble) }
                }
            }
        }
    }
}

extension CPUBackend {
    public func cast(_ x: Tensor, to dtype: DType) throws -> Tensor {
        try x.requireData("cast")
        if x.dtype == dtype { return try copy(x) }
        let out = try Tensor.empty(x.shape, dtype: dtype, op: "cast")
        let count = out.elementCount
        if count == 0 { return out }
        let fromHalf = Self.isHalf(x.dtype)
        let toHalf = Self.isHalf(dtype)
        if !fromHalf && !toHalf {
            dispatchCast(x.dtype, dtype, StridedCast(source: x, destination: out.storage.baseAddress!, parallel: parallel))
            return out
        }
        // Through float32: half → float32 is exact, and the reference also rounds through Float
        // on the way to a half type (`Float16(Float(value))`).
        var wide: Tensor
        if fromHalf {
            wide = try Tensor.empty(x.shape, dtype: .float32, op: "cast")
            copyAsFloat32(x, into: wide.elementPointer(as: Float.self))
        } else {
            wide = x
        }
        if toHalf {
            if wide.dtype != .float32 || !wide.isContiguous {
                let dense = try Tensor.empty(x.shape, dtype: .float32, op: "cast")
                dispatchCast(wide.dtype, .float32, StridedCast(source: wide, destination: dense.storage.baseAddress!, parallel: parallel))
                wide = dense
            }
            narrow(wide.elementPointer(as: Float.self), into: out.elementPointer(as: UInt16.self), count: count, dtype: dtype)
            return out
        }
        dispatchCast(.float32, dtype, StridedCast(source: wide, destination: out.storage.baseAddress!, parallel: parallel))
        return out
    }
}

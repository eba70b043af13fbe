#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The executable specification of every kernel: naive loops in `Double` (exact `Int64` for
/// integer arithmetic), written to be obviously correct rather than fast.
///
/// Tests compare every other backend against it. Half-precision inputs are computed in double
/// precision and rounded once on store.
public struct ReferenceBackend: KernelBackend {
    public init() {}
    public var name: String { "reference" }

    /// Reads every element of `x` as a `Double` in row-major order.
    func values(_ x: Tensor) throws -> [Double] { try x.scalarsAsDouble() }

    /// A new contiguous tensor of `shape` and `dtype` holding `values`.
    func make(_ values: [Double], _ shape: Shape, _ dtype: DType) throws -> Tensor {
        let t = try Tensor.empty(shape, dtype: dtype)
        if let base = t.storage.baseAddress {
            for (i, v) in values.enumerated() { storeElement(base, i, dtype, v) }
        }
        return t
    }

    func integers(_ x: Tensor) throws -> [Int64] { try x.scalars(as: Int64.self) }

    func makeIntegers(_ values: [Int64], _ shape: Shape, _ dtype: DType) throws -> Tensor {
        let t = try Tensor.empty(shape, dtype: dtype)
        if let base = t.storage.baseAddress {
            for (i, v) in values.enumerated() { storeInteger(base, i, dtype, v) }
        }
        return t
    }

    public func copy(_ x: Tensor) throws -> Tensor {
        try x.requireData("copy")
        let out = try Tensor.empty(x.shape, dtype: x.dtype)
        let size = x.dtype.byteSize
        let src = UnsafeRawPointer(x.storage.baseAddress!)
        let dst = out.storage.baseAddress!
        var i = 0
        forEachOffset(shape: x.shape, strides: x.strides, offset: x.offset) { o in
            dst.advanced(by: i * size).copyMemory(from: src.advanced(by: o * size), byteCount: size)
            i += 1
        }
        return out
    }

    public func cast(_ x: Tensor, to dtype: DType) throws -> Tensor {
        if x.dtype.isInteger || x.dtype == .bool, dtype.isInteger {
            return try makeIntegers(integers(x), x.shape, dtype)
        }
        if dtype == .bool { return try make(values(x).map { $0 != 0 || $0.isNaN ? 1 : 0 }, x.shape, .bool) }
        return try make(values(x), x.shape, dtype)
    }

    public func unary(_ op: UnaryOp, _ x: Tensor) throws -> Tensor {
        if x.dtype.isInteger || x.dtype == .bool {
            let v = try integers(x)
            let r: [Int64]
            switch op {
            case .neg: r = v.map { 0 &- $0 }
            case .abs: r = v.map { $0 < 0 ? 0 &- $0 : $0 }
            case .relu: r = v.map { Swift.max($0, 0) }
            case .sign: r = v.map { $0 > 0 ? 1 : ($0 < 0 ? -1 : 0) }
            case .square: r = v.map { $0 &* $0 }
            case .logicalNot: r = v.map { $0 == 0 ? 1 : 0 }
            default: throw TensorError(.dtypeMismatch, "\(op): not defined for \(x.dtype)")
            }
            return try makeIntegers(r, x.shape, x.dtype)
        }
        let f = Self.unaryFunction(op)
        return try make(values(x).map(f), x.shape, x.dtype)
    }

    /// The scalar definition of each unary op, shared by the reference kernels and tests.
    public static func unaryFunction(_ op: UnaryOp) -> @Sendable (Double) -> Double {
        switch op {
        case .neg: { -$0 }
        case .abs: { Swift.abs($0) }
        case .exp: { Glibc.exp($0) }
        case .log: { Glibc.log($0) }
        case .sqrt: { $0.squareRoot() }
        case .rsqrt: { 1 / $0.squareRoot() }
        case .reciprocal: { 1 / $0 }
        case .square: { $0 * $0 }
        case .tanh: { Glibc.tanh($0) }
        case .sigmoid: { 1 / (1 + Glibc.exp(-$0)) }
        case .relu: { $0 > 0 ? $0 : ($0.isNaN ? $0 : 0) }
        case .silu: { $0 / (1 + Glibc.exp(-$0)) }
        case .softplus: { x in x > 20 ? x : Glibc.log1p(Glibc.exp(x)) }
        case .erf: { Glibc.erf($0) }
        case .geluExact: { x in 0.5 * x * (1 + Glibc.erf(x / 2.0.squareRoot())) }
        case .geluTanh: { x in 0.5 * x * (1 + Glibc.tanh((2.0 / Double.pi).squareRoot() * (x + 0.044715 * x * x * x))) }
        case .leakyRelu(let alpha): { x in x >= 0 ? x : Double(alpha) * x }
        case .elu(let alpha): { x in x >= 0 ? x : Double(alpha) * (Glibc.exp(x) - 1) }
        case .floor: { Glibc.floor($0) }
        case .ceil: { Glibc.ceil($0) }
        case .round: { $0.rounded(.toNearestOrEven) }
        case .sign: { $0 > 0 ? 1 : ($0 < 0 ? -1 : $0) }
        case .sin: { Glibc.sin($0) }
        case .cos: { Glibc.cos($0) }
        case .logicalNot: { $0 == 0 ? 1 : 0 }
        }
    }

    /// The scalar definition of each binary op on floating-point values.
    public static func binaryFunction(_ op: BinaryOp) -> @Sendable (Double, Double) -> Double {
        switch op {
        case .add: { $0 + $1 }
        case .sub: { $0 - $1 }
        case .mul: { $0 * $1 }
        case .div: { $0 / $1 }
        case .pow: { Glibc.pow($0, $1) }
        case .maximum: { a, b in a.isNaN || b.isNaN ? .nan : Swift.max(a, b) }
        case .minimum: { a, b in a.isNaN || b.isNaN ? .nan : Swift.min(a, b) }
        case .mod: { a, b in
            let r = Glibc.fmod(a, b)
            return r != 0 && ((r < 0) != (b < 0)) ? r + b : r
        }
        case .equal: { $0 == $1 ? 1 : 0 }
        case .notEqual: { $0 != $1 ? 1 : 0 }
        case .less: { $0 < $1 ? 1 : 0 }
        case .lessEqual: { $0 <= $1 ? 1 : 0 }
        case .greater: { $0 > $1 ? 1 : 0 }
        case .greaterEqual: { $0 >= $1 ? 1 : 0 }
        case .logicalAnd: { $0 != 0 && $1 != 0 ? 1 : 0 }
        case .logicalOr: { $0 != 0 || $1 != 0 ? 1 : 0 }
        case .logicalXor: { ($0 != 0) != ($1 != 0) ? 1 : 0 }
        }
    }

    static func integerBinary(_ op: BinaryOp, _ a: Int64, _ b: Int64) throws -> Int64 {
        switch op {
        case .add: return a &+ b
        case .sub: return a &- b
        case .mul: return a &* b
        case .div:
            guard b != 0 else { throw TensorError(.invalidArgument, "div: integer division by zero") }
            return a.dividedReportingOverflow(by: b).partialValue
        case .mod:
            guard b != 0 else { throw TensorError(.invalidArgument, "mod: integer modulo by zero") }
            let r = a.remainderReportingOverflow(dividingBy: b).partialValue
            return r != 0 && ((r < 0) != (b < 0)) ? r + b : r
        case .pow:
            guard b >= 0 else { return a == 1 ? 1 : (a == -1 ? (b % 2 == 0 ? 1 : -1) : 0) }
            var result: Int64 = 1
            var base = a
            var e = b
            while e > 0 {
                if e & 1 == 1 { result = result &* base }
                base = base &* base
                e >>= 1
            }
            return result
        case .maximum: return Swift.max(a, b)
        case .minimum: return Swift.min(a, b)
        case .equal: return a == b ? 1 : 0
        case .notEqual: return a != b ? 1 : 0
        case .less: return a < b ? 1 : 0
        case .lessEqual: return a <= b ? 1 : 0
        case .greater: return a > b ? 1 : 0
        case .greaterEqual: return a >= b ? 1 : 0
        case .logicalAnd: return a != 0 && b != 0 ? 1 : 0
        case .logicalOr: return a != 0 || b != 0 ? 1 : 0
        case .logicalXor: return (a != 0) != (b != 0) ? 1 : 0
        }
    }

    public func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        precondition(a.shape == b.shape && a.dtype == b.dtype, "binary: operands must be broadcast and promoted")
        let outType: DType = op.isComparison ? .bool : a.dtype
        if a.dtype.isInteger || a.dtype == .bool {
            let x = try integers(a)
            let y = try integers(b)
            var r = [Int64](repeating: 0, count: x.count)
            for i in 0..<x.count { r[i] = try Self.integerBinary(op, x[i], y[i]) }
            return try makeIntegers(r, a.shape, outType)
        }
        let f = Self.binaryFunction(op)
        let x = try values(a)
        let y = try values(b)
        return try make(zip(x, y).map(f), a.shape, outType)
    }

    public func select(_ condition: Tensor, _ a: Tensor, _ b: Tensor) throws -> Tensor {
        let c = try integers(condition)
        if a.dtype == .int64 {
            let x = try integers(a)
            let y = try integers(b)
            return try makeIntegers(c.indices.map { c[$0] != 0 ? x[$0] : y[$0] }, a.shape, a.dtype)
        }
        let x = try values(a)
        let y = try values(b)
        return try make(c.indices.map { c[$0] != 0 ? x[$0] : y[$0] }, a.shape, a.dtype)
    }

    /// Splits a shape into (outer, axis, inner) sizes around one axis.
    static func split(_ shape: Shape, at axis: Int) -> (outer: Int, n: Int, inner: Int) {
        (shape.dims[..<axis].reduce(1, *), shape[axis], shape.dims[(axis + 1)...].reduce(1, *))
    }

    public func reduce(_ op: ReduceOp, _ x: Tensor, axes: [Int], keepDims: Bool) throws -> Tensor {
        let rank = x.rank
        let reduced = Set(axes)
        let outDimsKept = x.shape.indices.map { reduced.contains($0) ? 1 : x.shape[$0] }
        let outShape = Shape(keepDims ? outDimsKept : x.shape.indices.filter { !reduced.contains($0) }.map { x.shape[$0] })
        let outCount = outDimsKept.reduce(1, *)
        let groupSize = axes.reduce(1) { $0 * x.shape[$1] }
        let outStrides = Shape(outDimsKept).contiguousStrides
        // Map every input element to its output slot.
        let inStrides = x.shape.contiguousStrides
        func slot(_ linear: Int) -> Int {
            var rest = linear
            var s = 0
            for axis in 0..<rank {
                let idx = rest / inStrides[axis]
                rest -= idx * inStrides[axis]
                if !reduced.contains(axis) { s += idx * outStrides[axis] }
            }
            return s
        }
        if x.dtype.isInteger && op != .mean {
            let v = try integers(x)
            var acc = [Int64](repeating: op == .prod ? 1 : 0, count: outCount)
            var seen = [Bool](repeating: false, count: outCount)
            for (i, e) in v.enumerated() {
                let s = slot(i)
                switch op {
                case .sum: acc[s] &+= e
                case .prod: acc[s] &*= e
                case .max: acc[s] = seen[s] ? Swift.max(acc[s], e) : e
                case .min: acc[s] = seen[s] ? Swift.min(acc[s], e) : e
                case .mean: break
                }
                seen[s] = true
            }
            return try makeIntegers(acc, outShape, x.dtype)
        }
        let v = try values(x)
        var acc = [Double](repeating: op == .prod ? 1 : 0, count: outCount)
        var seen = [Bool](repeating: false, count: outCount)
        for (i, e) in v.enumerated() {
            let s = slot(i)
            switch op {
            case .sum, .mean: acc[s] += e
            case .prod: acc[s] *= e
            case .max: acc[s] = !seen[s] || e.isNaN || e > acc[s] ? e : acc[s]
            case .min: acc[s] = !seen[s] || e.isNaN || e < acc[s] ? e : acc[s]
            }
            if acc[s].isNaN && (op == .max || op == .min) { acc[s] = .nan }
            seen[s] = true
        }
        if op == .mean {
            for i in acc.indices { acc[i] /= Double(groupSize) }
            if x.dtype.isInteger { acc = acc.map { $0.rounded(.towardZero) } }
        }
        return try make(acc, outShape, x.dtype)
    }

    public func argReduce(_ op: ArgReduceOp, _ x: Tensor, axis: Int, keepDims: Bool, selectLastIndex: Bool) throws -> Tensor {
        let v = try values(x)
        let (outer, n, inner) = Self.split(x.shape, at: axis)
        var result = [Int64](repeating: 0, count: outer * inner)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = v[o * n * inner + i]
                var bestIndex = 0
                // NaN counts as the extreme value (NumPy, ONNX): the first NaN wins.
                for k in 1..<Swift.max(n, 1) where !best.isNaN {
                    let e = v[(o * n + k) * inner + i]
                    let better = e.isNaN || (op == .argmax ? e > best : e < best)
                    let tie = e == best && selectLastIndex
                    if better || tie {
                        best = e
                        bestIndex = k
                    }
                }
                result[o * inner + i] = Int64(bestIndex)
            }
        }
        var dims = x.shape.dims
        if keepDims { dims[axis] = 1 } else { dims.remove(at: axis) }
        return try makeIntegers(result, Shape(dims), .int64)
    }

    public func matmul(_ a: Tensor, _ b: Tensor) throws -> Tensor {
        let r = a.rank
        let (m, k, n) = (a.shape[r - 2], a.shape[r - 1], b.shape[r - 1])
        let batch = a.shape.dims.dropLast(2).reduce(1, *)
        let outShape = Shape(Array(a.shape.dims.dropLast(2)) + [m, n])
        if a.dtype.isInteger {
            let x = try integers(a)
            let y = try integers(b)
            var out = [Int64](repeating: 0, count: batch * m * n)
            for bi in 0..<batch {
                for i in 0..<m {
                    for j in 0..<n {
                        var s: Int64 = 0
                        for p in 0..<k { s &+= x[(bi * m + i) * k + p] &* y[(bi * k + p) * n + j] }
                        out[(bi * m + i) * n + j] = s
                    }
                }
            }
            return try makeIntegers(out, outShape, a.dtype)
        }
        let x = try values(a)
        let y = try values(b)
        var out = [Double](repeating: 0, count: batch * m * n)
        for bi in 0..<batch {
            for i in 0..<m {
                for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += x[(bi * m + i) * k + p] * y[(bi * k + p) * n + j] }
                    out[(bi * m + i) * n + j] = s
                }
            }
        }
        return try make(out, outShape, a.dtype)
    }

    public func softmax(_ x: Tensor, axis: Int, log: Bool) throws -> Tensor {
        let v = try values(x)
        let (outer, n, inner) = Self.split(x.shape, at: axis)
        var out = [Double](repeating: 0, count: v.count)
        for o in 0..<outer {
            for i in 0..<inner {
                let at = { (k: Int) in (o * n + k) * inner + i }
                var mx = -Double.infinity
                for k in 0..<n { mx = Swift.max(mx, v[at(k)]) }
                var sum = 0.0
                for k in 0..<n { sum += Glibc.exp(v[at(k)] - mx) }
                for k in 0..<n {
                    out[at(k)] = log ? v[at(k)] - mx - Glibc.log(sum) : Glibc.exp(v[at(k)] - mx) / sum
                }
            }
        }
        return try make(out, x.shape, x.dtype)
    }

    public func layerNorm(_ x: Tensor, weight: Tensor?, bias: Tensor?, axis: Int, epsilon: Double) throws -> LayerNormResult {
        let v = try values(x)
        let groupSize = x.shape.dims[axis...].reduce(1, *)
        let groups = groupSize == 0 ? 0 : v.count / groupSize
        let w = try weight.map(values)
        let b = try bias.map(values)
        var out = [Double](repeating: 0, count: v.count)
        var means = [Double](repeating: 0, count: groups)
        var inv = [Double](repeating: 0, count: groups)
        for g in 0..<groups {
            let base = g * groupSize
            var mean = 0.0
            for j in 0..<groupSize { mean += v[base + j] }
            mean /= Double(groupSize)
            var variance = 0.0
            for j in 0..<groupSize { variance += (v[base + j] - mean) * (v[base + j] - mean) }
            variance /= Double(groupSize)
            let r = 1 / (variance + epsilon).squareRoot()
            means[g] = mean
            inv[g] = r
            for j in 0..<groupSize {
                var y = (v[base + j] - mean) * r
                if let w { y *= w[j] }
                if let b { y += b[j] }
                out[base + j] = y
            }
        }
        let statShape = Shape(x.shape.dims[..<axis] + Array(repeating: 1, count: x.rank - axis))
        let statType: DType = x.dtype == .float64 ? .float64 : .float32
        return LayerNormResult(
            output: try make(out, x.shape, x.dtype), mean: try make(means, statShape, statType),
            inverseStdDev: try make(inv, statShape, statType))
    }

    public func batchNorm(_ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Double) throws -> Tensor {
        let v = try values(x)
        let (s, b, m, va) = (try values(scale), try values(bias), try values(mean), try values(variance))
        let (outer, c, inner) = Self.split(x.shape, at: 1)
        var out = [Double](repeating: 0, count: v.count)
        for o in 0..<outer {
            for ch in 0..<c {
                let r = s[ch] / (va[ch] + epsilon).squareRoot()
                for i in 0..<inner {
                    let idx = (o * c + ch) * inner + i
                    out[idx] = (v[idx] - m[ch]) * r + b[ch]
                }
            }
        }
        return try make(out, x.shape, x.dtype)
    }

    public func conv2d(_ x: Tensor, weight: Tensor, bias: Tensor?, parameters p: Conv2dParameters) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, cg, kh, kw) = (weight.shape[0], weight.shape[1], weight.shape[2], weight.shape[3])
        let (oh, ow) = p.outputSize(height: h, width: w, kernelHeight: kh, kernelWidth: kw)
        let xv = try values(x)
        let wv = try values(weight)
        let bv = try bias.map(values)
        let og = o / p.groups
        var out = [Double](repeating: 0, count: n * o * oh * ow)
        for ni in 0..<n {
            for oc in 0..<o {
                let g = oc / og
                for y in 0..<oh {
                    for xo in 0..<ow {
                        var s = bv?[oc] ?? 0
                        for ci in 0..<cg {
                            let ic = g * cg + ci
                            for ky in 0..<kh {
                                let iy = y * p.stride.h - p.padding.top + ky * p.dilation.h
                                if iy < 0 || iy >= h { continue }
                                for kx in 0..<kw {
                                    let ix = xo * p.stride.w - p.padding.left + kx * p.dilation.w
                                    if ix < 0 || ix >= w { continue }
                                    s += xv[((ni * c + ic) * h + iy) * w + ix] * wv[((oc * cg + ci) * kh + ky) * kw + kx]
                                }
                            }
                        }
                        out[((ni * o + oc) * oh + y) * ow + xo] = s
                    }
                }
            }
        }
        return try make(out, [n, o, oh, ow], x.dtype)
    }

    public func pool2d(_ kind: PoolKind, _ x: Tensor, parameters p: Pool2dParameters) throws -> Tensor {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = p.outputSize(height: h, width: w)
        let xv = try values(x)
        var out = [Double](repeating: 0, count: n * c * oh * ow)
        for plane in 0..<(n * c) {
            for y in 0..<oh {
                for xo in 0..<ow {
                    var best = -Double.infinity
                    var sum = 0.0
                    var count = 0
                    var padded = 0
                    for ky in 0..<p.kernel.h {
                        let iy = y * p.stride.h - p.padding.top + ky * p.dilation.h
                        for kx in 0..<p.kernel.w {
                            let ix = xo * p.stride.w - p.padding.left + kx * p.dilation.w
                            // Positions in the padding count for countIncludePad; beyond it they never do.
                            if iy >= -p.padding.top && iy < h + p.padding.bottom && ix >= -p.padding.left
                                && ix < w + p.padding.right
                            {
                                padded += 1
                            }
                            if iy < 0 || iy >= h || ix < 0 || ix >= w { continue }
                            let e = xv[(plane * h + iy) * w + ix]
                            best = e > best || e.isNaN ? e : best
                            sum += e
                            count += 1
                        }
                    }
                    let divisor = p.countIncludePad ? padded : count
                    out[(plane * oh + y) * ow + xo] = kind == .max ? best : (divisor > 0 ? sum / Double(divisor) : 0)
                }
            }
        }
        return try make(out, [n, c, oh, ow], x.dtype)
    }

    public func gather(_ x: Tensor, indices: Tensor, axis: Int) throws -> Tensor {
        let source = try x.contiguous()
        let idx = try integers(indices)
        let (outer, n, inner) = Self.split(x.shape, at: axis)
        let outShape = Shape(Array(x.shape.dims[..<axis]) + indices.shape.dims + Array(x.shape.dims[(axis + 1)...]))
        let out = try Tensor.empty(outShape, dtype: x.dtype)
        let size = x.dtype.byteSize
        let src = UnsafeRawPointer(source.storage.baseAddress!).advanced(by: source.offset * size)
        let dst = out.storage.baseAddress!
        for o in 0..<outer {
            for (j, i) in idx.enumerated() {
                dst.advanced(by: ((o * idx.count + j) * inner) * size)
                    .copyMemory(from: src.advanced(by: ((o * n + Int(i)) * inner) * size), byteCount: inner * size)
            }
        }
        return out
    }

    public func concat(_ xs: [Tensor], axis: Int) throws -> Tensor {
        var dims = xs[0].shape.dims
        dims[axis] = xs.reduce(0) { $0 + $1.shape[axis] }
        let out = try Tensor.empty(Shape(dims), dtype: xs[0].dtype)
        let size = xs[0].dtype.byteSize
        let (outer, total, inner) = Self.split(out.shape, at: axis)
        let dst = out.storage.baseAddress!
        var start = 0
        for x in xs {
            let c = try x.contiguous()
            let n = x.shape[axis]
            let src = UnsafeRawPointer(c.storage.baseAddress!).advanced(by: c.offset * size)
            for o in 0..<outer {
                dst.advanced(by: ((o * total + start) * inner) * size)
                    .copyMemory(from: src.advanced(by: (o * n * inner) * size), byteCount: n * inner * size)
            }
            start += n
        }
        return out
    }
}

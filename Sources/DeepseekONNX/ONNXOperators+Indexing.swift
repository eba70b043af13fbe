import DeepseekTensor

extension ONNXOperators {
    static func registerIndexing(_ t: inout [String: ONNXOperator]) {
        t["Gather"] = { c in
            [try c.input(0).gather(indices: c.input(1), axis: c.int("axis", default: 0))]
        }

        t["GatherElements"] = { c in
            let x = try c.input(0)
            let indices = try c.input(1)
            guard indices.dtype.isInteger, indices.rank == x.rank else {
                throw c.invalid("indices must be an integer tensor of the data's rank \(x.rank), got \(indices.dtype) \(indices.shape)")
            }
            let a = try x.shape.normalizedAxis(try c.int("axis", default: 0), op: "GatherElements")
            // Turn each index into a position in the flattened data (axis `a` from the index,
            // the other axes from the element's own coordinates), then gather from the flat data.
            let n = x.shape[a]
            let strides = x.shape.contiguousStrides
            let indexStrides = indices.shape.contiguousStrides
            for axis in 0..<x.rank where axis != a && indices.shape[axis] > x.shape[axis] {
                throw c.invalid("indices \(indices.shape) exceed the data \(x.shape) on axis \(axis)")
            }
            var linear: [Int] = []
            linear.reserveCapacity(indices.elementCount)
            for (position, value) in try indices.scalars(as: Int64.self).enumerated() {
                guard value >= -Int64(n) && value < Int64(n) else {
                    throw c.invalid("index \(value) at position \(position) is out of range for axis \(a) of size \(n)")
                }
                var offset = 0
                var rest = position
                for axis in 0..<x.rank {
                    let coordinate = rest / indexStrides[axis]
                    rest %= indexStrides[axis]
                    offset += (axis == a ? Int(value < 0 ? value + Int64(n) : value) : coordinate) * strides[axis]
                }
                linear.append(offset)
            }
            let flat = try x.reshaped([x.elementCount])
            return [try flat.gather(indices: indexTensor(linear, shape: indices.shape), axis: 0)]
        }

        t["Trilu"] = { c in
            let x = try c.input(0)
            guard x.rank >= 2 else { throw c.invalid("input must have at least two axes, got \(x.shape)") }
            let k = try c.intValues(1)?.first ?? 0
            let upper = try c.int("upper", default: 1) != 0
            let rows = x.shape[x.rank - 2]
            let columns = x.shape[x.rank - 1]
            // Keep element (i, j) when j - i ≥ k (upper) or j - i ≤ k (lower).
            let row = try indexTensor(Array(0..<rows), shape: [rows, 1])
            let column = try indexTensor(Array(0..<columns), shape: [1, columns])
            let diagonal = try column - row
            let keep = upper ? try diagonal.greaterEqual(Tensor(scalar: Int64(k))) : try diagonal.lessEqual(Tensor(scalar: Int64(k)))
            return [try keep.where(x, x.scalarLike(0))]
        }
    }
}

import DeepseekTensor

extension ONNXOperators {
    static func registerConstruction(_ t: inout [String: ONNXOperator]) {
        t["OneHot"] = { c in
            let indices = try c.input(0)
            guard let depthValue = try c.scalarValue(1), depthValue.isFinite, depthValue >= 1, depthValue <= Double(1 << 24) else {
                throw c.invalid("depth must be a scalar in 1...16777216")
            }
            let depth = Int(depthValue)
            let values = try c.input(2)
            guard values.elementCount == 2 else { throw c.invalid("values must hold [off, on], got shape \(values.shape)") }
            let outRank = indices.rank + 1
            let axis = try c.int("axis", default: -1)
            let a = axis < 0 ? axis + outRank : axis
            guard a >= 0 && a < outRank else { throw c.invalid("axis \(axis) is out of range for output rank \(outRank)") }
            // Negative indices count from the end of the depth axis.
            let index = try indices.cast(to: .int64)
            let depthScalar = Tensor(scalar: Int64(depth))
            let wrapped = try index.less(Tensor(scalar: Int64(0))).where(index + depthScalar, index)
            var positionShape = [Int](repeating: 1, count: outRank)
            positionShape[a] = depth
            let positions = try indexTensor(Array(0..<depth), shape: Shape(positionShape))
            let hot = try wrapped.unsqueezed(axis: a).equal(positions)
            let flat = try values.reshaped([2])
            let off = try flat.sliced(axis: 0, start: 0, end: 1).reshaped([])
            let on = try flat.sliced(axis: 0, start: 1, end: 2).reshaped([])
            return [try hot.where(on, off)]
        }

        t["EyeLike"] = { c in
            let x = try c.input(0)
            guard x.rank == 2 else { throw c.invalid("input must be 2-D, got \(x.shape)") }
            var dtype = x.dtype
            if let code = try c.optionalInt("dtype") {
                dtype = try ONNXDataType(rawValue: Int32(truncatingIfNeeded: code)).requireDType("EyeLike dtype")
            }
            let k = try c.int("k", default: 0)
            let row = try indexTensor(Array(0..<x.shape[0]), shape: [x.shape[0], 1])
            let column = try indexTensor(Array(0..<x.shape[1]), shape: [1, x.shape[1]])
            return [try (column - row).equal(Tensor(scalar: Int64(k))).cast(to: dtype)]
        }

        t["Pad"] = { c in
            var x = try c.input(0)
            let mode = try c.string("mode", default: "constant")
            guard ["constant", "reflect", "edge"].contains(mode) else { throw c.unsupported("mode '\(mode)' not supported") }
            let pads: [Int]
            var value = 0.0
            var axes = Array(0..<x.rank)
            if c.opset < 11 {
                guard let p = c.ints("pads") ?? c.ints("paddings") else { throw c.invalid("attribute 'pads' is required") }
                pads = p
                value = Double(try c.float("value", default: 0))
            } else {
                guard let p = try c.intValues(1) else { throw c.invalid("input 1 (pads) is required") }
                pads = p
                value = try c.scalarValue(2) ?? 0
                if let given = try c.intValues(3) { axes = given }
            }
            guard pads.count == 2 * axes.count else { throw c.invalid("pads \(pads) must have \(2 * axes.count) entries") }
            for (i, axis) in axes.enumerated() {
                let a = try x.shape.normalizedAxis(axis, op: "Pad")
                var before = pads[i]
                var after = pads[i + axes.count]
                guard Swift.abs(before) <= 1 << 24, Swift.abs(after) <= 1 << 24 else { throw c.invalid("pads \(pads) are too large") }
                // Negative pads crop.
                if before < 0 || after < 0 {
                    x = try x.sliced(axis: a, start: Swift.max(-before, 0), end: x.shape[a] - Swift.max(-after, 0))
                    before = Swift.max(before, 0)
                    after = Swift.max(after, 0)
                }
                if before == 0 && after == 0 { continue }
                let n = x.shape[a]
                if mode == "constant" {
                    var sideShape = x.shape
                    sideShape[a] = before
                    let head = try Tensor.full(sideShape, value: value, dtype: x.dtype)
                    sideShape[a] = after
                    let tail = try Tensor.full(sideShape, value: value, dtype: x.dtype)
                    x = try Tensor.concat([head, x, tail], axis: a)
                    continue
                }
                guard n > 0 else { throw c.invalid("\(mode) padding needs a non-empty axis \(a) in \(x.shape)") }
                if mode == "reflect" && (before >= n || after >= n) {
                    throw c.unsupported("reflect padding wider than the axis (\(before), \(after) on size \(n)) not supported")
                }
                // Edge and reflect padding gather existing elements by position.
                let positions = (-before..<(n + after)).map { j -> Int in
                    if mode == "edge" { return Swift.min(Swift.max(j, 0), n - 1) }
                    if j < 0 { return -j }
                    return j >= n ? 2 * (n - 1) - j : j
                }
                x = try x.gather(indices: indexTensor(positions, shape: [positions.count]), axis: a)
            }
            return [x]
        }
    }
}

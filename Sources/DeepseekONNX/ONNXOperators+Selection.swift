import DeepseekTensor

extension ONNXOperators {
    static func registerSelection(_ t: inout [String: ONNXOperator]) {
        t["Compress"] = { c in
            var x = try c.input(0)
            let condition = try c.input(1)
            guard condition.rank == 1 else { throw c.invalid("condition must be 1-D, got \(condition.shape)") }
            var axis = 0
            if let given = try c.optionalInt("axis") {
                axis = try x.shape.normalizedAxis(given, op: "Compress")
            } else {
                x = try x.reshaped([x.elementCount])
            }
            // The kept positions are read from the condition and gathered by Deepseek.
            let flags = try condition.scalars(as: Int64.self)
            guard flags.count <= x.shape[axis] else {
                throw c.invalid("condition has \(flags.count) entries but axis \(axis) of \(x.shape) has \(x.shape[axis])")
            }
            let kept = flags.indices.filter { flags[$0] != 0 }
            return [try x.gather(indices: indexTensor(kept, shape: [kept.count]), axis: axis)]
        }

        t["GatherND"] = { c in
            let x = try c.input(0)
            let indices = try c.input(1)
            let batchDims = try c.int("batch_dims", default: 0)
            guard indices.dtype.isInteger, indices.rank >= 1 else { throw c.invalid("indices must be an integer tensor of rank ≥ 1") }
            let depth = indices.shape[indices.rank - 1]
            guard batchDims >= 0, batchDims < Swift.min(x.rank, indices.rank), batchDims + depth <= x.rank,
                Array(x.shape.dims[..<batchDims]) == Array(indices.shape.dims[..<batchDims])
            else {
                throw c.invalid("indices \(indices.shape) with batch_dims \(batchDims) do not fit data \(x.shape)")
            }
            // Flatten the batch and indexed axes of the data into one, turn each index tuple into
            // a position on that axis, and gather the remaining slices.
            let indexed = Array(x.shape.dims[batchDims..<(batchDims + depth)])
            let indexedCount = indexed.reduce(1, *)
            let sliceDims = Array(x.shape.dims[(batchDims + depth)...])
            let flat = try x.reshaped(Shape([x.shape.dims[..<(batchDims + depth)].reduce(1, *)] + sliceDims))
            let tuples = try indices.scalars(as: Int64.self)
            let tupleCount = depth == 0 ? indices.elementCount : tuples.count / depth
            let perBatch = tupleCount / Swift.max(1, indices.shape.dims[..<batchDims].reduce(1, *))
            var positions: [Int] = []
            positions.reserveCapacity(tupleCount)
            for tuple in 0..<tupleCount {
                var position = 0
                for j in 0..<depth {
                    let n = Int64(indexed[j])
                    var v = tuples[tuple * depth + j]
                    guard v >= -n && v < n else { throw c.invalid("index \(v) is out of range for axis size \(n)") }
                    if v < 0 { v += n }
                    position = position * indexed[j] + Int(v)
                }
                positions.append((perBatch == 0 ? 0 : tuple / perBatch) * indexedCount + position)
            }
            let outShape = Shape(Array(indices.shape.dims.dropLast()) + sliceDims)
            let gathered = try flat.gather(indices: indexTensor(positions, shape: [positions.count]), axis: 0)
            return [try gathered.reshaped(outShape)]
        }
    }
}

import DeepseekTensor

extension ONNXOperators {
    static func registerShapeOps(_ t: inout [String: ONNXOperator]) {
        t["Identity"] = { c in [try c.input(0)] }

        t["Reshape"] = { c in
            let x = try c.input(0)
            let requested = c.opset < 5 ? c.ints("shape") : try c.intValues(1)
            guard var dims = requested else { throw c.invalid("the target shape is required") }
            let allowZero = try c.int("allowzero", default: 0) != 0
            if !allowZero {
                // A 0 copies the input's size on that axis.
                for i in dims.indices where dims[i] == 0 {
                    guard i < x.rank else { throw c.invalid("shape \(dims) copies axis \(i) but the input \(x.shape) has rank \(x.rank)") }
                    dims[i] = x.shape[i]
                }
            }
            // Check the product here: a corrupt shape must give an error, not an overflow.
            var known = 1
            for d in dims where d != -1 {
                let (p, overflow) = known.multipliedReportingOverflow(by: d)
                guard d >= 0, !overflow else { throw c.invalid("shape \(dims) has a negative or oversized axis") }
                known = p
            }
            return [try x.reshaped(Shape(dims))]
        }

        t["Flatten"] = { c in
            let x = try c.input(0)
            let axis = try c.int("axis", default: 1)
            return [try flattenTo2D(x, axis: axis, c)]
        }

        t["Transpose"] = { c in
            let x = try c.input(0)
            let perm = c.ints("perm") ?? Array((0..<x.rank).reversed())
            return [try x.permuted(perm)]
        }

        t["Squeeze"] = { c in
            let x = try c.input(0)
            let axes = try c.axes(attributeBefore: 13, inputIndex: 1)
            return [try x.squeezed(axes: axes?.isEmpty == true ? nil : axes)]
        }

        t["Unsqueeze"] = { c in
            var x = try c.input(0)
            guard let axes = try c.axes(attributeBefore: 13, inputIndex: 1) else { throw c.invalid("axes are required") }
            // Axes refer to the output's rank; inserting them in ascending order keeps each valid.
            let outRank = x.rank + axes.count
            let normalized = axes.map { $0 < 0 ? $0 + outRank : $0 }
            guard normalized.allSatisfy({ $0 >= 0 && $0 < outRank }), Set(normalized).count == normalized.count else {
                throw c.invalid("axes \(axes) must be distinct and within \(-outRank)..<\(outRank)")
            }
            for a in normalized.sorted() { x = try x.unsqueezed(axis: a) }
            return [x]
        }

        t["Expand"] = { c in
            let x = try c.input(0)
            guard let dims = try c.intValues(1) else { throw c.invalid("the target shape is required") }
            // ONNX's Expand broadcasts both ways: the result has the broadcast of both shapes.
            let target = try Shape.broadcast(x.shape, Shape(dims), op: "Expand")
            return [try x.expanded(to: target)]
        }

        t["Concat"] = { c in
            guard let axis = try c.optionalInt("axis") else { throw c.invalid("attribute 'axis' is required") }
            return [try Tensor.concat(c.inputs.compactMap { $0 }, axis: axis)]
        }

        t["Split"] = { c in
            let x = try c.input(0)
            let axis = try c.int("axis", default: 0)
            let a = try x.shape.normalizedAxis(axis, op: "Split")
            let sizes: [Int]
            if let given = c.opset < 13 ? c.ints("split") : try c.intValues(1), !given.isEmpty {
                sizes = given
            } else {
                let parts = try c.optionalInt("num_outputs") ?? c.node.outputs.count
                guard parts >= 1 else { throw c.invalid("needs at least one output") }
                let chunk = (x.shape[a] + parts - 1) / parts
                sizes = (0..<parts).map { Swift.max(0, Swift.min(chunk, x.shape[a] - $0 * chunk)) }
            }
            guard sizes.count == c.node.outputs.count else {
                throw c.invalid("split sizes \(sizes) do not match the \(c.node.outputs.count) outputs")
            }
            return try x.split(sizes: sizes, axis: a)
        }

        t["Slice"] = { c in
            var x = try c.input(0)
            let starts: [Int]?
            let ends: [Int]?
            let axesGiven: [Int]?
            var steps: [Int]?
            if c.opset < 10 {
                (starts, ends, axesGiven) = (c.ints("starts"), c.ints("ends"), c.ints("axes"))
            } else {
                (starts, ends, axesGiven, steps) = (try c.intValues(1), try c.intValues(2), try c.intValues(3), try c.intValues(4))
            }
            guard let starts, let ends, starts.count == ends.count else { throw c.invalid("starts and ends are required and must have equal length") }
            let axes = axesGiven ?? Array(0..<starts.count)
            steps = steps ?? Array(repeating: 1, count: starts.count)
            guard axes.count == starts.count, steps?.count == starts.count else {
                throw c.invalid("axes \(axes) and steps \(steps ?? []) must match starts \(starts)")
            }
            for i in starts.indices {
                let a = try x.shape.normalizedAxis(axes[i], op: "Slice")
                // A step longer than the axis takes at most one element; bounding it keeps the
                // element-count arithmetic far from overflow.
                let bound = x.shape[a] + 1
                let step = Swift.min(Swift.max(steps![i], -bound), bound)
                x = try x.sliced(axis: a, start: starts[i], end: ends[i], step: step)
            }
            return [x]
        }

        t["Tile"] = { c in
            let x = try c.input(0)
            guard let repeats = try c.intValues(1), repeats.count == x.rank, repeats.allSatisfy({ $0 >= 0 }) else {
                throw c.invalid("repeats must list one non-negative count per axis of \(x.shape)")
            }
            // View [d0, d1, …] as [1, d0, 1, d1, …], broadcast the size-1 axes to the repeat
            // counts, and fold each pair back into one axis.
            let interleaved = Shape(x.shape.dims.flatMap { [1, $0] })
            let target = Shape(zip(repeats, x.shape.dims).flatMap { [$0, $1] })
            var folded = Shape([])
            for (r, d) in zip(repeats, x.shape.dims) {
                let (p, overflow) = r.multipliedReportingOverflow(by: d)
                guard !overflow else { throw c.invalid("repeats \(repeats) of \(x.shape) overflow") }
                folded.dims.append(p)
            }
            return [try x.reshaped(interleaved).expanded(to: target).reshaped(folded)]
        }

        t["DepthToSpace"] = { c in
            let x = try c.input(0)
            let bs = try c.int("blocksize", default: 0)
            guard x.rank == 4, bs >= 1, bs <= 1 << 15, x.shape[1] % (bs * bs) == 0 else {
                throw c.invalid("needs [N, C, H, W] with C divisible by blocksize² (blocksize \(bs)), got \(x.shape)")
            }
            let (n, ch, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            let crd = try c.string("mode", default: "DCR") == "CRD"
            let split: Shape = crd ? [n, ch / (bs * bs), bs, bs, h, w] : [n, bs, bs, ch / (bs * bs), h, w]
            let order = crd ? [0, 1, 4, 2, 5, 3] : [0, 3, 4, 1, 5, 2]
            return [try x.reshaped(split).permuted(order).reshaped([n, ch / (bs * bs), h * bs, w * bs])]
        }

        t["SpaceToDepth"] = { c in
            let x = try c.input(0)
            let bs = try c.int("blocksize", default: 0)
            guard x.rank == 4, bs >= 1, bs <= 1 << 15, x.shape[2] % bs == 0, x.shape[3] % bs == 0 else {
                throw c.invalid("needs [N, C, H, W] with H and W divisible by blocksize \(bs), got \(x.shape)")
            }
            let (n, ch, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
            return [
                try x.reshaped([n, ch, h / bs, bs, w / bs, bs]).permuted([0, 3, 5, 1, 2, 4])
                    .reshaped([n, ch * bs * bs, h / bs, w / bs])
            ]
        }

        // Metadata and constants: these build small host tensors from attributes or shapes.
        t["Constant"] = { c in
            guard let a = c.node.attributes.first else { throw c.invalid("needs one value attribute") }
            switch a.name {
            case "value":
                guard let proto = a.t else { throw c.invalid("attribute 'value' must be a tensor") }
                return [try proto.tensor()]
            case "value_float": return [Tensor(scalar: a.f ?? 0)]
            case "value_floats": return [Tensor(a.floats)]
            case "value_int": return [Tensor(scalar: a.i ?? 0)]
            case "value_ints": return [Tensor(a.ints)]
            default: throw c.unsupported("attribute '\(a.name)' not supported")
            }
        }

        t["Shape"] = { c in
            let x = try c.input(0)
            func clamp(_ v: Int) -> Int { Swift.min(Swift.max(v < 0 ? v + x.rank : v, 0), x.rank) }
            let start = clamp(try c.int("start", default: 0))
            let end = clamp(try c.int("end", default: x.rank))
            let dims = start < end ? Array(x.shape.dims[start..<end]) : []
            return [try indexTensor(dims, shape: [dims.count])]
        }

        t["Size"] = { c in [Tensor(scalar: Int64(try c.input(0).elementCount))] }

        t["ConstantOfShape"] = { c in
            guard let dims = try c.intValues(0) else { throw c.invalid("the shape input is required") }
            var value = Tensor(scalar: Float(0))
            if let proto = c.node.attribute("value")?.t {
                value = try proto.tensor()
                guard value.elementCount == 1 else { throw c.invalid("value must hold one element, got \(value.shape)") }
            }
            let shape = try Shape(dims).validated(for: "ConstantOfShape")
            return [try value.reshaped([]).expanded(to: shape).contiguous()]
        }
    }
}

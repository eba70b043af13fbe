import DeepseekTensor

extension GradientBuilder {
    /// The inverse permutation applied to the gradient.
    mutating func permuteGradient(axes: [Int], g: ValueID) throws -> ValueID {
        let rank = shape(g).rank
        var inverse = [Int](repeating: 0, count: rank)
        for (i, a) in axes.enumerated() { inverse[a < 0 ? a + rank : a] = i }
        return try permute(g, inverse)
    }

    /// Each input takes its slice of the gradient along the joined axis.
    mutating func concatGradient(axis: Int, inputs: [ValueID], g: ValueID, needs: [Bool]) throws -> [ValueID?] {
        let a = try shape(inputs[0]).normalizedAxis(axis, op: "concat")
        var start = 0
        var result: [ValueID?] = []
        for (i, x) in inputs.enumerated() {
            let size = shape(x)[a]
            result.append(needs[i] ? try slice(g, axis: a, start: start, end: start + size) : nil)
            start += size
        }
        return result
    }

    /// The gradient scattered back into zeros at the positions the slice took.
    ///
    /// Built from graph ops only: a negative step is undone by reversing the gradient, a step
    /// `s > 1` by interleaving `s − 1` zeros after each element (concatenate along a new axis and
    /// flatten), and the ends are padded with zeros by concatenation.
    mutating func sliceGradient(axis: Int, start: Int?, end: Int?, step: Int, x: ValueID, g: ValueID) throws -> ValueID? {
        let xs = shape(x)
        let a = try xs.normalizedAxis(axis, op: "slice")
        let n = xs[a]
        let count = shape(g)[a]
        if count == 0 || xs.elementCount == 0 { return nil }
        let layout = Self.sliceLayout(n: n, start: start, end: end, step: step)
        var g = g
        var first = layout.first
        let stride = Swift.abs(layout.step)
        if layout.step < 0 {
            g = try slice(g, axis: a, start: nil, end: nil, step: -1)
            first -= (count - 1) * stride
        }
        let span = (count - 1) * stride + 1
        if stride > 1 && count > 1 {
            var columns = shape(g).dims
            columns.insert(1, at: a + 1)
            var gaps = columns
            gaps[a + 1] = stride - 1
            let interleaved = try concat([reshape(g, Shape(columns)), zeros(TensorType(Shape(gaps), dtype(g)))], axis: a + 1)
            var flat = shape(g).dims
            flat[a] = count * stride
            g = try slice(reshape(interleaved, Shape(flat)), axis: a, start: 0, end: span)
        }
        var pieces: [ValueID] = []
        for (size, isGradient) in [(first, false), (span, true), (n - first - span, false)] where size > 0 {
            if isGradient {
                pieces.append(g)
            } else {
                var dims = shape(g).dims
                dims[a] = size
                pieces.append(try zeros(TensorType(Shape(dims), dtype(g))))
            }
        }
        return try concat(pieces, axis: a)
    }

    /// Where a slice starts, and its step after clamping, exactly as `Tensor.sliced` computes them.
    static func sliceLayout(n: Int, start: Int?, end: Int?, step: Int) -> (first: Int, step: Int) {
        let step = step > 0 ? Swift.min(step, n + 1) : Swift.max(step, -(n + 1))
        func clamp(_ v: Int, low: Int, high: Int) -> Int { Swift.min(Swift.max(v, low), high) }
        let first: Int
        if step > 0 {
            first = start.map { $0 < 0 ? Swift.max($0, -n) + n : $0 }.map { clamp($0, low: 0, high: n) } ?? 0
        } else {
            first = start.map { $0 < 0 ? Swift.max($0, -n - 1) + n : $0 }.map { clamp($0, low: -1, high: n - 1) } ?? n - 1
        }
        return (first, step)
    }

    /// Rows of the gradient added back into the rows of the table they were gathered from.
    mutating func gatherGradient(axis: Int, x: ValueID, indices: ValueID, g: ValueID) throws -> ValueID? {
        let xs = shape(x)
        let a = try xs.normalizedAxis(axis, op: "gather")
        return try emit(.custom(ScatterAdd(axis: a, size: xs[a])), [g, indices])
    }
}

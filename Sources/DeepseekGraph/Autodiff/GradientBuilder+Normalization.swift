import DeepseekTensor

extension GradientBuilder {
    /// Adds up gradient terms (they broadcast against each other).
    mutating func total(_ terms: [ValueID]) throws -> ValueID? {
        guard var result = terms.first else { return nil }
        for t in terms.dropFirst() { result = try add(result, t) }
        return result
    }

    /// The input gradient of normalising over `axes` with `xhat = (x − μ)·r`:
    /// r · (ĝ − mean(ĝ) − x̂ · mean(ĝ ⊙ x̂)), where ĝ is the gradient reaching `xhat`.
    private mutating func normalizedInputGradient(_ gxhat: ValueID, xhat: ValueID, r: ValueID, axes: [Int]) throws -> ValueID {
        let centred = try sub(sub(gxhat, mean(gxhat, axes: axes)), mul(xhat, mean(mul(gxhat, xhat), axes: axes)))
        return try mul(r, centred)
    }

    /// Layer normalisation, using the forward node's `mean` and `inverseStdDev` outputs; the
    /// statistics outputs themselves are differentiable too.
    mutating func layerNormGradient(axis: Int, epsilon: Double, node: Graph.Node, upstream: [ValueID?], needs: [Bool]) throws -> [ValueID?] {
        let x = node.inputs[0]
        let xs = shape(x)
        let dt = dtype(x)
        let a = try xs.normalizedAxis(axis, op: "layerNorm")
        let normAxes = Array(a..<xs.rank)
        let lead = Array(0..<a)
        let normalized = Shape(Array(xs.dims[a...]))
        let count = Double(Swift.max(normalized.elementCount, 1))
        let weight = node.inputs.count > 1 ? node.inputs[1] : nil
        let wantsWeight = weight != nil && needs[1]
        let wantsBias = node.inputs.count > 2 && needs[2]
        let gy = upstream[0]
        // r and x̂ = (x − μ)·r, built only when some term uses them.
        let usesXhat = (gy != nil && (wantsWeight || needs[0])) || (needs[0] && upstream[2] != nil)
        let r = usesXhat ? try cast(node.outputs[2], to: dt) : nil
        let xhat = try r.map { try mul(sub(x, cast(node.outputs[1], to: dt)), $0) }
        var result = [ValueID?](repeating: nil, count: node.inputs.count)
        if let gy, wantsBias { result[2] = try sum(gy, axes: lead, keepDims: false) }
        if let gy, let xhat, wantsWeight { result[1] = try sum(mul(gy, xhat), axes: lead, keepDims: false) }
        if needs[0] {
            var terms: [ValueID] = []
            if let gy, let xhat, let r {
                let gxhat = try weight.map { try mul(gy, reshape(cast($0, to: dt), normalized)) } ?? gy
                terms.append(try normalizedInputGradient(gxhat, xhat: xhat, r: r, axes: normAxes))
            }
            if let gm = upstream[1] {  // μ = mean(x)
                terms.append(try scale(cast(gm, to: dt), by: 1 / count))
            }
            if let gi = upstream[2], let xhat, let r {  // r = (var + ε)^(−1/2): ∂r/∂x = −r² · x̂ / n
                terms.append(try mul(scale(mul(cast(gi, to: dt), mul(r, r)), by: -1 / count), xhat))
            }
            result[0] = try total(terms)
        }
        return result
    }

    /// Inference batch normalisation: `(x − mean)·scale/√(variance + ε) + bias` per channel.
    mutating func batchNormGradient(epsilon: Double, inputs: [ValueID], g: ValueID, needs: [Bool]) throws -> [ValueID?] {
        let x = inputs[0]
        let (dt, axes, channelShape) = channelLayout(x)
        func channel(_ b: inout GradientBuilder, _ v: ValueID) throws -> ValueID { try b.reshape(b.cast(v, to: dt), channelShape) }
        let scaleC = try channel(&self, inputs[1])
        let inv = try unary(.rsqrt, shift(channel(&self, inputs[4]), by: epsilon))
        var result = [ValueID?](repeating: nil, count: 5)
        if needs[0] { result[0] = try mul(g, mul(scaleC, inv)) }
        if needs[2] || needs[3] {
            let gSum = try sum(g, axes: axes)
            if needs[2] { result[2] = gSum }
            if needs[3] { result[3] = try neg(mul(gSum, mul(scaleC, inv))) }
        }
        if needs[1] || needs[4] {
            let gCentred = try sum(mul(g, sub(x, channel(&self, inputs[3]))), axes: axes)
            if needs[1] { result[1] = try mul(gCentred, inv) }
            if needs[4] {  // ∂/∂v (v + ε)^(−1/2) = −½ · inv³
                let inv3 = try mul(inv, unary(.square, inv))
                result[4] = try mul(scale(gCentred, by: -0.5), mul(scaleC, inv3))
            }
        }
        return result
    }

    /// Training batch normalisation with the batch statistics it outputs (mean and biased
    /// variance per channel), which are differentiable too.
    mutating func batchNormTrainingGradient(epsilon: Double, node: Graph.Node, upstream: [ValueID?], needs: [Bool]) throws -> [ValueID?] {
        let x = node.inputs[0]
        let (dt, axes, channelShape) = channelLayout(x)
        let count = Double(Swift.max(shape(x).elementCount / Swift.max(shape(x)[1], 1), 1))
        let gy = upstream[0]
        let usesXhat = gy != nil && (needs[0] || needs[1])
        let usesCentred = usesXhat || (needs[0] && upstream[2] != nil)
        let centredX = usesCentred ? try sub(x, reshape(node.outputs[1], channelShape)) : nil
        let inv = usesXhat ? try unary(.rsqrt, shift(reshape(node.outputs[2], channelShape), by: epsilon)) : nil
        let xhat = try centredX.flatMap { c in try inv.map { try mul(c, $0) } }
        var result = [ValueID?](repeating: nil, count: 3)
        if let gy, needs[2] { result[2] = try sum(gy, axes: axes) }
        if let gy, let xhat, needs[1] { result[1] = try sum(mul(gy, xhat), axes: axes) }
        if needs[0] {
            var terms: [ValueID] = []
            if let gy, let xhat, let inv {
                let gxhat = try mul(gy, reshape(cast(node.inputs[1], to: dt), channelShape))
                terms.append(try normalizedInputGradient(gxhat, xhat: xhat, r: inv, axes: axes))
            }
            if let gm = upstream[1] { terms.append(try scale(reshape(gm, channelShape), by: 1 / count)) }
            if let gv = upstream[2], let centredX {  // biased variance: ∂/∂x = 2(x − μ)/n
                terms.append(try mul(scale(reshape(gv, channelShape), by: 2 / count), centredX))
            }
            result[0] = try total(terms)
        }
        return result
    }

    /// The dtype of `x`, its non-channel axes and the `[1, C, 1, …]` shape per-channel values take.
    private func channelLayout(_ x: ValueID) -> (DType, [Int], Shape) {
        let xs = shape(x)
        let axes = [0] + Array(2..<xs.rank)
        let channelShape = Shape([1, xs[1]] + Array(repeating: 1, count: xs.rank - 2))
        return (dtype(x), axes, channelShape)
    }
}

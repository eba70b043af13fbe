import DeepseekTensor

extension GradientBuilder {
    /// Convolution gradients as matrix products, so the arithmetic runs on the device's matmul.
    ///
    /// With `G` groups, `Og = O/G` outputs and `Cg = C/G` inputs per group, `K = KH·KW` and
    /// `L = OH·OW` output positions, the gradient `g` is regrouped to `[G, Og, N·L]`; then
    /// `dW = g · im2col(x)ᵀ` (`[G, Og, Cg·K]`) and `dx = col2im(Wᵀ · g)`. Only the two layout
    /// kernels (`Im2col`, `Col2im`) are host loops.
    mutating func conv2dGradient(_ p: Conv2dParameters, inputs: [ValueID], g: ValueID, needs: [Bool]) throws -> [ValueID?] {
        let x = inputs[0]
        let w = inputs[1]
        let xs = shape(x)
        let ws = shape(w)
        let gs = shape(g)
        let (n, c, h, wd) = (xs[0], xs[1], xs[2], xs[3])
        let (o, kh, kw) = (ws[0], ws[2], ws[3])
        let groups = p.groups
        let (og, cg) = (o / groups, c / groups)
        let positions = gs[2] * gs[3]
        var result = [ValueID?](repeating: nil, count: inputs.count)
        if inputs.count > 2 && needs[2] {
            result[2] = try sum(g, axes: [0, 2, 3], keepDims: false)
        }
        guard needs[0] || needs[1] else { return result }
        // [N, O, OH, OW] → [N, G, Og, L] → [G, Og, N, L] → [G, Og, N·L]
        let grouped = try reshape(
            permute(reshape(g, [n, groups, og, positions]), [1, 2, 0, 3]), [groups, og, n * positions])
        if needs[1] {
            let columns = try emit(.custom(Im2col(p, kernel: (kh, kw))), [x])
            let dw = try matmul(grouped, transposeMatrices(columns))
            result[1] = try reshape(dw, ws)
        }
        if needs[0] {
            let weight = try cast(w, to: dtype(g))
            let wt = try transposeMatrices(reshape(weight, [groups, og, cg * kh * kw]))
            let columns = try matmul(wt, grouped)
            result[0] = try emit(.custom(Col2im(p, kernel: (kh, kw), height: h, width: wd)), [columns])
        }
        return result
    }

    /// Pooling gradients through the `Pool2dBackward` host kernel (max pooling reads the input
    /// to find each window's winner; average pooling needs only the input's size).
    mutating func pool2dGradient(_ kind: PoolKind, _ p: Pool2dParameters, x: ValueID, g: ValueID) throws -> ValueID? {
        let xs = shape(x)
        let op = Pool2dBackward(kind, p, height: xs[2], width: xs[3])
        return try emit(.custom(op), kind == .max ? [g, x] : [g])
    }
}

import DeepseekTensor

extension GradientBuilder {
    /// Convolution gradients as matrix products, so the arithmetic runs on the device's matmul.
    ///
    /// With `G` groups, `Og = O/G` outputs and `Cg = C/G` inputs per group, `K = KH·KW` and
    /// `L = OH·OW` output positions, the gradient `g` is regrouped to `[G, Og, N·L]`; then
    /// `dW = g · im2col(x)ᵀ` (`[G, Og, Cg·K]`) and `dx = col2im(Wᵀ · g)`. Only the two layout
    /// kernels (`Im2col`, `Col2im`) are host loops. Small convolutions use one product per image
    /// instead (see `perImageProductWork`); on the CPU, fused into `Conv2dWeightGradient` and
    /// `Conv2dInputGradient`, which keep each image's columns in cache.
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
        let patch = cg * kh * kw
        if groups == 1 && o * patch * positions <= Self.perImageProductWork && n * o * patch <= Self.perImageWeightGradientElements {
            // Small per-image products (LeNet's 6×25×784): one product per image, with the
            // gradient read in its own layout, beat one long product over every image — BLAS
            // tiles such a thin matrix poorly and cannot split its long inner dimension, and
            // the regrouped gradient would need a copy.
            if currentPin.kind == nil || currentPin.kind == .cpu {
                // On the CPU, one op per gradient unfolds each image into a buffer that stays in
                // cache rather than the whole batch's columns into memory.
                if needs[1] {
                    result[1] = try emit(.custom(Conv2dWeightGradient(p, kernel: (kh, kw))), [x, g])
                }
                if needs[0] {
                    result[0] = try emit(.custom(Conv2dInputGradient(p, height: h, width: wd)), [g, try cast(w, to: dtype(g))])
                }
                return result
            }
            let perImage = try reshape(g, [n, o, positions])
            if needs[1] {
                let columns = try emit(.custom(Im2col(p, kernel: (kh, kw), layout: .perImage)), [x])
                let dw = try sum(matmul(perImage, transposeMatrices(columns)), axes: [0], keepDims: false)
                result[1] = try reshape(dw, ws)
            }
            if needs[0] {
                let weight = try cast(w, to: dtype(g))
                let wt = try expand(transposeMatrices(reshape(weight, [1, o, patch])), to: [n, patch, o])
                let columns = try matmul(wt, perImage)
                result[0] = try emit(.custom(Col2im(p, kernel: (kh, kw), height: h, width: wd, layout: .perImage)), [columns])
            }
            return result
        }
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

    /// The most multiply-adds of one image's product (`O·Cg·KH·KW·OH·OW`) and the most elements
    /// of the per-image weight gradients (summed afterwards) for which a convolution's gradient
    /// is computed image by image.
    static let perImageProductWork = 1 << 20
    static let perImageWeightGradientElements = 1 << 20

    /// Pooling gradients through the `Pool2dBackward` host kernel (max pooling reads the input
    /// to find each window's winner; average pooling needs only the input's size).
    mutating func pool2dGradient(_ kind: PoolKind, _ p: Pool2dParameters, x: ValueID, g: ValueID) throws -> ValueID? {
        let xs = shape(x)
        let op = Pool2dBackward(kind, p, height: xs[2], width: xs[3])
        return try emit(.custom(op), kind == .max ? [g, x] : [g])
    }
}

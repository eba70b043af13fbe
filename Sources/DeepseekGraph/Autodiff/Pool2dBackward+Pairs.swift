// The gradient of 2×2 max pooling with stride 2 (LeNet's and most CNNs' pooling): each window's
// gradient goes to the element the forward kernel picked — the first largest, or the last NaN —
// and every other element of the window gets 0. Windows do not overlap, so each input element
// is written exactly once; rows and columns no window covers (an odd height or width) get 0.
// Together these write every element of the plane, which is why the output is not cleared first.

extension Pool2dBackward {
    /// Which tap of the window `(a, b | c, d)` (top row, then bottom row) the forward kernel
    /// picked: the last NaN if there is one, otherwise the first largest (an all −∞ window
    /// picks `a`).
    @inline(__always)
    static func winner<T: BinaryFloatingPoint>(_ a: T, _ b: T, _ c: T, _ d: T) -> Int {
        if d.isNaN { return 3 }
        if c.isNaN { return 2 }
        if b.isNaN { return 1 }
        if a.isNaN { return 0 }
        var (m, at) = (a, 0)
        if b > m { (m, at) = (b, 1) }
        if c > m { (m, at) = (c, 2) }
        return d > m ? 3 : at
    }

    /// One window's four gradients, given its winner.
    @inline(__always)
    static func route<T: BinaryFloatingPoint>(_ v: T, to at: Int, _ top: UnsafeMutablePointer<T>, _ bottom: UnsafeMutablePointer<T>) {
        top[0] = at == 0 ? v : 0
        top[1] = at == 1 ? v : 0
        bottom[0] = at == 2 ? v : 0
        bottom[1] = at == 3 ? v : 0
    }

    /// Clears what no window covers: the last column of each covered row pair when the width
    /// is odd, and the rows below the last window.
    static func clearUncovered<T: BinaryFloatingPoint>(_ dst: UnsafeMutablePointer<T>, height h: Int, width w: Int, _ oh: Int, _ ow: Int) {
        if 2 * ow < w {
            for y in 0..<(2 * oh) { (dst + y * w + 2 * ow).update(repeating: 0, count: w - 2 * ow) }
        }
        if 2 * oh < h { (dst + 2 * oh * w).update(repeating: 0, count: (h - 2 * oh) * w) }
    }

    /// One plane, any float type: a scalar loop.
    static func routePairs<T: BinaryFloatingPoint>(
        _ x: UnsafePointer<T>, _ upstream: UnsafePointer<T>, into dst: UnsafeMutablePointer<T>, height h: Int, width w: Int, _ oh: Int, _ ow: Int
    ) {
        for oy in 0..<oh {
            let top = x + 2 * oy * w
            let bottom = top + w
            let (outTop, outBottom) = (dst + 2 * oy * w, dst + (2 * oy + 1) * w)
            for ox in 0..<ow {
                let j = 2 * ox
                route(upstream[oy * ow + ox], to: winner(top[j], top[j + 1], bottom[j], bottom[j + 1]), outTop + j, outBottom + j)
            }
        }
        clearUncovered(dst, height: h, width: w, oh, ow)
    }

    /// One `Float` plane, four windows at a time with explicit SIMD: written as scalar code
    /// the compiler turns the per-window choice into unpredictable branches (about 12 ns a
    /// window against 1.4 ns here). The masks encode the same rule as `winner`.
    static func routePairs(
        _ x: UnsafePointer<Float>, _ upstream: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, height h: Int, width w: Int,
        _ oh: Int, _ ow: Int
    ) {
        let vectorEnd = ow & ~3
        let zero = SIMD4<Float>(repeating: 0)
        for oy in 0..<oh {
            let top = x + 2 &* oy &* w
            let bottom = top + w
            let (outTop, outBottom) = (dst + 2 &* oy &* w, dst + (2 &* oy &+ 1) &* w)
            let gradient = upstream + oy &* ow
            var ox = 0
            while ox < vectorEnd {
                let j = 2 &* ox
                let upper = UnsafeRawPointer(top + j).loadUnaligned(as: SIMD8<Float>.self)
                let lower = UnsafeRawPointer(bottom + j).loadUnaligned(as: SIMD8<Float>.self)
                let v = UnsafeRawPointer(gradient + ox).loadUnaligned(as: SIMD4<Float>.self)
                let (a, b, c, d) = (upper.evenHalf, upper.oddHalf, lower.evenHalf, lower.oddHalf)
                // Without NaNs: a later tap wins only when strictly larger than the best so far.
                let bWins = b .> a
                let best = a.replacing(with: b, where: bWins)
                let cWins = c .> best
                let dWins = d .> best.replacing(with: c, where: cWins)
                // With NaNs: the last NaN wins.
                let (aNaN, bNaN, cNaN, dNaN) = (a .!= a, b .!= b, c .!= c, d .!= d)
                let clean = .!(aNaN .| bNaN .| cNaN .| dNaN)
                let pd = dNaN .| (clean .& dWins)
                let pc = .!dNaN .& (cNaN .| (clean .& cWins .& .!dWins))
                let pb = .!dNaN .& .!cNaN .& (bNaN .| (clean .& bWins .& .!cWins .& .!dWins))
                let pa = .!(pd .| pc .| pb)
                let (ga, gb) = (zero.replacing(with: v, where: pa), zero.replacing(with: v, where: pb))
                let (gc, gd) = (zero.replacing(with: v, where: pc), zero.replacing(with: v, where: pd))
                // Re-interleaved lane by lane; the optimiser turns these into shuffles.
                let upperOut = SIMD8<Float>(ga[0], gb[0], ga[1], gb[1], ga[2], gb[2], ga[3], gb[3])
                let lowerOut = SIMD8<Float>(gc[0], gd[0], gc[1], gd[1], gc[2], gd[2], gc[3], gd[3])
                UnsafeMutableRawPointer(outTop + j).storeBytes(of: upperOut, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(outBottom + j).storeBytes(of: lowerOut, as: SIMD8<Float>.self)
                ox &+= 4
            }
            while ox < ow {
                let j = 2 &* ox
                route(gradient[ox], to: winner(top[j], top[j &+ 1], bottom[j], bottom[j &+ 1]), outTop + j, outBottom + j)
                ox &+= 1
            }
        }
        clearUncovered(dst, height: h, width: w, oh, ow)
    }
}

/// A blocked, packed GEMM in Swift: the fallback when OpenBLAS is missing or failed its check.
///
/// `C += A · B` for an `m×k` matrix A and a `k×n` matrix B given by arbitrary element strides,
/// into a dense `m×n` C with row stride `ldc`. The structure is the usual one for cache-blocked
/// GEMM: B is packed into `KC×NR` column panels that stay in L2, A into `MR×KC` row panels that
/// stay in L1, and a 4×8 register tile of `SIMD8` accumulators does the arithmetic. Row blocks of
/// C are split over the cores. It reaches a fraction of OpenBLAS (no FMA or wide vectors on the
/// baseline x86-64 target Swift compiles for), but it is correct for every layout, including
/// negative and zero strides, and needs no copies from the caller.
enum PortableGEMM {
    static let mr = 4
    static let nr = 8
    static let kc = 256
    static let mc = 64
    static let nc = 1024

    struct Operand<T> {
        let base: UnsafePointer<T>
        let rowStride: Int
        let colStride: Int
    }

    static func multiply<T: BinaryFloatingPoint & SIMDScalar>(
        m: Int, n: Int, k: Int, a: Operand<T>, b: Operand<T>, c: UnsafeMutablePointer<T>, ldc: Int, parallel: Parallel
    ) {
        if m == 0 || n == 0 || k == 0 { return }
        let packedB = UnsafeMutablePointer<T>.allocate(capacity: kc * ((Swift.min(n, nc) + nr - 1) / nr * nr))
        defer { packedB.deallocate() }
        var jc = 0
        while jc < n {
            let ncur = Swift.min(nc, n - jc)
            var pc = 0
            while pc < k {
                let kcur = Swift.min(kc, k - pc)
                packB(b, rows: pc..<(pc + kcur), cols: jc..<(jc + ncur), into: packedB)
                let rowBlocks = (m + mc - 1) / mc
                let flops = 2 * m * ncur * kcur
                let parts = parallel.parts(for: flops, grain: 1 << 21)
                let shared = UncheckedBox(packedB)
                parallel.forEachRange(rowBlocks, parts: parts) { blocks in
                    let packedA = UnsafeMutablePointer<T>.allocate(capacity: mc * kcur)
                    defer { packedA.deallocate() }
                    for block in blocks {
                        let ic = block * mc
                        let mcur = Swift.min(mc, m - ic)
                        packA(a, rows: ic..<(ic + mcur), cols: pc..<(pc + kcur), into: packedA)
                        macroKernel(
                            mcur, ncur, kcur, packedA, shared.value, c + ic * ldc + jc, ldc)
                    }
                }
                pc += kcur
            }
            jc += ncur
        }
    }

    /// Packs rows `rows` × columns `cols` of A into panels of `mr` rows, `mr` values per k step.
    private static func packA<T: BinaryFloatingPoint>(
        _ a: Operand<T>, rows: Range<Int>, cols: Range<Int>, into out: UnsafeMutablePointer<T>
    ) {
        var dst = out
        var r0 = rows.lowerBound
        while r0 < rows.upperBound {
            let h = Swift.min(mr, rows.upperBound - r0)
            for p in cols {
                for r in 0..<mr {
                    dst[r] = r < h ? a.base[(r0 + r) * a.rowStride + p * a.colStride] : 0
                }
                dst += mr
            }
            r0 += mr
        }
    }

    /// Packs rows `rows` × columns `cols` of B into panels of `nr` columns, `nr` values per k step.
    private static func packB<T: BinaryFloatingPoint>(
        _ b: Operand<T>, rows: Range<Int>, cols: Range<Int>, into out: UnsafeMutablePointer<T>
    ) {
        var dst = out
        var c0 = cols.lowerBound
        while c0 < cols.upperBound {
            let w = Swift.min(nr, cols.upperBound - c0)
            for p in rows {
                let row = b.base + p * b.rowStride
                if w == nr && b.colStride == 1 {
                    for j in 0..<nr { dst[j] = row[c0 + j] }
                } else {
                    for j in 0..<nr { dst[j] = j < w ? row[(c0 + j) * b.colStride] : 0 }
                }
                dst += nr
            }
            c0 += nr
        }
    }

    private static func macroKernel<T: BinaryFloatingPoint & SIMDScalar>(
        _ m: Int, _ n: Int, _ k: Int, _ packedA: UnsafeMutablePointer<T>, _ packedB: UnsafeMutablePointer<T>,
        _ c: UnsafeMutablePointer<T>, _ ldc: Int
    ) {
        var j0 = 0
        while j0 < n {
            let w = Swift.min(nr, n - j0)
            let bPanel = UnsafeRawPointer(packedB + (j0 / nr) * nr * k)
            var i0 = 0
            while i0 < m {
                let h = Swift.min(mr, m - i0)
                let aPanel = packedA + (i0 / mr) * mr * k
                var c0 = SIMD8<T>.zero
                var c1 = SIMD8<T>.zero
                var c2 = SIMD8<T>.zero
                var c3 = SIMD8<T>.zero
                for p in 0..<k {
                    let bv = bPanel.loadUnaligned(fromByteOffset: p * nr * MemoryLayout<T>.stride, as: SIMD8<T>.self)
                    let ap = aPanel + p * mr
                    c0 += ap[0] * bv
                    c1 += ap[1] * bv
                    c2 += ap[2] * bv
                    c3 += ap[3] * bv
                }
                @inline(__always) func accumulate(_ v: SIMD8<T>, _ r: Int) {
                    guard r < h else { return }
                    let row = c + (i0 + r) * ldc + j0
                    for j in 0..<w { row[j] += v[j] }
                }
                accumulate(c0, 0)
                accumulate(c1, 1)
                accumulate(c2, 2)
                accumulate(c3, 3)
                i0 += mr
            }
            j0 += nr
        }
    }
}

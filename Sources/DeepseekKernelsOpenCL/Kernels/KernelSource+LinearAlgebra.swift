extension KernelSource {
    /// Matrix products, convolution packing and pooling over `T`.
    ///
    /// The fast matrix product follows the packed-panel scheme of CPU BLAS libraries. `pack_a`
    /// copies each block of `TM` rows of A into a k-major panel (`TM` consecutive values per k),
    /// `pack_b` copies each block of `TN` columns of B into a k-major panel (`TN` consecutive
    /// values per k), both zero-padded. `gemm` then gives every work-item one `TM`×`TN` tile of C:
    /// `2·TM` vector accumulators that stay in registers while k runs, fed by two contiguous vector
    /// loads of B and `TM` broadcasts of A per step. Packing makes every inner-loop access
    /// sequential: on PoCL, direct access to row-major operands whose row pitch is a multiple of
    /// 4 KiB thrashes the cache sets and halves the speed at 1024³. Packing also absorbs strided,
    /// transposed and broadcast views, so no operand is copied to a contiguous layout first.
    ///
    /// `VW` is the vector width (16 floats or 8 doubles: one 512-bit register) and `TN = 2·VW`.
    static let linearAlgebra = prelude + #"""
        #ifndef VW
        #define VW 16
        #endif
        #define TM 8
        #define TN (2 * VW)
        #define VEC_(t, w) t##w
        #define VEC(t, w) VEC_(t, w)
        #define VT VEC(T, VW)
        #define VLOAD_(w) vload##w
        #define VLOAD(w) VLOAD_(w)
        #define VSTORE_(w) vstore##w
        #define VSTORE(w) VSTORE_(w)

        // Batch offsets: the batch shape sits in shape.s0...s4 (shape.s5 = 1), so row_offset
        // enumerates it.
        KERNEL void pack_a(__global const T* restrict A, long aoff, long rs, long cs, long8 bshape, long8 bstride,
                           int M, int K, __global T* restrict P, long pStride) {
            int blk = get_global_id(0);
            long bat = get_global_id(1);
            __global const T* a = A + aoff + row_offset(bat, bshape, bstride);
            __global T* p = P + bat * pStride + (long)blk * K * TM;
            for (int r = 0; r < TM; ++r) {
                int row = blk * TM + r;
                if (row < M) {
                    __global const T* ar = a + row * rs;
                    for (int k = 0; k < K; ++k) p[k * TM + r] = ar[k * cs];
                } else {
                    for (int k = 0; k < K; ++k) p[k * TM + r] = (T)0;
                }
            }
        }

        KERNEL void pack_b(__global const T* restrict B, long boff, long rs, long cs, long8 bshape, long8 bstride,
                           int K, int N, __global T* restrict P, long pStride) {
            int blk = get_global_id(0);
            long bat = get_global_id(1);
            int col0 = blk * TN;
            __global const T* b = B + boff + row_offset(bat, bshape, bstride) + col0 * cs;
            __global T* p = P + bat * pStride + (long)blk * K * TN;
            int w = min(TN, N - col0);
            for (int k = 0; k < K; ++k) {
                __global const T* br = b + k * rs;
                if (w == TN && cs == 1) {
                    VSTORE(VW)(VLOAD(VW)(0, br), 0, p + k * TN);
                    VSTORE(VW)(VLOAD(VW)(0, br + VW), 0, p + k * TN + VW);
                } else {
                    for (int j = 0; j < TN; ++j) p[k * TN + j] = j < w ? br[j * cs] : (T)0;
                }
            }
        }

        #define REP8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
        #define ACC_DECL(r) VT c##r##0 = (VT)0, c##r##1 = (VT)0;
        #define ACC_FMA(r) { VT a_ = (VT)pa[r]; c##r##0 = fma(a_, b0, c##r##0); c##r##1 = fma(a_, b1, c##r##1); }
        #define ACC_STORE(r) { VSTORE(VW)(c##r##0, 0, pc + (r) * ldc); VSTORE(VW)(c##r##1, 0, pc + (r) * ldc + VW); }
        #define ACC_STORE_EDGE(r) if (row0 + (r) < M) { \
            T tile_[TN]; VSTORE(VW)(c##r##0, 0, tile_); VSTORE(VW)(c##r##1, 0, tile_ + VW); \
            for (int j = 0; j < TN && col0 + j < N; ++j) pc[(r) * ldc + j] = tile_[j]; }

        // C[bat][row0 + r, col0 + j] for one TM x TN tile, from packed panels.
        KERNEL void gemm(__global const T* restrict PA, long paOff, long paStride, __global const T* restrict PB,
                         long pbStride, __global T* restrict C, long coff, long ldc, long sC, int M, int N, int K) {
            int mb = get_global_id(0), nb = get_global_id(1);
            long bat = get_global_id(2);
            int row0 = mb * TM, col0 = nb * TN;
            __global const T* pa = PA + paOff + bat * paStride + (long)mb * K * TM;
            __global const T* pb = PB + bat * pbStride + (long)nb * K * TN;
            __global T* pc = C + coff + bat * sC + (long)row0 * ldc + col0;
            REP8(ACC_DECL)
            for (int k = 0; k < K; ++k) {
                VT b0 = VLOAD(VW)(0, pb), b1 = VLOAD(VW)(0, pb + VW);
                REP8(ACC_FMA)
                pa += TM;
                pb += TN;
            }
            if (row0 + TM <= M && col0 + TN <= N) { REP8(ACC_STORE) } else { REP8(ACC_STORE_EDGE) }
        }

        // One output element per work-item, straight from the strided operands: the textbook
        // kernel the packed one is measured against. Work-groups of 16 along N let PoCL vectorise
        // across work-items, as it would for the usual GPU-style launch.
        __kernel __attribute__((reqd_work_group_size(16, 1, 1))) void gemm_naive(__global const T* restrict A, long aoff, long ars, long acs, long8 bshape, long8 abstride,
                               __global const T* restrict B, long boff, long brs, long bcs, long8 bbstride,
                               __global T* restrict C, int M, int N, int K) {
            int j = get_global_id(0), i = get_global_id(1);
            long bat = get_global_id(2);
            if (j >= N) return;
            __global const T* a = A + aoff + row_offset(bat, bshape, abstride) + i * ars;
            __global const T* b = B + boff + row_offset(bat, bshape, bbstride) + j * bcs;
            T s = 0;
            for (int k = 0; k < K; ++k) s += a[k * acs] * b[k * brs];
            C[(bat * M + i) * N + j] = s;
        }

        // The im2col matrix of one group of one image — rows k = (ci, ky, kx), columns l = (oy, ox)
        // — written directly in pack_b's panel layout, so convolution is a packed gemm.
        KERNEL void pack_conv(__global const T* restrict X, long xoff, int C, int H, int W, int cg, int kh, int kw,
                              int sh, int sw, int ph, int pw, int dh, int dw, int ow, int group, int K, int L,
                              __global T* restrict P, long pStride) {
            int blk = get_global_id(0);
            long img = get_global_id(1);
            int col0 = blk * TN;
            __global const T* x = X + xoff + img * C * H * W;
            __global T* p = P + img * pStride + (long)blk * K * TN;
            // The panel's columns split into runs that lie in one output row: within a run the
            // input column advances by the stride, so the inner loop needs no division.
            int valid = min(TN, L - col0);
            int runStart[TN + 1], runY[TN], runX[TN], runs = 0;
            for (int j = 0; j < valid;) {
                int l = col0 + j, ox = l % ow;
                runStart[runs] = j;
                runY[runs] = (l / ow) * sh - ph;
                runX[runs] = ox * sw - pw;
                runs += 1;
                j += min(valid - j, ow - ox);
            }
            runStart[runs] = valid;
            for (int k = 0; k < K; ++k) {
                int kx = k % kw, ky = (k / kw) % kh, ci = k / (kw * kh);
                __global const T* plane = x + (long)(group * cg + ci) * H * W;
                __global T* pk = p + k * TN;
                for (int r = 0; r < runs; ++r) {
                    int j0 = runStart[r], j1 = runStart[r + 1];
                    int iy = runY[r] + ky * dh;
                    if (iy < 0 || iy >= H) {
                        for (int j = j0; j < j1; ++j) pk[j] = (T)0;
                        continue;
                    }
                    __global const T* line = plane + iy * W;
                    int ix = runX[r] + kx * dw;  // input column of position j0
                    // Positions [a, b) of the run read inside the row; the rest is padding.
                    int a = ix >= 0 ? j0 : min(j1, j0 + (-ix + sw - 1) / sw);
                    int b = ix >= W ? j0 : min(j1, j0 + (W - ix + sw - 1) / sw);
                    b = max(a, b);
                    for (int j = j0; j < a; ++j) pk[j] = (T)0;
                    if (sw == 1) {
                        __global const T* src = line + ix - j0;
                        for (int j = a; j < b; ++j) pk[j] = src[j];
                    } else {
                        for (int j = a; j < b; ++j) pk[j] = line[ix + (j - j0) * sw];
                    }
                    for (int j = b; j < j1; ++j) pk[j] = (T)0;
                }
                for (int j = valid; j < TN; ++j) pk[j] = (T)0;
            }
        }

        KERNEL void add_bias(__global T* restrict out, __global const T* restrict bias, long channels, long inner,
                             long chunk) {
            CHUNK_BOUNDS(inner, chunk)
            long row = get_global_id(1);
            T v = bias[row % channels];
            __global T* q = out + row * inner;
            for (long i = c0; i < c1; ++i) q[i] += v;
        }

        // One output row of one plane per work-item, with the reference's window rules: positions
        // in the padding count toward countIncludePad; positions beyond it (ceil mode) never do.
        KERNEL void pool2d(__global T* restrict out, __global const T* restrict X, long xoff, int H, int W,
                           int oh, int ow, int kh, int kw, int sh, int sw, int pt, int pl, int pb, int pr,
                           int dh, int dw, int isMax, int countPad) {
            int y = get_global_id(0);
            long plane = get_global_id(1);
            __global const T* x = X + xoff + plane * H * W;
            __global T* q = out + (plane * oh + y) * ow;
            for (int xo = 0; xo < ow; ++xo) {
                T best = -INFINITY;
                ACC sum = 0;
                int count = 0, padded = 0;
                for (int ky = 0; ky < kh; ++ky) {
                    int iy = y * sh - pt + ky * dh;
                    for (int kx = 0; kx < kw; ++kx) {
                        int ix = xo * sw - pl + kx * dw;
                        if (iy >= -pt && iy < H + pb && ix >= -pl && ix < W + pr) padded += 1;
                        if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                        T e = x[iy * W + ix];
                        best = (e > best || isnan(e)) ? e : best;
                        sum += (ACC)e;
                        count += 1;
                    }
                }
                int divisor = countPad ? padded : count;
                q[xo] = isMax ? best : (divisor > 0 ? (T)(sum / (ACC)divisor) : (T)0);
            }
        }

        """#
}

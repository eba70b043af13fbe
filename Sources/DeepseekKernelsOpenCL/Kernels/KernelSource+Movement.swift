extension KernelSource {
    /// Data movement that does not look at values — strided copy, select, gather — for every
    /// element size (1, 2, 4 and 8 bytes, so every dtype), plus conversions between the float
    /// formats.
    ///
    /// Conversions round like the reference: float16 stores round to nearest even
    /// (`vstore_half_rte`); bfloat16 rounds to nearest even on the float32 bit pattern and keeps
    /// NaN a NaN; float64 goes to a half format through float32 first, as `storeElement` does.
    static let movement = prelude + #"""
        #define MOVE_KERNELS(E, SUFFIX) \
        KERNEL void copy##SUFFIX(__global E* restrict out, long ooff, long8 so, \
                                 __global const E* restrict a, long aoff, long8 shape, long8 sa, long chunk) { \
            long n = shape.s5; \
            CHUNK_BOUNDS(n, chunk) \
            long row = get_global_id(1); \
            __global const E* pa = a + aoff + row_offset(row, shape, sa); \
            __global E* po = out + ooff + row_offset(row, shape, so); \
            long s = sa.s5, t = so.s5; \
            for (long i = c0; i < c1; ++i) po[i * t] = pa[i * s]; \
        } \
        /* Transposing copies: axes 4 and 5 in 32x32 tiles, so the strided side of the copy stays */ \
        /* in cache while the tile is walked. Rows enumerate axes 0...3. */ \
        KERNEL void copy_tiled##SUFFIX(__global E* restrict out, long ooff, long8 so, \
                                       __global const E* restrict a, long aoff, long8 shape, long8 sa) { \
            long j0 = (long)get_global_id(0) * 32, i0 = (long)get_global_id(1) * 32, row = get_global_id(2); \
            long8 rows = shape; rows.s4 = 1; \
            __global const E* pa = a + aoff + row_offset(row, rows, sa); \
            __global E* po = out + ooff + row_offset(row, rows, so); \
            long i1 = min(i0 + 32, shape.s4), j1 = min(j0 + 32, shape.s5); \
            for (long i = i0; i < i1; ++i) \
                for (long j = j0; j < j1; ++j) po[i * so.s4 + j * so.s5] = pa[i * sa.s4 + j * sa.s5]; \
        } \
        KERNEL void select##SUFFIX(__global E* restrict out, __global const uchar* restrict c, long coff, \
                                   __global const E* restrict a, long aoff, __global const E* restrict b, long boff, \
                                   long8 shape, long8 sc, long8 sa, long8 sb, long chunk) { \
            long n = shape.s5; \
            CHUNK_BOUNDS(n, chunk) \
            long row = get_global_id(1); \
            __global const uchar* pc = c + coff + row_offset(row, shape, sc); \
            __global const E* pa = a + aoff + row_offset(row, shape, sa); \
            __global const E* pb = b + boff + row_offset(row, shape, sb); \
            __global E* po = out + row * n; \
            long s0 = sc.s5, s1 = sa.s5, s2 = sb.s5; \
            for (long i = c0; i < c1; ++i) po[i] = pc[i * s0] ? pa[i * s1] : pb[i * s2]; \
        } \
        /* out[o, j, :] = src[o, idx[j], :] over a contiguous source of shape [outer, n, inner]. */ \
        KERNEL void gather##SUFFIX(__global E* restrict out, __global const E* restrict src, long soff, \
                                   __global const long* restrict idx, long count, long n, long inner, long chunk) { \
            CHUNK_BOUNDS(inner, chunk) \
            long j = get_global_id(1), o = get_global_id(2); \
            __global const E* ps = src + soff + (o * n + idx[j]) * inner; \
            __global E* po = out + (o * count + j) * inner; \
            for (long i = c0; i < c1; ++i) po[i] = ps[i]; \
        }

        MOVE_KERNELS(uchar, 1)
        MOVE_KERNELS(ushort, 2)
        MOVE_KERNELS(uint, 4)
        MOVE_KERNELS(ulong, 8)

        inline float load_f32(__global const float* p, long i) { return p[i]; }
        inline float load_f16(__global const ushort* p, long i) { return vload_half(i, (__global const half*)p); }
        inline float load_bf16(__global const ushort* p, long i) { return as_float((uint)p[i] << 16); }
        inline void store_f32(__global float* p, long i, float v) { p[i] = v; }
        inline void store_f16(__global ushort* p, long i, float v) { vstore_half_rte(v, i, (__global half*)p); }
        inline void store_bf16(__global ushort* p, long i, float v) {
            uint bits = as_uint(v);
            p[i] = isnan(v) ? (ushort)((bits >> 16) | 0x0040u) : (ushort)((bits + 0x7FFFu + ((bits >> 16) & 1u)) >> 16);
        }

        #define CAST_KERNEL(SRC, SE, DST, DE, CONVERT) \
        KERNEL void cast_##SRC##_##DST(__global DE* restrict out, __global const SE* restrict a, long aoff, \
                                       long8 shape, long8 sa, long chunk) { \
            long n = shape.s5; \
            CHUNK_BOUNDS(n, chunk) \
            long row = get_global_id(1); \
            __global const SE* pa = a + aoff + row_offset(row, shape, sa); \
            __global DE* po = out + row * n; \
            long s = sa.s5; \
            for (long i = c0; i < c1; ++i) store_##DST(po, i, CONVERT(load_##SRC(pa, i * s))); \
        }
        #define SAME(v) (v)
        #define TO_FLOAT(v) ((float)(v))

        CAST_KERNEL(f32, float, f16, ushort, SAME)
        CAST_KERNEL(f32, float, bf16, ushort, SAME)
        CAST_KERNEL(f16, ushort, f32, float, SAME)
        CAST_KERNEL(bf16, ushort, f32, float, SAME)
        CAST_KERNEL(f16, ushort, bf16, ushort, SAME)
        CAST_KERNEL(bf16, ushort, f16, ushort, SAME)

        #ifdef USE_FP64
        inline double load_f64(__global const double* p, long i) { return p[i]; }
        inline void store_f64(__global double* p, long i, double v) { p[i] = v; }
        #define TO_DOUBLE(v) ((double)(v))
        CAST_KERNEL(f64, double, f32, float, TO_FLOAT)
        CAST_KERNEL(f64, double, f16, ushort, TO_FLOAT)
        CAST_KERNEL(f64, double, bf16, ushort, TO_FLOAT)
        CAST_KERNEL(f32, float, f64, double, TO_DOUBLE)
        CAST_KERNEL(f16, ushort, f64, double, TO_DOUBLE)
        CAST_KERNEL(bf16, ushort, f64, double, TO_DOUBLE)
        #endif

        """#
}

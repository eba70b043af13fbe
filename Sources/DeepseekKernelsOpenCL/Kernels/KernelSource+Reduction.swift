extension KernelSource {
    /// Reductions and normalisations over contiguous `T` data.
    ///
    /// Sums, means and products accumulate in `ACC` (double when the device has fp64). Max and
    /// min keep the first NaN they meet, like the reference. Long rows are split into parts that
    /// reduce in parallel; a second kernel combines the parts.
    static let reduction = prelude + #"""
        #define PASTE_(a, b) a##b
        #define PASTE(a, b) PASTE_(a, b)
        #define ACC8 PASTE(ACC, 8)
        #define CONVERT_ACC8 PASTE(convert_, ACC8)

        // op: 0 sum, 1 mean, 2 max, 3 min, 4 prod.
        inline ACC combine(int op, ACC acc, ACC e) {
            switch (op) {
            case 2: return (isnan(e) || e > acc) ? e : acc;
            case 3: return (isnan(e) || e < acc) ? e : acc;
            case 4: return acc * e;
            default: return acc + e;
            }
        }

        // partial[row, part] = op over a[row, part*len ..< min((part+1)*len, n)] (never empty).
        KERNEL void reduce_partial(__global ACC* restrict partial, __global const T* restrict a, long aoff,
                                   long n, long parts, long len, int op) {
            long part = get_global_id(0), row = get_global_id(1);
            long start = part * len, end = min(start + len, n);
            __global const T* p = a + aoff + row * n;
            ACC acc = (ACC)p[start];
            switch (op) {
            case 2: for (long i = start + 1; i < end; ++i) { ACC e = p[i]; acc = (isnan(e) || e > acc) ? e : acc; } break;
            case 3: for (long i = start + 1; i < end; ++i) { ACC e = p[i]; acc = (isnan(e) || e < acc) ? e : acc; } break;
            case 4: for (long i = start + 1; i < end; ++i) acc *= (ACC)p[i]; break;
            default: {
                // Eight independent lanes: a single running sum is bound by the add latency.
                ACC8 lanes = (ACC8)0;
                long i = start;
                for (; i + 8 <= end; i += 8) lanes += CONVERT_ACC8(vload8(0, p + i));
                acc = ((lanes.s0 + lanes.s1) + (lanes.s2 + lanes.s3)) + ((lanes.s4 + lanes.s5) + (lanes.s6 + lanes.s7));
                for (; i < end; ++i) acc += (ACC)p[i];
                break;
            }
            }
            partial[row * parts + part] = acc;
        }

        KERNEL void reduce_final(__global T* restrict out, __global const ACC* restrict partial, long parts,
                                 int op, long count) {
            long row = get_global_id(0);
            __global const ACC* p = partial + row * parts;
            ACC acc = p[0];
            for (long i = 1; i < parts; ++i) acc = combine(op, acc, p[i]);
            if (op == 1) acc = acc / (ACC)count;
            out[row] = (T)acc;
        }

        // The offset of element `i` of a strided layout of six axes (row_offset plus the inner axis).
        inline long element_offset(long i, long8 shape, long8 st) {
            return row_offset(i / shape.s5, shape, st) + (i % shape.s5) * st.s5;
        }

        #define COLUMNS 64
        #define COLUMN_LOOP(update) \
            for (long r = 1; r < n; ++r) { \
                __global const T* q = p + element_offset(r, rshape, rst); \
                for (long j = 0; j < w; ++j) { ACC e = (ACC)q[j]; update; } \
            }

        // Reduces over axes that are not innermost: each work-item keeps COLUMNS accumulators for
        // consecutive elements of the innermost kept axis (stride 1) and walks the reduced
        // elements, so every read is a contiguous run and no transposed copy is needed.
        KERNEL void reduce_columns(__global T* restrict out, __global const T* restrict a, long aoff,
                                   long8 kshape, long8 kst, long8 rshape, long8 rst, long n, int op) {
            long inner = kshape.s5;
            long c0 = (long)get_global_id(0) * COLUMNS;
            if (c0 >= inner) return;
            long w = min((long)COLUMNS, inner - c0);
            long row = get_global_id(1);
            __global const T* p = a + aoff + row_offset(row, kshape, kst) + c0;
            ACC acc[COLUMNS];
            for (long j = 0; j < w; ++j) acc[j] = (ACC)p[j];
            switch (op) {
            case 2: COLUMN_LOOP(acc[j] = (isnan(e) || e > acc[j]) ? e : acc[j]) break;
            case 3: COLUMN_LOOP(acc[j] = (isnan(e) || e < acc[j]) ? e : acc[j]) break;
            case 4: COLUMN_LOOP(acc[j] *= e) break;
            default: COLUMN_LOOP(acc[j] += e) break;
            }
            __global T* o = out + row * inner + c0;
            for (long j = 0; j < w; ++j) o[j] = (T)(op == 1 ? acc[j] / (ACC)n : acc[j]);
        }

        // The reference's scan: NaN is the extreme, so the first NaN wins and ends the scan.
        KERNEL void arg_reduce(__global long* restrict out, __global const T* restrict a, long aoff,
                               long n, long inner, int isMax, int selectLast) {
            long i = get_global_id(0), o = get_global_id(1);
            __global const T* p = a + aoff + o * n * inner + i;
            T best = p[0];
            long bestIndex = 0;
            for (long k = 1; k < n && !isnan(best); ++k) {
                T e = p[k * inner];
                int better = isnan(e) || (isMax ? (e > best) : (e < best));
                int tie = (e == best) && selectLast;
                if (better || tie) { best = e; bestIndex = k; }
            }
            out[o * inner + i] = bestIndex;
        }

        #define V PASTE(T, 8)
        #define CONVERT_T8 PASTE(convert_, V)

        // Contiguous rows (inner = 1) run as four vectorised passes — max, exp into the output,
        // sum in eight lanes, scale — since a loop that both calls exp and accumulates is left
        // scalar by the compiler. Strided rows (inner > 1) use the direct loops.
        KERNEL void softmax(__global T* restrict out, __global const T* restrict a, long aoff,
                            long n, long inner, int logMode) {
            long i = get_global_id(0), o = get_global_id(1);
            __global const T* p = a + aoff + o * n * inner + i;
            __global T* q = out + o * n * inner + i;
            T mx = -INFINITY;
            ACC sum = 0;
            if (inner == 1) {
                long k = 0;
                V m8 = (V)(-INFINITY);
                for (; k + 8 <= n; k += 8) { V e = vload8(0, p + k); m8 = e >= m8 ? e : m8; }
                T lanes[8];
                vstore8(m8, 0, lanes);
                for (int l = 0; l < 8; ++l) mx = lanes[l] >= mx ? lanes[l] : mx;
                for (; k < n; ++k) mx = p[k] >= mx ? p[k] : mx;
                for (k = 0; k + 8 <= n; k += 8) vstore8(exp(vload8(0, p + k) - mx), 0, q + k);
                for (; k < n; ++k) q[k] = exp(p[k] - mx);
                ACC8 s8 = (ACC8)0;
                for (k = 0; k + 8 <= n; k += 8) s8 += CONVERT_ACC8(vload8(0, q + k));
                sum = ((s8.s0 + s8.s1) + (s8.s2 + s8.s3)) + ((s8.s4 + s8.s5) + (s8.s6 + s8.s7));
                for (; k < n; ++k) sum += (ACC)q[k];
                if (logMode) {
                    ACC logSum = log(sum);
                    for (k = 0; k + 8 <= n; k += 8)
                        vstore8(CONVERT_T8((CONVERT_ACC8(vload8(0, p + k)) - (ACC)mx) - logSum), 0, q + k);
                    for (; k < n; ++k) q[k] = (T)(((ACC)p[k] - (ACC)mx) - logSum);
                } else {
                    ACC r = (ACC)1 / sum;
                    for (k = 0; k + 8 <= n; k += 8) vstore8(CONVERT_T8(CONVERT_ACC8(vload8(0, q + k)) * r), 0, q + k);
                    for (; k < n; ++k) q[k] = (T)((ACC)q[k] * r);
                }
                return;
            }
            for (long k = 0; k < n; ++k) { T e = p[k * inner]; mx = e >= mx ? e : mx; }
            for (long k = 0; k < n; ++k) sum += (ACC)exp(p[k * inner] - mx);
            if (logMode) {
                ACC logSum = log(sum);
                for (long k = 0; k < n; ++k) q[k * inner] = (T)(((ACC)p[k * inner] - (ACC)mx) - logSum);
            } else {
                ACC r = (ACC)1 / sum;
                for (long k = 0; k < n; ++k) q[k * inner] = (T)((ACC)exp(p[k * inner] - mx) * r);
            }
        }

        KERNEL void layer_norm(__global T* restrict out, __global T* restrict meanOut, __global T* restrict invOut,
                               __global const T* restrict a, long aoff, __global const T* restrict w,
                               __global const T* restrict b, long size, ACC eps) {
            long g = get_global_id(0);
            __global const T* p = a + aoff + g * size;
            __global T* q = out + g * size;
            ACC mean = 0;
            for (long j = 0; j < size; ++j) mean += (ACC)p[j];
            mean /= (ACC)size;
            ACC var = 0;
            for (long j = 0; j < size; ++j) { ACC d = (ACC)p[j] - mean; var += d * d; }
            var /= (ACC)size;
            ACC r = (ACC)1 / sqrt(var + eps);
            meanOut[g] = (T)mean;
            invOut[g] = (T)r;
            for (long j = 0; j < size; ++j) {
                ACC y = ((ACC)p[j] - mean) * r;
                if (w) y *= (ACC)w[j];
                if (b) y += (ACC)b[j];
                q[j] = (T)y;
            }
        }

        KERNEL void batch_norm(__global T* restrict out, __global const T* restrict a, long aoff,
                               __global const T* restrict scale, __global const T* restrict bias,
                               __global const T* restrict mean, __global const T* restrict var,
                               long channels, long inner, ACC eps, long chunk) {
            CHUNK_BOUNDS(inner, chunk)
            long row = get_global_id(1);
            long ch = row % channels;
            ACC r = (ACC)scale[ch] / sqrt((ACC)var[ch] + eps);
            ACC m = mean[ch], sh = bias[ch];
            __global const T* p = a + aoff + row * inner;
            __global T* q = out + row * inner;
            for (long i = c0; i < c1; ++i) q[i] = (T)(((ACC)p[i] - m) * r + sh);
        }

        """#
}

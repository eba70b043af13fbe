extension KernelSource {
    /// Element-wise arithmetic on `T`: unary ops, binary ops with broadcast strides, comparisons.
    ///
    /// Inputs are strided views collapsed to at most six axes; outputs are contiguous. A work-item
    /// handles a chunk of one row (all axes but the last), so the row offset is computed once.
    /// The operation is a run-time switch *outside* the loops: one program serves every op, and
    /// each case is its own tight loop. Dense runs are computed eight elements at a time with
    /// OpenCL vector types, which map the math builtins (erf, log, sin, pow, …) to their vector
    /// implementations; the compiler does not vectorise those calls in a scalar loop.
    ///
    /// Semantics follow `ReferenceBackend` exactly: NaN passes through relu, sign and
    /// maximum/minimum; round is half-to-even (`rint`); mod takes the divisor's sign.
    static let elementwise = prelude + #"""
        #define PASTE_(a, b) a##b
        #define PASTE(a, b) PASTE_(a, b)
        #define V PASTE(T, 8)
        #define OVERLOAD __attribute__((overloadable))

        #define UNARY(code, expr) case code: \
            if (s == 1) { \
                long i = c0; \
                for (; i + 8 <= c1; i += 8) { V x = vload8(0, pa + i); vstore8((expr), 0, po + i); } \
                for (; i < c1; ++i) { T x = pa[i]; po[i] = (expr); } \
            } else { \
                for (long i = c0; i < c1; ++i) { T x = pa[i * s]; po[i] = (expr); } \
            } \
            break;

        // PoCL's vector sin and cos take a slow path when a lane exceeds about 1e7 and then
        // corrupt the *other* lanes (sin(1e-30) came out 0.0099 next to 1e30); such vectors, and
        // any holding NaN or infinity, are computed lane by lane.
        #define UNARY_TRIG(code, expr) case code: \
            if (s == 1) { \
                long i = c0; \
                for (; i + 8 <= c1; i += 8) { \
                    V x = vload8(0, pa + i); \
                    if (any(!(fabs(x) < (V)1e6))) { \
                        for (int l = 0; l < 8; ++l) { T x = pa[i + l]; po[i + l] = (expr); } \
                    } else { vstore8((expr), 0, po + i); } \
                } \
                for (; i < c1; ++i) { T x = pa[i]; po[i] = (expr); } \
            } else { \
                for (long i = c0; i < c1; ++i) { T x = pa[i * s]; po[i] = (expr); } \
            } \
            break;

        // tanh that reaches ±1 exactly where the correctly rounded result does: PoCL's float tanh
        // stops one ulp short (tanh(-inf) = -0.99999994), which turns gelu(tanh)(-inf) into -inf
        // instead of the reference's NaN and gelu(tanh)(-1e30) into -3e22 instead of -0.
        #define TANH_SATURATION (sizeof(T) == 4 ? (T)10 : (T)20)
        inline OVERLOAD T tanh_exact(T x) { return fabs(x) >= TANH_SATURATION ? copysign((T)1, x) : tanh(x); }
        inline OVERLOAD V tanh_exact(V x) { return fabs(x) >= (V)TANH_SATURATION ? copysign((V)1, x) : tanh(x); }

        KERNEL void unary(__global T* restrict out, __global const T* restrict a, long aoff,
                          long8 shape, long8 sa, int op, T alpha, long chunk) {
            long n = shape.s5;
            CHUNK_BOUNDS(n, chunk)
            long row = get_global_id(1);
            __global const T* pa = a + aoff + row_offset(row, shape, sa);
            __global T* po = out + row * n;
            long s = sa.s5;
            const T one = (T)1, zero = (T)0, halfOne = (T)0.5;
            switch (op) {
            UNARY(0, -x)
            UNARY(1, fabs(x))
            UNARY(2, exp(x))
            UNARY(3, log(x))
            UNARY(4, sqrt(x))
            UNARY(5, one / sqrt(x))
            UNARY(6, one / x)
            UNARY(7, x * x)
            UNARY(8, tanh_exact(x))
            UNARY(9, one / (one + exp(-x)))
            UNARY(10, x > zero ? x : (isnan(x) ? x : zero))
            UNARY(11, x / (one + exp(-x)))
            UNARY(12, x > (T)20 ? x : log1p(exp(x)))
            UNARY(13, erf(x))
            UNARY(14, halfOne * x * (one + erf(x / (T)1.4142135623730951)))
            UNARY(15, halfOne * x * (one + tanh_exact((T)0.7978845608028654 * (x + (T)0.044715 * x * x * x))))
            UNARY(16, x >= zero ? x : alpha * x)
            UNARY(17, x >= zero ? x : alpha * expm1(x))
            UNARY(18, floor(x))
            UNARY(19, ceil(x))
            UNARY(20, rint(x))
            UNARY(21, x > zero ? one : (x < zero ? -one : x))
            UNARY_TRIG(22, sin(x))
            UNARY_TRIG(23, cos(x))
            }
        }

        // Dense pairs and dense-with-scalar (a broadcast operand of stride 0) take vectors.
        #define BINARY(code, expr) case code: \
            if (s1 == 1 && (s2 == 1 || s2 == 0)) { \
                long i = c0; \
                for (; i + 8 <= c1; i += 8) { \
                    V x = vload8(0, pa + i); V y = s2 ? vload8(0, pb + i) : (V)pb[0]; vstore8((expr), 0, po + i); } \
                for (; i < c1; ++i) { T x = pa[i]; T y = pb[i * s2]; po[i] = (expr); } \
            } else { \
                for (long i = c0; i < c1; ++i) { T x = pa[i * s1]; T y = pb[i * s2]; po[i] = (expr); } \
            } \
            break;

        inline OVERLOAD T mod_floor(T x, T y) {
            T r = fmod(x, y);
            return (r != (T)0 && ((r < (T)0) != (y < (T)0))) ? r + y : r;
        }
        inline OVERLOAD V mod_floor(V x, V y) {
            V r = fmod(x, y);
            return (r != (V)0 && ((r < (V)0) != (y < (V)0))) ? r + y : r;
        }

        KERNEL void binary(__global T* restrict out, __global const T* restrict a, long aoff,
                           __global const T* restrict b, long boff, long8 shape, long8 sa, long8 sb,
                           int op, long chunk) {
            long n = shape.s5;
            CHUNK_BOUNDS(n, chunk)
            long row = get_global_id(1);
            __global const T* pa = a + aoff + row_offset(row, shape, sa);
            __global const T* pb = b + boff + row_offset(row, shape, sb);
            __global T* po = out + row * n;
            long s1 = sa.s5, s2 = sb.s5;
            switch (op) {
            BINARY(0, x + y)
            BINARY(1, x - y)
            BINARY(2, x * y)
            BINARY(3, x / y)
            BINARY(4, pow(x, y))
            // Swift's max/min: the second operand wins ties, NaN in either gives NaN.
            BINARY(5, (isnan(x) || isnan(y)) ? (T)NAN : (y >= x ? y : x))
            BINARY(6, (isnan(x) || isnan(y)) ? (T)NAN : (y < x ? y : x))
            BINARY(7, mod_floor(x, y))
            }
        }

        // Vector comparisons give -1 for true; negating turns that into the stored 1.
        #define COMPARE(code, expr) case code: \
            if (s1 == 1 && s2 == 1) { \
                long i = c0; \
                for (; i + 8 <= c1; i += 8) { \
                    V x = vload8(0, pa + i); V y = vload8(0, pb + i); vstore8(convert_uchar8(-(expr)), 0, po + i); } \
                for (; i < c1; ++i) { T x = pa[i]; T y = pb[i]; po[i] = (expr) ? 1 : 0; } \
            } else { \
                for (long i = c0; i < c1; ++i) { T x = pa[i * s1]; T y = pb[i * s2]; po[i] = (expr) ? 1 : 0; } \
            } \
            break;

        KERNEL void compare(__global uchar* restrict out, __global const T* restrict a, long aoff,
                            __global const T* restrict b, long boff, long8 shape, long8 sa, long8 sb,
                            int op, long chunk) {
            long n = shape.s5;
            CHUNK_BOUNDS(n, chunk)
            long row = get_global_id(1);
            __global const T* pa = a + aoff + row_offset(row, shape, sa);
            __global const T* pb = b + boff + row_offset(row, shape, sb);
            __global uchar* po = out + row * n;
            long s1 = sa.s5, s2 = sb.s5;
            switch (op) {
            COMPARE(0, x == y)
            COMPARE(1, x != y)
            COMPARE(2, x < y)
            COMPARE(3, x <= y)
            COMPARE(4, x > y)
            COMPARE(5, x >= y)
            }
        }

        """#
}

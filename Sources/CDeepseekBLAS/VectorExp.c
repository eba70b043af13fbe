// Vectorised float32 exp (see the header for why it is in C).
#include "CDeepseekBLAS.h"

#include <math.h>

#if defined(__x86_64__)
#include <immintrin.h>

// exp(x) = 2^n · e^r with n = round(x·log2 e) and r = x − n·ln 2 (|r| ≤ ln2/2), where ln 2 is
// split in a part exact in float32 and a correction, so r keeps full precision. e^r comes from
// its Taylor series to degree 7 (truncation error below 6e-9, a tenth of an ulp), evaluated
// with FMA; 2^n is built in the exponent bits. Lanes outside [−87, 88] (results near or beyond
// the float32 range, and NaN) fall back to expf for the whole vector.
__attribute__((target("avx2,fma"))) static void cdsk_exp_avx2(const float *x, float *y, size_t n) {
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2_hi = _mm256_set1_ps(0.693145751953125f);      // 12 significant bits: n·ln2_hi is exact
    const __m256 ln2_lo = _mm256_set1_ps(1.428606765330187e-06f);  // ln 2 − ln2_hi
    const __m256 lo_limit = _mm256_set1_ps(-87.0f);
    const __m256 hi_limit = _mm256_set1_ps(88.0f);
    const __m256 c7 = _mm256_set1_ps(1.0f / 5040), c6 = _mm256_set1_ps(1.0f / 720), c5 = _mm256_set1_ps(1.0f / 120);
    const __m256 c4 = _mm256_set1_ps(1.0f / 24), c3 = _mm256_set1_ps(1.0f / 6), c2 = _mm256_set1_ps(0.5f);
    const __m256 one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 inside = _mm256_and_ps(_mm256_cmp_ps(v, lo_limit, _CMP_GE_OQ), _mm256_cmp_ps(v, hi_limit, _CMP_LE_OQ));
        if (_mm256_movemask_ps(inside) != 0xff) {
            for (int j = 0; j < 8; j++) y[i + j] = expf(x[i + j]);
            continue;
        }
        __m256 k = _mm256_round_ps(_mm256_mul_ps(v, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 r = _mm256_fnmadd_ps(k, ln2_hi, v);
        r = _mm256_fnmadd_ps(k, ln2_lo, r);
        __m256 p = _mm256_fmadd_ps(c7, r, c6);
        p = _mm256_fmadd_ps(p, r, c5);
        p = _mm256_fmadd_ps(p, r, c4);
        p = _mm256_fmadd_ps(p, r, c3);
        p = _mm256_fmadd_ps(p, r, c2);
        p = _mm256_fmadd_ps(p, r, one);
        p = _mm256_fmadd_ps(p, r, one);
        __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23);
        _mm256_storeu_ps(y + i, _mm256_mul_ps(p, _mm256_castsi256_ps(scale)));
    }
    for (; i < n; i++) y[i] = expf(x[i]);
}
#endif

void cdsk_f32_exp(const float *x, float *y, size_t count) {
#if defined(__x86_64__)
    if (cdsk_half_conversion_level() >= 1) {
        cdsk_exp_avx2(x, y, count);
        return;
    }
#endif
    for (size_t i = 0; i < count; i++) y[i] = expf(x[i]);
}

// float16/bfloat16 <-> float32 array conversions: a portable scalar path plus AVX2+F16C and
// AVX-512 paths compiled with per-function target attributes and chosen by a run-time check.
// (Swift cannot do this itself: see the header.)
#include "CDeepseekBLAS.h"

#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define CDSK_HAVE_X86 1
#else
#define CDSK_HAVE_X86 0
#endif

// MARK: - Portable scalar code (also handles the tails of the vector loops)

static inline uint32_t cdsk_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static inline float cdsk_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline float cdsk_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1f;
    uint32_t mantissa = h & 0x3ff;
    if (exponent == 0) {
        // Zero or subnormal: the value is mantissa · 2^-24, exact in float32.
        float magnitude = (float)mantissa * 0x1p-24f;
        return cdsk_bits_f32(cdsk_f32_bits(magnitude) | sign);
    }
    if (exponent == 31) {
        // Infinity, or a NaN made quiet (as the F16C instruction does, so all paths agree).
        uint32_t quiet = mantissa != 0 ? 0x400000u : 0;
        return cdsk_bits_f32(sign | 0x7f800000u | (mantissa << 13) | quiet);
    }
    return cdsk_bits_f32(sign | ((exponent + (127 - 15)) << 23) | (mantissa << 13));
}

static inline uint16_t cdsk_float_to_half(float f) {
    uint32_t bits = cdsk_f32_bits(f);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude >= 0x7f800000u) {
        if (magnitude == 0x7f800000u) return sign | 0x7c00;  // infinity
        return sign | 0x7e00 | (uint16_t)((magnitude >> 13) & 0x3ff);  // quiet NaN, top payload bits
    }
    // 65520 = largest half (65504) plus half its ulp: at or above it, rounding gives infinity.
    if (magnitude >= 0x477ff000u) return sign | 0x7c00;
    if (magnitude < 0x38800000u) {
        // Below the smallest normal half (2^-14): the result is subnormal or zero. Adding 0.5
        // lines the float's last mantissa bit up with the half subnormal step 2^-24, so the FPU's
        // round-to-nearest-even does the rounding; the low bits are then the half mantissa.
        float shifted = cdsk_bits_f32(magnitude) + 0.5f;
        return sign | (uint16_t)(cdsk_f32_bits(shifted) - 0x3f000000u);
    }
    // Normal: rebias the exponent and round the 13 dropped bits to nearest, ties to even. A
    // carry out of the mantissa correctly bumps the exponent (up to infinity).
    uint32_t odd = (magnitude >> 13) & 1;
    uint32_t rebased = magnitude - ((uint32_t)(127 - 15) << 23) + 0xfff + odd;
    return sign | (uint16_t)(rebased >> 13);
}

static inline float cdsk_bfloat_to_float(uint16_t h) { return cdsk_bits_f32((uint32_t)h << 16); }

static inline uint16_t cdsk_float_to_bfloat(float f) {
    uint32_t bits = cdsk_f32_bits(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 0x40);  // quiet NaN
    uint32_t rounding = 0x7fffu + ((bits >> 16) & 1);
    return (uint16_t)((bits + rounding) >> 16);
}

static void cdsk_f16_to_f32_scalar(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = cdsk_half_to_float(src[i]);
}
static void cdsk_f32_to_f16_scalar(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = cdsk_float_to_half(src[i]);
}
static void cdsk_bf16_to_f32_scalar(const uint16_t *src, float *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = cdsk_bfloat_to_float(src[i]);
}
static void cdsk_f32_to_bf16_scalar(const float *src, uint16_t *dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = cdsk_float_to_bfloat(src[i]);
}

#if CDSK_HAVE_X86

// MARK: - AVX2 + F16C

__attribute__((target("avx2,fma,f16c"))) static void cdsk_f16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(src + i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    cdsk_f16_to_f32_scalar(src + i, dst + i, n - i);
}

__attribute__((target("avx2,fma,f16c"))) static void cdsk_f32_to_f16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 f = _mm256_loadu_ps(src + i);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    cdsk_f32_to_f16_scalar(src + i, dst + i, n - i);
}

__attribute__((target("avx2,fma,f16c"))) static void cdsk_bf16_to_f32_avx2(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(src + i)));
        _mm256_storeu_si256((__m256i *)(dst + i), _mm256_slli_epi32(wide, 16));
    }
    cdsk_bf16_to_f32_scalar(src + i, dst + i, n - i);
}

// Integer rounding rather than AVX-512 BF16's vcvtneps2bf16: that instruction flushes subnormal
// inputs to zero, which would disagree with the scalar definition.
__attribute__((target("avx2,fma,f16c"))) static void cdsk_f32_to_bf16_avx2(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff);
    const __m256i inf = _mm256_set1_epi32(0x7f800000);
    const __m256i bias = _mm256_set1_epi32(0x7fff);
    const __m256i one = _mm256_set1_epi32(1);
    const __m256i quiet = _mm256_set1_epi32(0x40);
    for (; i + 8 <= n; i += 8) {
        __m256i bits = _mm256_loadu_si256((const __m256i *)(src + i));
        __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), one);
        __m256i rounded = _mm256_srli_epi32(_mm256_add_epi32(bits, _mm256_add_epi32(bias, odd)), 16);
        __m256i nan_value = _mm256_or_si256(_mm256_srli_epi32(bits, 16), quiet);
        __m256i is_nan = _mm256_cmpgt_epi32(_mm256_and_si256(bits, abs_mask), inf);
        __m256i result = _mm256_blendv_epi8(rounded, nan_value, is_nan);
        // Every lane is ≤ 0xffff, so the saturating pack is exact; it packs within 128-bit
        // halves, and the permute puts the eight results in order in the low half.
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(result, result), 0x08);
        _mm_storeu_si128((__m128i *)(dst + i), _mm256_castsi256_si128(packed));
    }
    cdsk_f32_to_bf16_scalar(src + i, dst + i, n - i);
}

// MARK: - AVX-512

__attribute__((target("avx512f"))) static void cdsk_f16_to_f32_avx512(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(src + i));
        _mm512_storeu_ps(dst + i, _mm512_cvtph_ps(h));
    }
    cdsk_f16_to_f32_scalar(src + i, dst + i, n - i);
}

__attribute__((target("avx512f"))) static void cdsk_f32_to_f16_avx512(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 f = _mm512_loadu_ps(src + i);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtps_ph(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    }
    cdsk_f32_to_f16_scalar(src + i, dst + i, n - i);
}

__attribute__((target("avx512f"))) static void cdsk_bf16_to_f32_avx512(const uint16_t *src, float *dst, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(src + i)));
        _mm512_storeu_si512((void *)(dst + i), _mm512_slli_epi32(wide, 16));
    }
    cdsk_bf16_to_f32_scalar(src + i, dst + i, n - i);
}

__attribute__((target("avx512f"))) static void cdsk_f32_to_bf16_avx512(const float *src, uint16_t *dst, size_t n) {
    size_t i = 0;
    const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
    const __m512i inf = _mm512_set1_epi32(0x7f800000);
    const __m512i bias = _mm512_set1_epi32(0x7fff);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i quiet = _mm512_set1_epi32(0x40);
    for (; i + 16 <= n; i += 16) {
        __m512i bits = _mm512_loadu_si512((const void *)(src + i));
        __m512i odd = _mm512_and_si512(_mm512_srli_epi32(bits, 16), one);
        __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(bits, _mm512_add_epi32(bias, odd)), 16);
        __m512i nan_value = _mm512_or_si512(_mm512_srli_epi32(bits, 16), quiet);
        __mmask16 is_nan = _mm512_cmpgt_epi32_mask(_mm512_and_si512(bits, abs_mask), inf);
        __m512i result = _mm512_mask_mov_epi32(rounded, is_nan, nan_value);
        _mm256_storeu_si256((__m256i *)(dst + i), _mm512_cvtepi32_epi16(result));
    }
    cdsk_f32_to_bf16_scalar(src + i, dst + i, n - i);
}

#endif

// MARK: - Dispatch

static int cdsk_detect_level(void) {
#if CDSK_HAVE_X86
    cdsk_cpu_features features;
    cdsk_cpu_detect(&features);
    if (features.avx512f) return 2;
    if (features.avx2 && features.fma && features.f16c) return 1;
#endif
    return 0;
}

int cdsk_half_conversion_level(void) {
    // -1 = not yet known. Racing first callers compute the same value, so a relaxed store is enough.
    static int level = -1;
    int known = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (known < 0) {
        known = cdsk_detect_level();
        __atomic_store_n(&level, known, __ATOMIC_RELAXED);
    }
    return known;
}

static int cdsk_usable_level(int requested) {
    int available = cdsk_half_conversion_level();
    return requested <= available ? requested : 0;
}

void cdsk_f16_to_f32_level(const uint16_t *src, float *dst, size_t count, int level) {
#if CDSK_HAVE_X86
    switch (cdsk_usable_level(level)) {
    case 2: cdsk_f16_to_f32_avx512(src, dst, count); return;
    case 1: cdsk_f16_to_f32_avx2(src, dst, count); return;
    default: break;
    }
#endif
    (void)level;
    cdsk_f16_to_f32_scalar(src, dst, count);
}

void cdsk_f32_to_f16_level(const float *src, uint16_t *dst, size_t count, int level) {
#if CDSK_HAVE_X86
    switch (cdsk_usable_level(level)) {
    case 2: cdsk_f32_to_f16_avx512(src, dst, count); return;
    case 1: cdsk_f32_to_f16_avx2(src, dst, count); return;
    default: break;
    }
#endif
    (void)level;
    cdsk_f32_to_f16_scalar(src, dst, count);
}

void cdsk_bf16_to_f32_level(const uint16_t *src, float *dst, size_t count, int level) {
#if CDSK_HAVE_X86
    switch (cdsk_usable_level(level)) {
    case 2: cdsk_bf16_to_f32_avx512(src, dst, count); return;
    case 1: cdsk_bf16_to_f32_avx2(src, dst, count); return;
    default: break;
    }
#endif
    (void)level;
    cdsk_bf16_to_f32_scalar(src, dst, count);
}

void cdsk_f32_to_bf16_level(const float *src, uint16_t *dst, size_t count, int level) {
#if CDSK_HAVE_X86
    switch (cdsk_usable_level(level)) {
    case 2: cdsk_f32_to_bf16_avx512(src, dst, count); return;
    case 1: cdsk_f32_to_bf16_avx2(src, dst, count); return;
    default: break;
    }
#endif
    (void)level;
    cdsk_f32_to_bf16_scalar(src, dst, count);
}

void cdsk_f16_to_f32(const uint16_t *src, float *dst, size_t count) {
    cdsk_f16_to_f32_level(src, dst, count, cdsk_half_conversion_level());
}
void cdsk_f32_to_f16(const float *src, uint16_t *dst, size_t count) {
    cdsk_f32_to_f16_level(src, dst, count, cdsk_half_conversion_level());
}
void cdsk_bf16_to_f32(const uint16_t *src, float *dst, size_t count) {
    cdsk_bf16_to_f32_level(src, dst, count, cdsk_half_conversion_level());
}
void cdsk_f32_to_bf16(const float *src, uint16_t *dst, size_t count) {
    cdsk_f32_to_bf16_level(src, dst, count, cdsk_half_conversion_level());
}

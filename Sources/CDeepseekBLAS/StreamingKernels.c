// Streaming-store element-wise kernels for large outputs (see the header for why they exist).
// SSE2 is part of x86-64 itself, so no run-time check is needed; on measured hardware 16-byte
// streaming stores reach the same bandwidth as 32-byte ones.
#include "CDeepseekBLAS.h"

#include <math.h>
#include <stdint.h>

#if defined(__x86_64__)
#include <emmintrin.h>

static inline float cdsk_apply(int op, float x, float y) {
    switch (op) {
    case CDSK_STREAM_ADD: return x + y;
    case CDSK_STREAM_SUB: return x - y;
    case CDSK_STREAM_MUL: return x * y;
    default: return x / y;
    }
}

static inline __m128 cdsk_apply4(int op, __m128 x, __m128 y) {
    switch (op) {
    case CDSK_STREAM_ADD: return _mm_add_ps(x, y);
    case CDSK_STREAM_SUB: return _mm_sub_ps(x, y);
    case CDSK_STREAM_MUL: return _mm_mul_ps(x, y);
    default: return _mm_div_ps(x, y);
    }
}

/// Elements to handle with ordinary stores until `out` is 16-byte aligned.
static inline size_t cdsk_head(const float *out, size_t count) {
    size_t misalignment = ((uintptr_t)out & 15) / sizeof(float);
    size_t head = misalignment == 0 ? 0 : 4 - misalignment;
    if ((uintptr_t)out & 3) head = count;  // not even float-aligned: no streaming at all
    return head < count ? head : count;
}

void cdsk_f32_stream_binary(
    int op, const float *a, int a_step, const float *b, int b_step, float *out, size_t count) {
    size_t head = cdsk_head(out, count);
    size_t i = 0;
    for (; i < head; i++) out[i] = cdsk_apply(op, a[a_step ? i : 0], b[b_step ? i : 0]);
    const __m128 a_scalar = _mm_set1_ps(a[0]);
    const __m128 b_scalar = _mm_set1_ps(b[0]);
    // One loop per operand shape so the op switch and the step tests leave the inner loop.
    #define CDSK_LOOP(OP, LOAD_A, LOAD_B) \
        for (; i + 4 <= count; i += 4) _mm_stream_ps(out + i, cdsk_apply4(OP, LOAD_A, LOAD_B));
    #define CDSK_SHAPES(OP) \
        if (a_step && b_step) { CDSK_LOOP(OP, _mm_loadu_ps(a + i), _mm_loadu_ps(b + i)) } \
        else if (a_step) { CDSK_LOOP(OP, _mm_loadu_ps(a + i), b_scalar) } \
        else if (b_step) { CDSK_LOOP(OP, a_scalar, _mm_loadu_ps(b + i)) } \
        else { CDSK_LOOP(OP, a_scalar, b_scalar) }
    switch (op) {
    case CDSK_STREAM_ADD: CDSK_SHAPES(CDSK_STREAM_ADD) break;
    case CDSK_STREAM_SUB: CDSK_SHAPES(CDSK_STREAM_SUB) break;
    case CDSK_STREAM_MUL: CDSK_SHAPES(CDSK_STREAM_MUL) break;
    default: CDSK_SHAPES(CDSK_STREAM_DIV) break;
    }
    #undef CDSK_SHAPES
    #undef CDSK_LOOP
    for (; i < count; i++) out[i] = cdsk_apply(op, a[a_step ? i : 0], b[b_step ? i : 0]);
    // Order the streaming stores before whatever the caller does next (e.g. another thread
    // reading the output after the parallel loop joins).
    _mm_sfence();
}

void cdsk_f32_stream_relu(const float *a, float *out, size_t count) {
    size_t head = cdsk_head(out, count);
    size_t i = 0;
    for (; i < head; i++) out[i] = (a[i] > 0 || isnan(a[i])) ? a[i] : 0;
    const __m128 zero = _mm_setzero_ps();
    for (; i + 4 <= count; i += 4) {
        __m128 x = _mm_loadu_ps(a + i);
        // Keep x where x > 0 or x is NaN (unordered with itself), else 0.
        __m128 keep = _mm_or_ps(_mm_cmpgt_ps(x, zero), _mm_cmpunord_ps(x, x));
        _mm_stream_ps(out + i, _mm_and_ps(keep, x));
    }
    for (; i < count; i++) out[i] = (a[i] > 0 || isnan(a[i])) ? a[i] : 0;
    _mm_sfence();
}

#else

void cdsk_f32_stream_binary(
    int op, const float *a, int a_step, const float *b, int b_step, float *out, size_t count) {
    for (size_t i = 0; i < count; i++) {
        float x = a[a_step ? i : 0], y = b[b_step ? i : 0];
        out[i] = op == CDSK_STREAM_ADD ? x + y : op == CDSK_STREAM_SUB ? x - y : op == CDSK_STREAM_MUL ? x * y : x / y;
    }
}

void cdsk_f32_stream_relu(const float *a, float *out, size_t count) {
    for (size_t i = 0; i < count; i++) out[i] = (a[i] > 0 || isnan(a[i])) ? a[i] : 0;
}

#endif

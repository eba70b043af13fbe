#include "CBenchBaselines.h"

#include <immintrin.h>
#include <pthread.h>

// Independent accumulators per thread: more than FMA latency × FMA ports, so the loop is bound
// by FMA throughput and not by the dependency chain of any one accumulator.
enum { CBENCH_ACC = 12 };

__attribute__((target("avx512f"))) static float fma_avx512(int64_t iterations) {
    __m512 acc[CBENCH_ACC];
    for (int i = 0; i < CBENCH_ACC; i++) acc[i] = _mm512_set1_ps((float)i * 0.01f);
    const __m512 a = _mm512_set1_ps(0.999f);
    const __m512 b = _mm512_set1_ps(0.001f);
    for (int64_t it = 0; it < iterations; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < CBENCH_ACC; i++) acc[i] = _mm512_fmadd_ps(acc[i], a, b);
    }
    __m512 sum = acc[0];
    for (int i = 1; i < CBENCH_ACC; i++) sum = _mm512_add_ps(sum, acc[i]);
    return _mm512_reduce_add_ps(sum);
}

__attribute__((target("avx2,fma"))) static float fma_avx2(int64_t iterations) {
    __m256 acc[CBENCH_ACC];
    for (int i = 0; i < CBENCH_ACC; i++) acc[i] = _mm256_set1_ps((float)i * 0.01f);
    const __m256 a = _mm256_set1_ps(0.999f);
    const __m256 b = _mm256_set1_ps(0.001f);
    for (int64_t it = 0; it < iterations; it++) {
#pragma GCC unroll 12
        for (int i = 0; i < CBENCH_ACC; i++) acc[i] = _mm256_fmadd_ps(acc[i], a, b);
    }
    __m256 sum = acc[0];
    for (int i = 1; i < CBENCH_ACC; i++) sum = _mm256_add_ps(sum, acc[i]);
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    float total = 0;
    for (int i = 0; i < 8; i++) total += lanes[i];
    return total;
}

static float fma_scalar(int64_t iterations) {
    float acc[CBENCH_ACC];
    for (int i = 0; i < CBENCH_ACC; i++) acc[i] = (float)i * 0.01f;
    for (int64_t it = 0; it < iterations; it++) {
        for (int i = 0; i < CBENCH_ACC; i++) acc[i] = acc[i] * 0.999f + 0.001f;
    }
    float total = 0;
    for (int i = 0; i < CBENCH_ACC; i++) total += acc[i];
    return total;
}

int cbench_fma_best_lanes(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 16;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 8;
    return 1;
}

const char *cbench_fma_isa_name(int lanes) {
    switch (lanes) {
    case 16: return "avx512f";
    case 8: return "avx2+fma";
    default: return "scalar";
    }
}

// The result is written here so the compiler cannot drop the loop as dead code.
static volatile float cbench_sink;

typedef struct {
    int64_t iterations;
    int lanes;
} fma_job;

static void *fma_thread(void *arg) {
    const fma_job *job = arg;
    float r;
    switch (job->lanes) {
    case 16: r = fma_avx512(job->iterations); break;
    case 8: r = fma_avx2(job->iterations); break;
    default: r = fma_scalar(job->iterations); break;
    }
    cbench_sink = r;
    return NULL;
}

double cbench_fma_run(int threads, int64_t iterations, int lanes) {
    int best = cbench_fma_best_lanes();
    if (lanes == 0) lanes = best;
    if (lanes != 16 && lanes != 8 && lanes != 1) return 0;
    if (lanes > best) return 0;
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    fma_job job = {iterations, lanes};
    pthread_t ids[256];
    int started = 0;
    // The calling thread runs one share itself; the others run on fresh threads.
    for (int i = 1; i < threads; i++) {
        if (pthread_create(&ids[started], NULL, fma_thread, &job) == 0) started++;
    }
    fma_thread(&job);
    for (int i = 0; i < started; i++) pthread_join(ids[i], NULL);
    return (double)iterations * CBENCH_ACC * lanes * 2.0 * (double)(started + 1);
}

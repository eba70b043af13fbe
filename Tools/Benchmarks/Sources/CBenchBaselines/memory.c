#include "CBenchBaselines.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

void cbench_memcpy(void *dst, const void *src, size_t bytes) { memcpy(dst, src, bytes); }

void cbench_memset(void *dst, int value, size_t bytes) { memset(dst, value, bytes); }

typedef struct {
    char *dst;
    const char *src;
    size_t bytes;
    int streaming;
} copy_job;

// SSE2 is part of x86-64, so this needs no run-time check.
static void stream_copy(char *dst, const char *src, size_t bytes) {
#if defined(__x86_64__)
    size_t i = 0;
    for (; i + 64 <= bytes; i += 64) {
        __m128 a = _mm_load_ps((const float *)(src + i));
        __m128 b = _mm_load_ps((const float *)(src + i + 16));
        __m128 c = _mm_load_ps((const float *)(src + i + 32));
        __m128 d = _mm_load_ps((const float *)(src + i + 48));
        _mm_stream_ps((float *)(dst + i), a);
        _mm_stream_ps((float *)(dst + i + 16), b);
        _mm_stream_ps((float *)(dst + i + 32), c);
        _mm_stream_ps((float *)(dst + i + 48), d);
    }
    _mm_sfence();
    if (i < bytes) memcpy(dst + i, src + i, bytes - i);
#else
    memcpy(dst, src, bytes);
#endif
}

static void *copy_thread(void *arg) {
    const copy_job *job = arg;
    if (job->streaming) stream_copy(job->dst, job->src, job->bytes);
    else memcpy(job->dst, job->src, job->bytes);
    return NULL;
}

static void copy_parallel(void *dst, const void *src, size_t bytes, int threads, int streaming) {
    if (threads <= 1) {
        copy_job job = {dst, src, bytes, streaming};
        copy_thread(&job);
        return;
    }
    if (threads > 64) threads = 64;
    copy_job jobs[64];
    pthread_t ids[64];
    int started[64] = {0};
    // Parts are multiples of 4 KiB so no two threads write into one page.
    size_t part = (bytes / (size_t)threads + 4095) & ~(size_t)4095;
    for (int i = 0; i < threads; i++) {
        size_t begin = part * (size_t)i;
        size_t end = begin + part < bytes ? begin + part : bytes;
        jobs[i].dst = (char *)dst + begin;
        jobs[i].src = (const char *)src + begin;
        jobs[i].bytes = begin < end ? end - begin : 0;
        jobs[i].streaming = streaming;
    }
    for (int i = 1; i < threads; i++) started[i] = pthread_create(&ids[i], NULL, copy_thread, &jobs[i]) == 0;
    copy_thread(&jobs[0]);
    for (int i = 1; i < threads; i++) {
        if (started[i]) pthread_join(ids[i], NULL);
        else copy_thread(&jobs[i]);
    }
}

void cbench_memcpy_parallel(void *dst, const void *src, size_t bytes, int threads) {
    copy_parallel(dst, src, bytes, threads, 0);
}

void cbench_stream_copy_parallel(void *dst, const void *src, size_t bytes, int threads) {
    copy_parallel(dst, src, bytes, threads, 1);
}

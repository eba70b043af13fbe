#ifndef CBENCH_BASELINES_H
#define CBENCH_BASELINES_H

// Raw C baselines for the benchmark runner. They live in C because each one is the practical
// limit a Swift hot path is compared with: the FMA peak of the cores, memcpy bandwidth, and
// OpenBLAS's own cblas_sgemm called with no layer in between.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: Peak FMA throughput

/// The widest FMA loop this CPU runs, in float lanes: 16 (AVX-512F), 8 (AVX2+FMA) or 1 (scalar).
int cbench_fma_best_lanes(void);

/// The instruction set of a lane width: "avx512f", "avx2+fma" or "scalar".
const char *cbench_fma_isa_name(int lanes);

/// Runs the unrolled FMA loop (independent accumulators, registers only) `iterations` times on
/// each of `threads` threads at once, with vectors of `lanes` floats (16, 8 or 1; 0 picks the
/// widest the CPU has). Returns the total floating-point operations performed, or 0 when the
/// CPU lacks that width.
double cbench_fma_run(int threads, int64_t iterations, int lanes);

// MARK: Memory bandwidth

/// Copies `bytes` from `src` to `dst` with the C library's memcpy.
void cbench_memcpy(void *dst, const void *src, size_t bytes);

/// Writes `bytes` of `value` into `dst` (to touch pages before timing).
void cbench_memset(void *dst, int value, size_t bytes);

/// Copies `bytes` from `src` to `dst` split into `threads` contiguous parts copied at once,
/// the calling thread taking one part.
void cbench_memcpy_parallel(void *dst, const void *src, size_t bytes, int threads);

/// Like `cbench_memcpy_parallel`, but with a plain loop of 16-byte loads and streaming
/// (non-temporal) stores: the copy that skips the read-for-ownership of every destination line,
/// as the CPU backend's large element-wise kernels do. `dst` and `src` must be 16-byte aligned
/// and `bytes` a multiple of 16.
void cbench_stream_copy_parallel(void *dst, const void *src, size_t bytes, int threads);

// MARK: OpenBLAS, opened with dlopen

/// Opens OpenBLAS (or finds it already loaded) and resolves cblas_sgemm and the thread and
/// core queries. Returns 0 on success; otherwise fills `message` with the reason.
int cbench_blas_open(char *message, size_t capacity);

/// The path of the shared object cblas_sgemm was resolved from, or "" before a successful open.
const char *cbench_blas_path(void);

/// openblas_get_corename(), or "" when the library does not export it.
const char *cbench_blas_corename(void);

/// openblas_get_config(), or "" when the library does not export it.
const char *cbench_blas_config(void);

/// openblas_set_num_threads(n); a no-op when the library does not export it.
void cbench_blas_set_threads(int threads);

/// openblas_get_num_threads(), or -1 when the library does not export it.
int cbench_blas_threads(void);

/// Row-major C = A·B for contiguous A [m, k], B [k, n], C [m, n] through cblas_sgemm.
void cbench_blas_sgemm(int m, int n, int k, const float *a, const float *b, float *c);

// MARK: Loopback TCP (two threads, blocking sockets, TCP_NODELAY)

/// `messages` round trips of `bytes` to an echo thread, one at a time. Writes each round trip's
/// seconds into `latencies` (room for `messages`, may be NULL). Returns total seconds, or -1.
double cbench_tcp_pingpong(int64_t messages, size_t bytes, double *latencies);

/// The same round trips with every send and receive through io_uring, one ring per thread
/// (single issuer, deferred task work, registered ring fd). Each side makes one io_uring_enter
/// per round trip: the client submits SEND + RECV and waits for both; the echo thread submits
/// its reply's SEND with the next request's RECV and waits. Same arguments and result.
double cbench_uring_pingpong(int64_t messages, size_t bytes, double *latencies);

/// `messages` requests of `bytes` to an echo thread with `window` requests kept in flight.
/// Returns total seconds, or -1.
double cbench_tcp_pipelined(int64_t messages, size_t bytes, int window);

/// `messages` messages of `bytes` to a reader thread that acknowledges each with one byte.
/// Returns total seconds, or -1.
double cbench_tcp_stream(int64_t messages, size_t bytes);

// MARK: File I/O through io_uring (the SSD tier's baseline)

/// Writes (`write` = 1) or reads `count` requests of `request_bytes` each at the byte offsets in
/// `offsets`, on `path` (opened with O_DIRECT when `direct` is 1; created and sized when
/// writing), keeping up to `queue_depth` requests in flight from registered, 4096-aligned buffers
/// (READ_FIXED / WRITE_FIXED). Returns the seconds taken (open and close excluded), or a negative
/// errno. With O_DIRECT a completed write is on the device, so no fsync is timed.
double cbench_uring_file_io(const char *path, int write, int direct, const uint64_t *offsets, int count,
                            uint32_t request_bytes, int queue_depth);

#ifdef __cplusplus
}
#endif

#endif

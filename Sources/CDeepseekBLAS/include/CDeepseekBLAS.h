// C shim for the CPU kernel backend: CPU feature detection, run-time loading of OpenBLAS, and
// vectorised half-precision conversions.
//
// Why C and not Swift:
// - CPU features come from the `cpuid` and `xgetbv` instructions; Swift has no intrinsic for them.
// - OpenBLAS reads OPENBLAS_CORETYPE once, in its load-time constructor. To choose the kernel the
//   process must set the variable *before* the library is mapped, so OpenBLAS is opened with
//   dlopen here instead of being linked (a linked library initialises before any Swift runs).
// - Swift has no per-function target attribute, and enabling F16C/AVX-512 for the whole package
//   would need `unsafeFlags`. Without them `Float16(Float)` compiles to a software routine per
//   element on the default x86-64 target. C's `__attribute__((target(...)))` lets single functions
//   use F16C/AVX2/AVX-512 instructions, chosen by a run-time CPU check, with a portable fallback.
//
// Every symbol is prefixed `cdsk_`.
#ifndef CDEEPSEEK_BLAS_H
#define CDEEPSEEK_BLAS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - CPU features

/// What the CPU (and the operating system, for the wide register state) supports.
typedef struct cdsk_cpu_features {
    /// The 12-character vendor string ("GenuineIntel", "AuthenticAMD"), NUL-terminated.
    char vendor[13];
    /// The display family and model (base plus extended fields, as the vendors document them).
    int family;
    int model;
    int stepping;
    /// 1 when the instruction set is usable: reported by cpuid *and* enabled by the OS in XCR0.
    int sse4_2;
    int avx;
    int avx2;
    int fma;
    int f16c;
    int avx512f;
    int avx512bw;
    int avx512vl;
    int avx512dq;
    int avx512_bf16;
    /// 1 on x86-64; 0 elsewhere (all other fields are then 0).
    int is_x86;
} cdsk_cpu_features;

/// Fills `out` from cpuid/xgetbv. Never fails; unknown fields stay 0.
void cdsk_cpu_detect(cdsk_cpu_features *out);

// MARK: - OpenBLAS function table

// CBLAS constants, with the values every CBLAS implementation uses (the ABI is plain `int`).
#define CDSK_CBLAS_ROW_MAJOR 101
#define CDSK_CBLAS_NO_TRANS 111
#define CDSK_CBLAS_TRANS 112

typedef void (*cdsk_sgemm_fn)(
    int order, int transA, int transB, int m, int n, int k, float alpha, const float *a, int lda,
    const float *b, int ldb, float beta, float *c, int ldc);
typedef void (*cdsk_dgemm_fn)(
    int order, int transA, int transB, int m, int n, int k, double alpha, const double *a, int lda,
    const double *b, int ldb, double beta, double *c, int ldc);
typedef char *(*cdsk_string_fn)(void);
typedef void (*cdsk_set_threads_fn)(int);
typedef int (*cdsk_get_threads_fn)(void);

/// The OpenBLAS entry points Deepseek uses, resolved with dlsym. All are non-NULL after a
/// successful `cdsk_blas_open`.
typedef struct cdsk_blas_table {
    cdsk_sgemm_fn sgemm;
    cdsk_dgemm_fn dgemm;
    cdsk_string_fn get_corename;
    cdsk_string_fn get_config;
    cdsk_set_threads_fn set_num_threads;
    cdsk_get_threads_fn get_num_threads;
} cdsk_blas_table;

/// The value of OPENBLAS_CORETYPE in the environment, or NULL when unset or empty.
/// This is OpenBLAS's own variable; Deepseek reads it only to honour the user's choice.
const char *cdsk_blas_user_coretype(void);

/// Result flags of `cdsk_blas_open`.
#define CDSK_BLAS_OK 0
#define CDSK_BLAS_NOT_FOUND 1
#define CDSK_BLAS_MISSING_SYMBOL 2
/// Set in `*flags` when the library was already mapped in this process before the call, so
/// the requested core type could not take effect (OpenBLAS had already initialised).
#define CDSK_BLAS_FLAG_ALREADY_LOADED 1
/// Set in `*flags` when this call put OPENBLAS_CORETYPE into the environment for the load.
#define CDSK_BLAS_FLAG_SET_CORETYPE 2

/// Opens the first of `names` that dlopen finds and resolves the table.
///
/// When `coretype` is not NULL it is exported as OPENBLAS_CORETYPE for the duration of the load,
/// without overwriting a value the user already set, and removed again afterwards so the
/// process environment is left as it was found. Not thread-safe with respect to other code
/// that reads the environment concurrently (the Swift caller serialises loads).
///
/// - Returns: CDSK_BLAS_OK, or an error code with a message in `error` (NUL-terminated).
int cdsk_blas_open(
    const char *const *names, int name_count, const char *coretype, cdsk_blas_table *table,
    char *path, size_t path_capacity, char *error, size_t error_capacity, int *flags);

// MARK: - Half-precision conversions

/// Which conversion implementation the run-time check picked: 0 portable, 1 AVX2+F16C, 2 AVX-512.
int cdsk_half_conversion_level(void);

/// IEEE binary16 to float32 (exact).
void cdsk_f16_to_f32(const uint16_t *src, float *dst, size_t count);
/// float32 to IEEE binary16, rounding to nearest, ties to even.
void cdsk_f32_to_f16(const float *src, uint16_t *dst, size_t count);
/// bfloat16 to float32 (exact).
void cdsk_bf16_to_f32(const uint16_t *src, float *dst, size_t count);
/// float32 to bfloat16, rounding to nearest, ties to even; a NaN stays a quiet NaN.
void cdsk_f32_to_bf16(const float *src, uint16_t *dst, size_t count);

/// The same conversions forced onto one implementation level (tests compare levels).
/// A level the CPU lacks runs the portable code instead.
void cdsk_f16_to_f32_level(const uint16_t *src, float *dst, size_t count, int level);
void cdsk_f32_to_f16_level(const float *src, uint16_t *dst, size_t count, int level);
void cdsk_bf16_to_f32_level(const uint16_t *src, float *dst, size_t count, int level);
void cdsk_f32_to_bf16_level(const float *src, uint16_t *dst, size_t count, int level);

// MARK: - Streaming element-wise kernels

// Element-wise float32 kernels that write their output with non-temporal (streaming) stores.
// For outputs far larger than the caches an ordinary store first reads the line it writes
// (read-for-ownership) and evicts the inputs; a streaming store writes around the caches, which
// makes add or relu on 16M floats about twice as fast. Swift has no non-temporal store, so the
// CPU backend calls these for large dense outputs and keeps its own Swift loops otherwise.
// Results are bit-identical to the Swift loops (plain IEEE float32 arithmetic).

#define CDSK_STREAM_ADD 0
#define CDSK_STREAM_SUB 1
#define CDSK_STREAM_MUL 2
#define CDSK_STREAM_DIV 3

/// out[i] = a[i·a_step] op b[i·b_step] for i in 0..<count; a_step and b_step are 0 (a scalar
/// operand) or 1 (a dense one).
void cdsk_f32_stream_binary(
    int op, const float *a, int a_step, const float *b, int b_step, float *out, size_t count);

/// out[i] = a[i] > 0 || a[i] is NaN ? a[i] : 0 (ReLU that keeps NaN).
void cdsk_f32_stream_relu(const float *a, float *out, size_t count);

// MARK: - Vectorised exponential

/// y[i] = exp(x[i]) for float32, within 2 ulp of the correctly rounded result (libm's `expf` is
/// used for NaN, infinities and arguments whose result under- or overflows). Swift can only call
/// `expf` one element at a time; here the AVX2+FMA path evaluates eight at once, chosen by the
/// same run-time check as the half conversions. `x` and `y` may be the same array.
void cdsk_f32_exp(const float *x, float *y, size_t count);

#ifdef __cplusplus
}
#endif

#endif

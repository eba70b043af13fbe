#define _GNU_SOURCE
#include "CBenchBaselines.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

// OpenBLAS is opened at run time, like the CPU backend does, so the benchmark package needs no
// link-time BLAS. When the backend has already loaded the library, RTLD_NOLOAD hands back that
// same object: the baseline then calls exactly the code the backend calls.

enum { CBLAS_ROW_MAJOR = 101, CBLAS_NO_TRANS = 111 };

typedef void (*sgemm_fn)(int, int, int, int, int, int, float, const float *, int, const float *, int, float,
                         float *, int);
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
typedef char *(*get_string_fn)(void);

static sgemm_fn p_sgemm;
static set_threads_fn p_set_threads;
static get_threads_fn p_get_threads;
static get_string_fn p_corename;
static get_string_fn p_config;
static char blas_path[4096];

static const char *const candidates[] = {
    "libopenblas.so.0",
    "libopenblas.so",
    "libopenblasp.so.0",
};

int cbench_blas_open(char *message, size_t capacity) {
    if (p_sgemm) return 0;
    void *handle = NULL;
    size_t count = sizeof(candidates) / sizeof(candidates[0]);
    for (size_t i = 0; i < count && !handle; i++) handle = dlopen(candidates[i], RTLD_NOW | RTLD_NOLOAD);
    for (size_t i = 0; i < count && !handle; i++) handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char *why = dlerror();
        snprintf(message, capacity, "OpenBLAS could not be opened (%s); install libopenblas0", why ? why : "not found");
        return -1;
    }
    p_sgemm = (sgemm_fn)dlsym(handle, "cblas_sgemm");
    if (!p_sgemm) {
        snprintf(message, capacity, "the library opened as OpenBLAS has no cblas_sgemm");
        return -1;
    }
    p_set_threads = (set_threads_fn)dlsym(handle, "openblas_set_num_threads");
    p_get_threads = (get_threads_fn)dlsym(handle, "openblas_get_num_threads");
    p_corename = (get_string_fn)dlsym(handle, "openblas_get_corename");
    p_config = (get_string_fn)dlsym(handle, "openblas_get_config");
    Dl_info info;
    if (dladdr((void *)p_sgemm, &info) && info.dli_fname) {
        snprintf(blas_path, sizeof(blas_path), "%s", info.dli_fname);
    }
    return 0;
}

const char *cbench_blas_path(void) { return blas_path; }

const char *cbench_blas_corename(void) { return p_corename ? p_corename() : ""; }

const char *cbench_blas_config(void) { return p_config ? p_config() : ""; }

void cbench_blas_set_threads(int threads) {
    if (p_set_threads) p_set_threads(threads);
}

int cbench_blas_threads(void) { return p_get_threads ? p_get_threads() : -1; }

void cbench_blas_sgemm(int m, int n, int k, const float *a, const float *b, float *c) {
    p_sgemm(CBLAS_ROW_MAJOR, CBLAS_NO_TRANS, CBLAS_NO_TRANS, m, n, k, 1.0f, a, k, b, n, 0.0f, c, n);
}

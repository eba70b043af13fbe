// Run-time loading of OpenBLAS (see the header for why it is not linked).
#define _GNU_SOURCE  // dladdr
#include "CDeepseekBLAS.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const cdsk_coretype_variable = "OPENBLAS_CORETYPE";

const char *cdsk_blas_user_coretype(void) {
    const char *value = getenv(cdsk_coretype_variable);
    return (value != NULL && value[0] != 0) ? value : NULL;
}

static void cdsk_copy_string(char *dst, size_t capacity, const char *src) {
    if (dst == NULL || capacity == 0) return;
    snprintf(dst, capacity, "%s", src != NULL ? src : "");
}

int cdsk_blas_open(
    const char *const *names, int name_count, const char *coretype, cdsk_blas_table *table,
    char *path, size_t path_capacity, char *error, size_t error_capacity, int *flags) {
    memset(table, 0, sizeof(*table));
    *flags = 0;
    cdsk_copy_string(error, error_capacity, "");
    cdsk_copy_string(path, path_capacity, "");

    // A library that is already mapped initialised long ago: exporting the variable now would
    // change nothing, so say so instead of pretending the choice took effect.
    void *handle = NULL;
    const char *opened = NULL;
    for (int i = 0; i < name_count && handle == NULL; i++) {
        handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD);
        if (handle != NULL) {
            opened = names[i];
            *flags |= CDSK_BLAS_FLAG_ALREADY_LOADED;
        }
    }

    int exported = 0;
    if (handle == NULL && coretype != NULL && coretype[0] != 0 && cdsk_blas_user_coretype() == NULL) {
        // overwrite = 0: a value the user set always wins.
        exported = setenv(cdsk_coretype_variable, coretype, 0) == 0;
        if (exported) *flags |= CDSK_BLAS_FLAG_SET_CORETYPE;
    }
    char last_error[512] = "";
    for (int i = 0; i < name_count && handle == NULL; i++) {
        handle = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (handle != NULL) {
            opened = names[i];
        } else {
            const char *message = dlerror();
            cdsk_copy_string(last_error, sizeof(last_error), message != NULL ? message : names[i]);
        }
    }
    // OpenBLAS read the variable in its constructor; leave the environment as it was found.
    if (exported) unsetenv(cdsk_coretype_variable);

    if (handle == NULL) {
        cdsk_copy_string(error, error_capacity, last_error);
        return CDSK_BLAS_NOT_FOUND;
    }
    cdsk_copy_string(path, path_capacity, opened);

    struct {
        const char *name;
        void **slot;
    } symbols[] = {
        {"cblas_sgemm", (void **)&table->sgemm},
        {"cblas_dgemm", (void **)&table->dgemm},
        {"openblas_get_corename", (void **)&table->get_corename},
        {"openblas_get_config", (void **)&table->get_config},
        {"openblas_set_num_threads", (void **)&table->set_num_threads},
        {"openblas_get_num_threads", (void **)&table->get_num_threads},
    };
    for (size_t i = 0; i < sizeof(symbols) / sizeof(symbols[0]); i++) {
        *symbols[i].slot = dlsym(handle, symbols[i].name);
        if (*symbols[i].slot == NULL) {
            snprintf(error, error_capacity, "%s has no symbol %s", opened, symbols[i].name);
            memset(table, 0, sizeof(*table));
            // The handle stays open: OpenBLAS cannot be unloaded safely once its threads started.
            return CDSK_BLAS_MISSING_SYMBOL;
        }
    }
    // Report the file that was really mapped (the soname is usually a link chosen by the
    // distribution's alternatives system).
    Dl_info info;
    if (dladdr((void *)table->sgemm, &info) != 0 && info.dli_fname != NULL) {
        cdsk_copy_string(path, path_capacity, info.dli_fname);
    }
    return CDSK_BLAS_OK;
}

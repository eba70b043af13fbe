#include "CDeepseekVerbs.h"
#include "VerbsInternal.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
// verbs.h (through VerbsInternal.h) only for the types and function signatures: every function is
// resolved with dlsym, so nothing here links against libibverbs.

typedef struct ibv_device **(*cdsk_get_device_list_fn)(int *);
typedef void (*cdsk_free_device_list_fn)(struct ibv_device **);
typedef const char *(*cdsk_get_device_name_fn)(struct ibv_device *);
typedef struct ibv_context *(*cdsk_open_device_fn)(struct ibv_device *);
typedef int (*cdsk_query_device_fn)(struct ibv_context *, struct ibv_device_attr *);
typedef int (*cdsk_close_device_fn)(struct ibv_context *);

static void cdsk_copy(char *dst, size_t size, const char *src) {
    if (src == NULL) src = "";
    strncpy(dst, src, size - 1);
    dst[size - 1] = '\0';
}

int cdsk_verbs_probe(cdsk_verbs_probe_result *out) {
    memset(out, 0, sizeof(*out));

    void *library = dlopen("libibverbs.so.1", RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        out->status = CDSK_VERBS_LIBRARY_MISSING;
        cdsk_copy(out->detail, sizeof(out->detail), dlerror());
        return out->status;
    }

    cdsk_get_device_list_fn get_list = (cdsk_get_device_list_fn)dlsym(library, "ibv_get_device_list");
    cdsk_free_device_list_fn free_list = (cdsk_free_device_list_fn)dlsym(library, "ibv_free_device_list");
    cdsk_get_device_name_fn get_name = (cdsk_get_device_name_fn)dlsym(library, "ibv_get_device_name");
    if (get_list == NULL || free_list == NULL || get_name == NULL) {
        out->status = CDSK_VERBS_SYMBOL_MISSING;
        snprintf(out->detail, sizeof(out->detail), "libibverbs.so.1 lacks %s",
                 get_list == NULL ? "ibv_get_device_list"
                 : free_list == NULL ? "ibv_free_device_list" : "ibv_get_device_name");
        dlclose(library);
        return out->status;
    }
    // Optional: used only to describe devices that exist.
    cdsk_open_device_fn open_device = (cdsk_open_device_fn)dlsym(library, "ibv_open_device");
    cdsk_query_device_fn query_device = (cdsk_query_device_fn)dlsym(library, "ibv_query_device");
    cdsk_close_device_fn close_device = (cdsk_close_device_fn)dlsym(library, "ibv_close_device");
    cdsk_verbs_query_port_fn query_port = (cdsk_verbs_query_port_fn)dlsym(library, "ibv_query_port");

    int count = 0;
    errno = 0;
    struct ibv_device **list = get_list(&count);
    if (list == NULL) {
        out->status = CDSK_VERBS_LIST_FAILED;
        out->list_errno = errno;
        // ENOSYS is what a host without RDMA kernel support (no uverbs devices) answers.
        snprintf(out->detail, sizeof(out->detail), "no RDMA device: ibv_get_device_list failed: %s%s",
                 strerror(out->list_errno),
                 out->list_errno == ENOSYS ? " (the kernel exposes no RDMA devices)" : "");
        dlclose(library);
        return out->status;
    }

    out->status = CDSK_VERBS_OK;
    out->device_count = count;
    for (int i = 0; i < count && i < CDSK_VERBS_MAX_DEVICES; i++) {
        cdsk_verbs_device *device = &out->devices[i];
        cdsk_copy(device->name, sizeof(device->name), get_name(list[i]));
        if (open_device == NULL || query_device == NULL || close_device == NULL) continue;
        struct ibv_context *context = open_device(list[i]);
        if (context == NULL) continue;
        struct ibv_device_attr attributes;
        if (query_device(context, &attributes) == 0) {
            device->queried = 1;
            device->port_count = attributes.phys_port_cnt;
            device->max_qp = attributes.max_qp;
            cdsk_copy(device->firmware, sizeof(device->firmware), attributes.fw_ver);
            // A device without an ACTIVE port (cable out, subnet manager not running) cannot carry
            // traffic; count the usable ones so the probe can say so.
            for (int port = 1; query_port != NULL && port <= attributes.phys_port_cnt; port++) {
                struct ibv_port_attr port_attributes;
                if (cdsk_verbs_query_port_with(query_port, context, (uint8_t)port, &port_attributes) != 0) continue;
                if (port_attributes.state != IBV_PORT_ACTIVE) continue;
                if (device->active_port_count == 0) device->link_layer = port_attributes.link_layer;
                device->active_port_count++;
            }
        }
        close_device(context);
    }
    if (count == 0) {
        cdsk_copy(out->detail, sizeof(out->detail),
                  "no RDMA device: libibverbs loaded but ibv_get_device_list returned 0 devices");
    }
    free_list(list);
    // Keep the library loaded: providers registered by it may be needed again and unloading
    // verbs providers is known to be unreliable.
    return out->status;
}

#ifndef CDEEPSEEK_VERBS_H
#define CDEEPSEEK_VERBS_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Why the probe found no usable RDMA device.
///
/// libibverbs is opened with dlopen at run time (not linked) so that hosts without it still run
/// everything else; this shim reports what happened in fixed fields Swift can read directly.
typedef enum cdsk_verbs_status {
    /// The library loaded and the device list was read (it may be empty).
    CDSK_VERBS_OK = 0,
    /// dlopen("libibverbs.so.1") failed; `detail` holds dlerror().
    CDSK_VERBS_LIBRARY_MISSING = 1,
    /// The library loaded but a required symbol was absent; `detail` names it.
    CDSK_VERBS_SYMBOL_MISSING = 2,
    /// ibv_get_device_list returned NULL; `list_errno` holds errno (ENOSYS: no kernel support).
    CDSK_VERBS_LIST_FAILED = 3,
} cdsk_verbs_status;

/// The most devices the probe describes; more are counted in `device_count` but not listed.
#define CDSK_VERBS_MAX_DEVICES 8

/// One RDMA device as the probe saw it.
typedef struct cdsk_verbs_device {
    /// Kernel device name, e.g. "mlx5_0".
    char name[64];
    /// 1 when ibv_open_device and ibv_query_device succeeded and the fields below are valid.
    int queried;
    /// Number of physical ports.
    int port_count;
    /// Largest number of queue pairs the device supports.
    int max_qp;
    /// Firmware version string.
    char firmware[64];
} cdsk_verbs_device;

/// The result of probing for RDMA devices.
typedef struct cdsk_verbs_probe_result {
    cdsk_verbs_status status;
    /// Devices reported by ibv_get_device_list (0 when none or on failure).
    int device_count;
    /// errno from a failed ibv_get_device_list.
    int list_errno;
    /// A human-readable reason when status is not CDSK_VERBS_OK.
    char detail[256];
    cdsk_verbs_device devices[CDSK_VERBS_MAX_DEVICES];
} cdsk_verbs_probe_result;

/// Loads libibverbs, lists RDMA devices, queries each (open, query, close) and fills `out`.
/// Returns `out->status`. Safe to call on hosts without the library or without devices.
int cdsk_verbs_probe(cdsk_verbs_probe_result *out);

#ifdef __cplusplus
}
#endif

#endif

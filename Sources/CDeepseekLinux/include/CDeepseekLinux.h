#ifndef CDEEPSEEK_LINUX_H
#define CDEEPSEEK_LINUX_H

// <liburing.h> pulls in <sys/socket.h> and friends; when Swift's Glibc module has not yet seen
// fd_set, a clean debug build fails on a module clash over it. Including these two first fixes
// the order for every importer.
#include <stdlib.h>
#include <sys/select.h>
#include <liburing.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// What the running kernel offers through io_uring, as seen from this process.
///
/// Swift cannot call liburing's probe directly in a convenient way: the probe is a variable-length
/// struct whose op table Swift imports as an unbounded array, and most helpers are `static inline`.
/// This shim flattens the answer into fixed fields.
typedef struct cdsk_uring_probe_result {
    /// 0 when `io_uring_queue_init(8, …)` succeeded; otherwise the positive errno it returned
    /// (ENOSYS: kernel without io_uring; EPERM: disabled by sysctl or a seccomp filter).
    int init_errno;
    /// 1 when the kernel answered the op probe (kernels ≥ 5.6), 0 otherwise.
    int probe_available;
    /// The highest opcode the kernel knows, or -1 without a probe.
    int last_op;
    /// 1 when the opcode is supported, 0 when not (or unknown).
    int supports_send;
    int supports_recv;
    int supports_send_zc;
    int supports_read_fixed;
    int supports_write_fixed;
    /// Kernel release from uname(2), e.g. "6.1.0-18-amd64"; empty if uname failed.
    char kernel_release[65];
} cdsk_uring_probe_result;

/// Sets up a small ring, asks the kernel which operations it supports, tears the ring down and
/// fills `out`. Returns 0 when io_uring works, otherwise the errno of the failed set-up (also in
/// `out->init_errno`). Never aborts.
int cdsk_uring_probe(cdsk_uring_probe_result *out);

#ifdef __cplusplus
}
#endif

#endif

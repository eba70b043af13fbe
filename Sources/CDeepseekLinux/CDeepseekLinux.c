#include "CDeepseekLinux.h"

#include <string.h>
#include <sys/utsname.h>

static int cdsk_op_supported(const struct io_uring_probe *probe, int op) {
    return probe != NULL && io_uring_opcode_supported(probe, op) ? 1 : 0;
}

int cdsk_uring_probe(cdsk_uring_probe_result *out) {
    memset(out, 0, sizeof(*out));
    out->last_op = -1;

    struct utsname name;
    if (uname(&name) == 0) {
        strncpy(out->kernel_release, name.release, sizeof(out->kernel_release) - 1);
    }

    struct io_uring ring;
    // liburing returns -errno rather than setting errno.
    int rc = io_uring_queue_init(8, &ring, 0);
    if (rc < 0) {
        out->init_errno = -rc;
        return -rc;
    }

    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
    if (probe != NULL) {
        out->probe_available = 1;
        out->last_op = probe->last_op;
        out->supports_send = cdsk_op_supported(probe, IORING_OP_SEND);
        out->supports_recv = cdsk_op_supported(probe, IORING_OP_RECV);
        out->supports_send_zc = cdsk_op_supported(probe, IORING_OP_SEND_ZC);
        out->supports_read_fixed = cdsk_op_supported(probe, IORING_OP_READ_FIXED);
        out->supports_write_fixed = cdsk_op_supported(probe, IORING_OP_WRITE_FIXED);
        io_uring_free_probe(probe);
    }
    io_uring_queue_exit(&ring);
    return 0;
}

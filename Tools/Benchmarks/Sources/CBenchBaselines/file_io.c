#define _GNU_SOURCE
// The raw io_uring file I/O loop the SSD tier is measured against: the same requests, queue
// depth and O_DIRECT choice, with nothing in between (no tensors, no copies, no actor).
#include <stdlib.h>
#include <sys/select.h>
#include <liburing.h>

#include "CBenchBaselines.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double cbench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double cbench_uring_file_io(const char *path, int write, int direct, const uint64_t *offsets, int count,
                            uint32_t request_bytes, int queue_depth) {
    int flags = (write ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | (direct ? O_DIRECT : 0);
    int fd = open(path, flags, 0644);
    if (fd < 0) return -errno;
    struct io_uring ring;
    int rc = io_uring_queue_init((unsigned)queue_depth, &ring, 0);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    struct iovec *iov = calloc((size_t)queue_depth, sizeof(struct iovec));
    for (int i = 0; i < queue_depth; i++) {
        void *p = NULL;
        if (posix_memalign(&p, 4096, request_bytes) != 0) return -ENOMEM;
        memset(p, 0x5A, request_bytes);
        iov[i].iov_base = p;
        iov[i].iov_len = request_bytes;
    }
    int fixed = io_uring_register_buffers(&ring, iov, (unsigned)queue_depth) == 0;
    int *free_slots = calloc((size_t)queue_depth, sizeof(int));
    int free_count = queue_depth;
    for (int i = 0; i < queue_depth; i++) free_slots[i] = i;

    double start = cbench_now();
    int next = 0, done = 0, inflight = 0;
    double result = 0;
    while (done < count) {
        while (next < count && free_count > 0) {
            int slot = free_slots[--free_count];
            struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
            void *buf = iov[slot].iov_base;
            if (write) {
                if (fixed) io_uring_prep_write_fixed(sqe, fd, buf, request_bytes, offsets[next], slot);
                else io_uring_prep_write(sqe, fd, buf, request_bytes, offsets[next]);
            } else {
                if (fixed) io_uring_prep_read_fixed(sqe, fd, buf, request_bytes, offsets[next], slot);
                else io_uring_prep_read(sqe, fd, buf, request_bytes, offsets[next]);
            }
            io_uring_sqe_set_data64(sqe, (uint64_t)slot);
            next++;
            inflight++;
        }
        rc = io_uring_submit_and_wait(&ring, 1);
        if (rc < 0 && rc != -EINTR) {
            result = rc;
            goto out;
        }
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            if (cqe->res < 0) result = cqe->res;
            free_slots[free_count++] = (int)cqe->user_data;
            inflight--;
            done++;
        }
        io_uring_cq_advance(&ring, seen);
        if (result < 0) goto out;
    }
    result = cbench_now() - start;
out:
    io_uring_queue_exit(&ring);
    for (int i = 0; i < queue_depth; i++) free(iov[i].iov_base);
    free(iov);
    free(free_slots);
    close(fd);
    return result;
}

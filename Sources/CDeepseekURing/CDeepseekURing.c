#define _GNU_SOURCE
// See include/CDeepseekURing.h for why this layer exists. <stdlib.h> and <sys/select.h> come
// before <liburing.h> so that fd_set is defined once, by the system headers, in every build.
#include <stdlib.h>
#include <sys/select.h>
#include <liburing.h>

#include "CDeepseekURing.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <unistd.h>

struct cdskur_ring {
    struct io_uring ring;
};

static int cdskur_supported(const struct io_uring_probe *probe, int op) {
    return probe != NULL && io_uring_opcode_supported(probe, op) ? 1 : 0;
}

int cdskur_probe(cdskur_probe_info *out) {
    memset(out, 0, sizeof(*out));
    struct utsname name;
    if (uname(&name) == 0) {
        strncpy(out->kernel_release, name.release, sizeof(out->kernel_release) - 1);
    }
    struct io_uring ring;
    int rc = io_uring_queue_init(4, &ring, 0);
    if (rc < 0) {
        out->init_errno = -rc;
        return rc;
    }
    struct io_uring_probe *probe = io_uring_get_probe_ring(&ring);
    if (probe != NULL) {
        out->has_probe = 1;
        out->op_accept = cdskur_supported(probe, IORING_OP_ACCEPT);
        out->op_connect = cdskur_supported(probe, IORING_OP_CONNECT);
        out->op_recv = cdskur_supported(probe, IORING_OP_RECV);
        out->op_send = cdskur_supported(probe, IORING_OP_SEND);
        out->op_send_zc = cdskur_supported(probe, IORING_OP_SEND_ZC);
        out->op_read = cdskur_supported(probe, IORING_OP_READ);
        out->op_read_fixed = cdskur_supported(probe, IORING_OP_READ_FIXED);
        out->op_shutdown = cdskur_supported(probe, IORING_OP_SHUTDOWN);
        out->op_close = cdskur_supported(probe, IORING_OP_CLOSE);
        out->op_cancel = cdskur_supported(probe, IORING_OP_ASYNC_CANCEL);
        io_uring_free_probe(probe);
    }
    io_uring_queue_exit(&ring);
    return 0;
}

cdskur_ring *cdskur_ring_create(unsigned entries, int *error) {
    cdskur_ring *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        *error = -ENOMEM;
        return NULL;
    }
    // Newest first: one submitting thread with task work run only when it waits (6.1+), then
    // cooperative task running (5.19+), then the plain ring. Older kernels reject unknown flags
    // with EINVAL, so each step down is safe.
    const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        struct io_uring_params params;
        memset(&params, 0, sizeof(params));
        params.flags = attempts[i];
        rc = io_uring_queue_init_params(entries, &r->ring, &params);
        if (rc != -EINVAL) break;
    }
    if (rc < 0) {
        free(r);
        *error = rc;
        return NULL;
    }
    // Saves an fd lookup on every io_uring_enter; optional (5.18+).
    (void)io_uring_register_ring_fd(&r->ring);
    *error = 0;
    return r;
}

void cdskur_ring_destroy(cdskur_ring *ring) {
    if (ring == NULL) return;
    io_uring_queue_exit(&ring->ring);
    free(ring);
}

int cdskur_register_buffers(cdskur_ring *ring, void *const *bases, const size_t *lengths, unsigned count) {
    struct iovec *iov = calloc(count, sizeof(struct iovec));
    if (iov == NULL) return -ENOMEM;
    for (unsigned i = 0; i < count; i++) {
        iov[i].iov_base = bases[i];
        iov[i].iov_len = lengths[i];
    }
    int rc = io_uring_register_buffers(&ring->ring, iov, count);
    free(iov);
    return rc;
}

static struct io_uring_sqe *cdskur_sqe(cdskur_ring *ring) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring->ring);
    if (sqe == NULL) {
        // The submission queue is full: hand what is queued to the kernel and try once more.
        io_uring_submit(&ring->ring);
        sqe = io_uring_get_sqe(&ring->ring);
    }
    return sqe;
}

#define CDSKUR_PREP(call)                              \
    struct io_uring_sqe *sqe = cdskur_sqe(ring);       \
    if (sqe == NULL) return -EBUSY;                    \
    call;                                              \
    io_uring_sqe_set_data64(sqe, user_data);           \
    return 0

int cdskur_prep_accept(cdskur_ring *ring, int fd, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC));
}

int cdskur_prep_connect(cdskur_ring *ring, int fd, const void *address, uint32_t length, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_connect(sqe, fd, (const struct sockaddr *)address, (socklen_t)length));
}

int cdskur_prep_read_fixed(cdskur_ring *ring, int fd, void *buffer, uint32_t length, int index, uint64_t user_data) {
    // Offset -1: sockets have no file position; read "from the current position".
    CDSKUR_PREP(io_uring_prep_read_fixed(sqe, fd, buffer, length, (uint64_t)-1, index));
}

int cdskur_prep_recv(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_recv(sqe, fd, buffer, length, 0));
}

int cdskur_prep_recv_all(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t user_data) {
    // MSG_WAITALL on a stream socket: the kernel keeps receiving until `length` bytes are in
    // (or the stream ends or fails), so a large segment costs one completion, not one per chunk.
    CDSKUR_PREP(io_uring_prep_recv(sqe, fd, buffer, length, MSG_WAITALL));
}

int cdskur_prep_read(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_read(sqe, fd, buffer, length, (uint64_t)-1));
}

int cdskur_prep_send(cdskur_ring *ring, int fd, const void *buffer, uint32_t length, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_send(sqe, fd, buffer, length, MSG_NOSIGNAL));
}

int cdskur_prep_send_zc(cdskur_ring *ring, int fd, const void *buffer, uint32_t length, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_send_zc(sqe, fd, buffer, length, MSG_NOSIGNAL, 0));
}

long cdskur_send_now(int fd, const void *first, size_t first_length, const void *second, size_t second_length) {
    struct iovec parts[2] = {
        {.iov_base = (void *)first, .iov_len = first_length},
        {.iov_base = (void *)second, .iov_len = second_length},
    };
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = parts;
    message.msg_iovlen = second_length > 0 ? 2 : 1;
    ssize_t n = sendmsg(fd, &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    return n < 0 ? -errno : (long)n;
}

int cdskur_prep_shutdown(cdskur_ring *ring, int fd, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_shutdown(sqe, fd, SHUT_RDWR));
}

int cdskur_prep_close(cdskur_ring *ring, int fd, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_close(sqe, fd));
}

int cdskur_prep_cancel(cdskur_ring *ring, uint64_t target, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_cancel64(sqe, target, 0));
}

int cdskur_submit_and_wait(cdskur_ring *ring, unsigned wait_nr, int64_t timeout_ns) {
    if (timeout_ns < 0) {
        return io_uring_submit_and_wait(&ring->ring, wait_nr);
    }
    struct __kernel_timespec ts;
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    struct io_uring_cqe *cqe = NULL;
    return io_uring_submit_and_wait_timeout(&ring->ring, &cqe, wait_nr, &ts, NULL);
}

unsigned cdskur_reap(cdskur_ring *ring, cdskur_completion *out, unsigned max) {
    unsigned head;
    unsigned n = 0;
    unsigned seen = 0;
    struct io_uring_cqe *cqe;
    io_uring_for_each_cqe(&ring->ring, head, cqe) {
        if (n == max) break;
        seen++;
        // liburing's own timeout entries (kernels without EXT_ARG) are not ours.
        if (cqe->user_data == LIBURING_UDATA_TIMEOUT) continue;
        out[n].user_data = cqe->user_data;
        out[n].res = cqe->res;
        out[n].flags = cqe->flags;
        n++;
    }
    io_uring_cq_advance(&ring->ring, seen);
    return n;
}

int cdskur_resolve_tcp(const char *host, uint16_t port, void *out, uint32_t capacity, uint32_t *length) {
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *result = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &result);
    if (rc != 0 || result == NULL) return -ENOENT;
    int status = -EINVAL;
    for (struct addrinfo *a = result; a != NULL; a = a->ai_next) {
        if (a->ai_addrlen > capacity) continue;
        if (a->ai_family == AF_INET) {
            struct sockaddr_in *in = (struct sockaddr_in *)a->ai_addr;
            in->sin_port = htons(port);
        } else if (a->ai_family == AF_INET6) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)a->ai_addr;
            in6->sin6_port = htons(port);
        } else {
            continue;
        }
        memcpy(out, a->ai_addr, a->ai_addrlen);
        *length = (uint32_t)a->ai_addrlen;
        status = 0;
        break;
    }
    freeaddrinfo(result);
    return status;
}

int cdskur_unix_address(const char *path, void *out, uint32_t capacity, uint32_t *length) {
    struct sockaddr_un un;
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof(un.sun_path) || capacity < sizeof(un)) return -ENAMETOOLONG;
    memset(&un, 0, sizeof(un));
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, path, n);
    memcpy(out, &un, sizeof(un));
    *length = (uint32_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    return 0;
}

int cdskur_address_family(const void *address) { return ((const struct sockaddr *)address)->sa_family; }

int cdskur_family_is_unix(int family) { return family == AF_UNIX; }

int cdskur_listen(const void *address, uint32_t length, int backlog, uint16_t *bound_port) {
    int family = cdskur_address_family(address);
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    if (family != AF_UNIX) {
        int one = 1;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) goto fail;
    }
    if (bind(fd, (const struct sockaddr *)address, (socklen_t)length) < 0) goto fail;
    if (listen(fd, backlog) < 0) goto fail;
    *bound_port = 0;
    if (family != AF_UNIX) {
        struct sockaddr_storage bound;
        socklen_t bound_length = sizeof(bound);
        if (getsockname(fd, (struct sockaddr *)&bound, &bound_length) < 0) goto fail;
        if (bound.ss_family == AF_INET) *bound_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        if (bound.ss_family == AF_INET6) *bound_port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    }
    return fd;
fail:;
    int saved = errno;
    close(fd);
    return -saved;
}

int cdskur_stream_socket(int family) {
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

int cdskur_set_nodelay(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ? -errno : 0;
}

int cdskur_peer_is_loopback(int fd) {
    struct sockaddr_storage peer;
    socklen_t length = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &length) < 0) return -errno;
    if (peer.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&peer;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (peer.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&peer;
        if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return 1;
        return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
    }
    return 0;
}

int cdskur_unlink_socket(const char *path) {
    struct stat st;
    if (lstat(path, &st) < 0) return errno == ENOENT ? 0 : -errno;
    if (!S_ISSOCK(st.st_mode)) return -EEXIST;
    return unlink(path) < 0 ? -errno : 0;
}

int cdskur_eventfd(void) {
    // Blocking on purpose: io_uring honours O_NONBLOCK and would answer the ring's read with
    // EAGAIN instead of waiting. Writers never block (the counter cannot realistically overflow).
    int fd = eventfd(0, EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int cdskur_eventfd_signal(int fd) {
    uint64_t one = 1;
    while (write(fd, &one, sizeof(one)) < 0) {
        if (errno != EINTR) return -errno;
    }
    return 0;
}

int cdskur_close(int fd) { return close(fd) < 0 ? -errno : 0; }

int cdskur_random_bytes(void *buffer, size_t length) {
    size_t done = 0;
    while (done < length) {
        ssize_t n = getrandom((char *)buffer + done, length - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return 0;
}

const char *cdskur_strerror(int error) { return strerror(error < 0 ? -error : error); }

void cdskur_name_thread(const char *name) { (void)pthread_setname_np(pthread_self(), name); }

// ---------------------------------------------------------------------------------------------
// File I/O (the storage tiers).
// ---------------------------------------------------------------------------------------------

#include <linux/magic.h>
#include <stdio.h>
#include <sys/statfs.h>

int cdskur_file_open(const char *path, int flags, int *direct) {
    int oflags = O_CLOEXEC;
    if ((flags & CDSKUR_FILE_READ) && (flags & CDSKUR_FILE_WRITE)) oflags |= O_RDWR;
    else if (flags & CDSKUR_FILE_WRITE) oflags |= O_WRONLY;
    else oflags |= O_RDONLY;
    if (flags & CDSKUR_FILE_CREATE) oflags |= O_CREAT;
    if (flags & CDSKUR_FILE_TRUNCATE) oflags |= O_TRUNC;
    if (flags & CDSKUR_FILE_EXCLUSIVE) oflags |= O_EXCL;
    *direct = 0;
    if (flags & CDSKUR_FILE_DIRECT) {
        int fd = open(path, oflags | O_DIRECT, 0644);
        if (fd >= 0) {
            *direct = 1;
            return fd;
        }
        // tmpfs and some FUSE or network file systems refuse O_DIRECT: fall back to buffered I/O.
        if (errno != EINVAL) return -errno;
    }
    int fd = open(path, oflags, 0644);
    return fd < 0 ? -errno : fd;
}

int cdskur_file_reserve(int fd, uint64_t length) {
    if (length == 0) return 0;
    if (fallocate(fd, 0, 0, (off_t)length) == 0) return 0;
    if (errno != EOPNOTSUPP && errno != ENOSYS) return -errno;
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    if ((uint64_t)st.st_size >= length) return 0;
    return ftruncate(fd, (off_t)length) < 0 ? -errno : 0;
}

int cdskur_file_truncate(int fd, uint64_t length) { return ftruncate(fd, (off_t)length) < 0 ? -errno : 0; }

int64_t cdskur_file_size(int fd) {
    struct stat st;
    if (fstat(fd, &st) < 0) return -errno;
    return (int64_t)st.st_size;
}

int cdskur_file_sync(int fd, int datasync) {
    int rc = datasync ? fdatasync(fd) : fsync(fd);
    return rc < 0 ? -errno : 0;
}

int cdskur_directory_sync(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = fsync(fd) < 0 && errno != EINVAL ? -errno : 0;
    close(fd);
    return rc;
}

int cdskur_file_rename(const char *from, const char *to) { return rename(from, to) < 0 ? -errno : 0; }

int cdskur_file_unlink(const char *path) { return unlink(path) < 0 ? -errno : 0; }

int cdskur_file_system(const char *path, uint64_t *magic, const char **name) {
    struct statfs fs;
    if (statfs(path, &fs) < 0) return -errno;
    *magic = (uint64_t)fs.f_type;
    switch ((unsigned long)fs.f_type) {
    case EXT4_SUPER_MAGIC: *name = "ext4"; break;  // ext2/3/4 share the magic
    case XFS_SUPER_MAGIC: *name = "xfs"; break;
    case BTRFS_SUPER_MAGIC: *name = "btrfs"; break;
    case TMPFS_MAGIC: *name = "tmpfs"; break;
    case OVERLAYFS_SUPER_MAGIC: *name = "overlay"; break;
    case NFS_SUPER_MAGIC: *name = "nfs"; break;
    case 0x65735546: *name = "fuse"; break;
    default: *name = "unknown"; break;
    }
    return 0;
}

uint32_t cdskur_direct_alignment(int fd) {
#ifdef STATX_DIOALIGN
    struct statx sx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 && (sx.stx_mask & STATX_DIOALIGN)) {
        uint32_t a = sx.stx_dio_mem_align > sx.stx_dio_offset_align ? sx.stx_dio_mem_align : sx.stx_dio_offset_align;
        if (a >= 512) return a;
    }
#else
    (void)fd;
#endif
    return 4096;
}

int cdskur_prep_read_at(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t offset, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_read(sqe, fd, buffer, length, offset));
}

int cdskur_prep_write_at(cdskur_ring *ring, int fd, const void *buffer, uint32_t length, uint64_t offset, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_write(sqe, fd, buffer, length, offset));
}

int cdskur_prep_read_fixed_at(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t offset, int index, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_read_fixed(sqe, fd, buffer, length, offset, index));
}

int cdskur_prep_write_fixed_at(cdskur_ring *ring, int fd, const void *buffer, uint32_t length, uint64_t offset, int index, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_write_fixed(sqe, fd, buffer, length, offset, index));
}

int cdskur_prep_fsync(cdskur_ring *ring, int fd, int datasync, int drain, uint64_t user_data) {
    CDSKUR_PREP(io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0); if (drain) sqe->flags |= IOSQE_IO_DRAIN);
}

int cdskur_unregister_buffers(cdskur_ring *ring) { return io_uring_unregister_buffers(&ring->ring); }

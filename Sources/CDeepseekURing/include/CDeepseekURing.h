#ifndef CDEEPSEEK_URING_H
#define CDEEPSEEK_URING_H

// A small C layer between the io_uring transport and liburing.
//
// Why a shim: most of liburing is `static inline` functions over structs whose layout Swift
// would have to mirror (`io_uring_sqe`, the probe's flexible op array), and socket addresses are
// unions Swift handles clumsily. This header exposes only opaque handles, fixed-size structs and
// plain integers, so <liburing.h> stays inside the .c file. Were it ever included here, <stdlib.h>
// and <sys/select.h> would have to come first (a clean debug build otherwise fails on a module
// clash over fd_set).
//
// Conventions: every function returns 0 or a non-negative value on success and a negative errno
// on failure (as liburing does); nothing aborts.

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One io_uring instance (opaque: `struct io_uring` lives in the .c file).
typedef struct cdskur_ring cdskur_ring;

/// A completion copied out of the completion queue.
typedef struct cdskur_completion {
    uint64_t user_data;
    int32_t res;
    uint32_t flags;
} cdskur_completion;

/// Completion flags the transport looks at (copies of IORING_CQE_F_*).
enum {
    CDSKUR_CQE_F_MORE = 1u << 1,
    CDSKUR_CQE_F_NOTIF = 1u << 3,
};

/// What the running kernel offers, flattened for Swift.
typedef struct cdskur_probe_info {
    /// 0 when a ring could be set up; otherwise the errno (ENOSYS: no io_uring; EPERM: disabled).
    int init_errno;
    /// 1 when the kernel answered the opcode probe (5.6 and later).
    int has_probe;
    int op_accept, op_connect, op_recv, op_send, op_send_zc, op_read, op_read_fixed, op_shutdown, op_close, op_cancel;
    /// uname(2) release string, e.g. "6.1.0-18-amd64".
    char kernel_release[65];
} cdskur_probe_info;

/// Sets up and tears down a small ring to see what works. Returns 0 or -errno of the set-up.
int cdskur_probe(cdskur_probe_info *out);

/// Creates a ring with `entries` submission slots, asking for single-issuer/deferred task-run
/// mode where the kernel has it. On failure returns NULL and sets `*error` to a negative errno.
cdskur_ring *cdskur_ring_create(unsigned entries, int *error);
/// Tears the ring down; the kernel cancels anything still in flight.
void cdskur_ring_destroy(cdskur_ring *ring);
/// Registers `count` fixed buffers for READ_FIXED. Returns 0 or -errno.
int cdskur_register_buffers(cdskur_ring *ring, void *const *bases, const size_t *lengths, unsigned count);

// Submission helpers. Each takes a free SQE (submitting what is queued first when the queue is
// full), fills it and tags it with `user_data`. Returns 0, or -EBUSY when no SQE could be had.
int cdskur_prep_accept(cdskur_ring *ring, int fd, uint64_t user_data);
int cdskur_prep_connect(cdskur_ring *ring, int fd, const void *address, uint32_t length, uint64_t user_data);
int cdskur_prep_read_fixed(cdskur_ring *ring, int fd, void *buffer, uint32_t length, int index, uint64_t user_data);
int cdskur_prep_recv(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t user_data);
/// A RECV with MSG_WAITALL: completes once `length` bytes arrived (or the stream ended or failed).
int cdskur_prep_recv_all(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t user_data);
int cdskur_prep_read(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t user_data);
int cdskur_prep_send(cdskur_ring *ring, int fd, const void *buffer, uint32_t length, uint64_t user_data);
int cdskur_prep_send_zc(cdskur_ring *ring, int fd, const void *buffer, uint32_t length, uint64_t user_data);
int cdskur_prep_shutdown(cdskur_ring *ring, int fd, uint64_t user_data);
int cdskur_prep_close(cdskur_ring *ring, int fd, uint64_t user_data);
int cdskur_prep_cancel(cdskur_ring *ring, uint64_t target, uint64_t user_data);

/// Submits what is queued and waits for at least `wait_nr` completions or `timeout_ns`
/// (negative: no limit). Returns the number submitted, or -errno (-ETIME on timeout, -EINTR).
int cdskur_submit_and_wait(cdskur_ring *ring, unsigned wait_nr, int64_t timeout_ns);
/// Copies up to `max` completions into `out` and marks them seen. Returns how many.
unsigned cdskur_reap(cdskur_ring *ring, cdskur_completion *out, unsigned max);

// Sockets. Addresses travel as opaque `struct sockaddr_storage` bytes.

/// Resolves a numeric or named host and a port into `out`; `*length` receives the size.
/// Returns 0, or -EINVAL / -ENOENT when the host does not resolve.
int cdskur_resolve_tcp(const char *host, uint16_t port, void *out, uint32_t capacity, uint32_t *length);
/// Builds a Unix-domain address. Returns 0 or -ENAMETOOLONG.
int cdskur_unix_address(const char *path, void *out, uint32_t capacity, uint32_t *length);
/// The address family of an address built above (AF_INET, AF_INET6 or AF_UNIX).
int cdskur_address_family(const void *address);
/// Whether the family is AF_UNIX.
int cdskur_family_is_unix(int family);
/// Creates, binds (SO_REUSEADDR for TCP) and listens. Returns the fd or -errno; `*bound_port`
/// receives the port actually bound (useful with port 0), 0 for Unix sockets.
int cdskur_listen(const void *address, uint32_t length, int backlog, uint16_t *bound_port);
/// Creates a close-on-exec stream socket of `family`. Returns the fd or -errno.
int cdskur_stream_socket(int family);
/// Turns off Nagle's algorithm. Returns 0 or -errno.
int cdskur_set_nodelay(int fd);
/// Whether a connected TCP socket's peer is on the loopback interface (127/8, ::1, or a v4-mapped
/// 127/8): 1 or 0, or -errno. Zero-copy sends to such a peer gain nothing: the kernel copies the
/// data when it delivers it to the local socket.
int cdskur_peer_is_loopback(int fd);
/// Removes a stale Unix socket file (only if it is a socket). Returns 0 or -errno.
int cdskur_unlink_socket(const char *path);
/// A close-on-exec eventfd (blocking, so the ring can wait on it). Returns the fd or -errno.
int cdskur_eventfd(void);
/// Adds 1 to an eventfd. Returns 0 or -errno.
int cdskur_eventfd_signal(int fd);
/// Writes `first` then `second` with one non-blocking sendmsg (MSG_DONTWAIT | MSG_NOSIGNAL), outside
/// the ring. Returns the bytes written (possibly fewer than asked) or -errno (-EAGAIN when the
/// socket buffer is full).
long cdskur_send_now(int fd, const void *first, size_t first_length, const void *second, size_t second_length);
/// close(2). Returns 0 or -errno.
int cdskur_close(int fd);
/// Fills `buffer` from the kernel's CSPRNG (getrandom). Returns 0 or -errno.
int cdskur_random_bytes(void *buffer, size_t length);
/// Names the calling thread (for debuggers and `top -H`); pthread_setname_np needs _GNU_SOURCE,
/// which Swift's Glibc module does not define.
void cdskur_name_thread(const char *name);
/// strerror for logs.
const char *cdskur_strerror(int error);


// ---------------------------------------------------------------------------------------------
// File I/O (the storage tiers). Positioned reads and writes, optionally from registered buffers,
// and fsync through the same ring; O_DIRECT where the file system allows it. Everything else in
// this header is about sockets and stays as it was.
// ---------------------------------------------------------------------------------------------

/// Open flags for `cdskur_file_open`.
enum {
    CDSKUR_FILE_READ = 1,
    CDSKUR_FILE_WRITE = 2,
    CDSKUR_FILE_CREATE = 4,
    CDSKUR_FILE_TRUNCATE = 8,
    /// Fail when the file exists (O_EXCL), for temporary files.
    CDSKUR_FILE_EXCLUSIVE = 16,
    /// Ask for O_DIRECT (no page cache); when the file system refuses it (EINVAL, e.g. tmpfs) the
    /// file is opened buffered and `*direct` says 0.
    CDSKUR_FILE_DIRECT = 32,
};

/// Opens `path` close-on-exec with `flags` (CDSKUR_FILE_*) and mode 0644 when creating.
/// Returns the fd or -errno; `*direct` receives 1 when O_DIRECT is in effect.
int cdskur_file_open(const char *path, int flags, int *direct);
/// Reserves `length` bytes from offset 0 (fallocate, falling back to ftruncate where the file
/// system has no fallocate). Returns 0 or -errno (-ENOSPC when the disk is full).
int cdskur_file_reserve(int fd, uint64_t length);
/// ftruncate(2). Returns 0 or -errno.
int cdskur_file_truncate(int fd, uint64_t length);
/// The file's size in bytes, or -errno.
int64_t cdskur_file_size(int fd);
/// fsync(2) (`datasync`: fdatasync) outside the ring. Returns 0 or -errno.
int cdskur_file_sync(int fd, int datasync);
/// Syncs a directory so a rename inside it is durable. EINVAL (file systems that cannot sync a
/// directory) counts as success. Returns 0 or -errno.
int cdskur_directory_sync(const char *path);
/// rename(2). Returns 0 or -errno.
int cdskur_file_rename(const char *from, const char *to);
/// unlink(2). Returns 0 or -errno (-ENOENT when there was nothing to remove).
int cdskur_file_unlink(const char *path);
/// The file system's magic number (statfs f_type) of `path` and its name when known
/// ("ext4", "xfs", "btrfs", "tmpfs", "overlay", …; "unknown" otherwise). Returns 0 or -errno.
int cdskur_file_system(const char *path, uint64_t *magic, const char **name);
/// The alignment O_DIRECT needs for buffers, offsets and lengths on the file's device (the
/// logical block size from statx where the kernel reports it, 4096 otherwise). Never below 512.
uint32_t cdskur_direct_alignment(int fd);

/// A positioned read of `length` bytes at `offset` into `buffer`.
int cdskur_prep_read_at(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t offset, uint64_t user_data);
/// A positioned write of `length` bytes at `offset` from `buffer`.
int cdskur_prep_write_at(cdskur_ring *ring, int fd, const void *buffer, uint32_t length, uint64_t offset, uint64_t user_data);
/// READ_FIXED at `offset` into registered buffer `index` (`buffer` lies inside it).
int cdskur_prep_read_fixed_at(cdskur_ring *ring, int fd, void *buffer, uint32_t length, uint64_t offset, int index, uint64_t user_data);
/// WRITE_FIXED at `offset` from registered buffer `index` (`buffer` lies inside it).
int cdskur_prep_write_fixed_at(cdskur_ring *ring, int fd, const void *buffer, uint32_t length, uint64_t offset, int index, uint64_t user_data);
/// fsync (or fdatasync with `datasync`) through the ring. With `drain`, the kernel starts it only
/// after everything submitted before it has completed (IOSQE_IO_DRAIN).
int cdskur_prep_fsync(cdskur_ring *ring, int fd, int datasync, int drain, uint64_t user_data);
/// Unregisters the ring's fixed buffers. Returns 0 or -errno.
int cdskur_unregister_buffers(cdskur_ring *ring);

#ifdef __cplusplus
}
#endif

#endif

// The raw io_uring ping-pong the remote-call group is measured against: the same two threads,
// the same loopback TCP pair (TCP_NODELAY) and the same 64-byte messages as the blocking
// baseline in transport.c, but every send and receive goes through an io_uring, one per thread,
// set up the way the transport sets up its own (single issuer, task work deferred to the
// waiting thread, registered ring fd). Each side makes exactly one io_uring_enter per round trip:
//
//   client: prep SEND(request) + prep RECV(reply), submit both and wait for both completions;
//   server: on the RECV completion of a request, prep SEND(reply) + prep RECV(next request),
//           submit both and wait for the next RECV (the SEND completes inline on loopback).
//
// No framing, no allocation, no locks, no thread other than these two: the floor of what an
// io_uring transport can do for one call at a time.

#define _GNU_SOURCE
#include <stdlib.h>
#include <sys/select.h>
#include <liburing.h>

#include "CBenchBaselines.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "transport_internal.h"

enum { TAG_SEND = 1, TAG_RECV = 2 };

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

// A ring like the transport's: newest flags first, stepping down on kernels that reject them.
static int ring_init(struct io_uring *ring) {
    const unsigned attempts[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN,
        0,
    };
    int rc = -EINVAL;
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        struct io_uring_params params;
        memset(&params, 0, sizeof params);
        params.flags = attempts[i];
        rc = io_uring_queue_init_params(8, ring, &params);
        if (rc != -EINVAL) break;
    }
    if (rc == 0) (void)io_uring_register_ring_fd(ring);
    return rc;
}

static void prep(struct io_uring *ring, int send, int fd, char *buffer, size_t bytes) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);  // never NULL: at most 2 of 8 in use
    if (send) io_uring_prep_send(sqe, fd, buffer, bytes, MSG_NOSIGNAL);
    else io_uring_prep_recv(sqe, fd, buffer, bytes, 0);
    io_uring_sqe_set_data64(sqe, send ? TAG_SEND : TAG_RECV);
}

// One side of the ping-pong: its ring, its buffers and what is left of the send and receive in
// flight. A short send or receive (never seen with 64 bytes on loopback, but legal) is
// resubmitted for the rest.
struct side {
    struct io_uring ring;
    int fd;
    size_t bytes;
    char *send_buffer, *recv_buffer;
    size_t sent, received;
    int send_pending, recv_pending;
};

// Submits what is prepared and waits until nothing of this side is in flight any more.
// Returns 0, or -1 on an error or the end of the stream.
static int complete(struct side *s) {
    while (s->send_pending || s->recv_pending) {
        // The completion queue is drained every time, so this waits for exactly what is out.
        int rc = io_uring_submit_and_wait(&s->ring, (unsigned)(s->send_pending + s->recv_pending));
        if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return -1;
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        int failed = 0;
        io_uring_for_each_cqe(&s->ring, head, cqe) {
            seen++;
            int res = cqe->res;
            if (cqe->user_data == TAG_SEND) {
                if (res < 0) { failed = 1; continue; }
                s->sent += (size_t)res;
                if (s->sent < s->bytes) prep(&s->ring, 1, s->fd, s->send_buffer + s->sent, s->bytes - s->sent);
                else s->send_pending = 0;
            } else {
                if (res <= 0) { failed = 1; continue; }
                s->received += (size_t)res;
                if (s->received < s->bytes) prep(&s->ring, 0, s->fd, s->recv_buffer + s->received, s->bytes - s->received);
                else s->recv_pending = 0;
            }
        }
        io_uring_cq_advance(&s->ring, seen);
        if (failed) return -1;
    }
    return 0;
}

static void start_send(struct side *s) {
    s->sent = 0;
    s->send_pending = 1;
    prep(&s->ring, 1, s->fd, s->send_buffer, s->bytes);
}

static void start_recv(struct side *s) {
    s->received = 0;
    s->recv_pending = 1;
    prep(&s->ring, 0, s->fd, s->recv_buffer, s->bytes);
}

struct uring_echo_job {
    int fd;
    size_t bytes;
    int64_t messages;
    int failed;
};

static void *uring_echo_main(void *arg) {
    struct uring_echo_job *job = arg;
    struct side s;
    memset(&s, 0, sizeof s);
    if (ring_init(&s.ring) != 0) {
        job->failed = 1;
        shutdown(job->fd, SHUT_RDWR);  // the client's receive ends instead of waiting forever
        return NULL;
    }
    s.fd = job->fd;
    s.bytes = job->bytes;
    s.send_buffer = calloc(1, job->bytes);
    s.recv_buffer = calloc(1, job->bytes);
    start_recv(&s);
    if (complete(&s) != 0) job->failed = 1;
    for (int64_t i = 0; !job->failed && i < job->messages; i++) {
        // The reply leaves and the next request's receive is armed in the same io_uring_enter,
        // which then sleeps until that request is in.
        memcpy(s.send_buffer, s.recv_buffer, s.bytes);
        start_send(&s);
        if (i + 1 < job->messages) start_recv(&s);
        if (complete(&s) != 0) job->failed = 1;
    }
    if (job->failed) shutdown(job->fd, SHUT_RDWR);
    io_uring_queue_exit(&s.ring);
    free(s.send_buffer);
    free(s.recv_buffer);
    return NULL;
}

double cbench_uring_pingpong(int64_t messages, size_t bytes, double *latencies) {
    int fds[2];
    if (bytes == 0 || cbench_loopback_pair(fds) != 0) return -1;
    struct uring_echo_job job = {fds[1], bytes, messages, 0};
    pthread_t thread;
    pthread_create(&thread, NULL, uring_echo_main, &job);
    struct side s;
    memset(&s, 0, sizeof s);
    int ring_ok = ring_init(&s.ring) == 0;
    int failed = !ring_ok;
    s.fd = fds[0];
    s.bytes = bytes;
    s.send_buffer = calloc(1, bytes);
    s.recv_buffer = calloc(1, bytes);
    double start = now_seconds();
    for (int64_t i = 0; !failed && i < messages; i++) {
        double t0 = now_seconds();
        // Request out and reply receive armed in one io_uring_enter, which returns with both done.
        start_send(&s);
        start_recv(&s);
        if (complete(&s) != 0) {
            failed = 1;
            break;
        }
        if (latencies) latencies[i] = now_seconds() - t0;
    }
    double elapsed = now_seconds() - start;
    // Shutting the client's end down ends the server's pending receive if this side failed.
    shutdown(fds[0], SHUT_RDWR);
    pthread_join(thread, NULL);
    if (ring_ok) io_uring_queue_exit(&s.ring);
    close(fds[0]);
    close(fds[1]);
    free(s.send_buffer);
    free(s.recv_buffer);
    return failed || job.failed ? -1 : elapsed;
}

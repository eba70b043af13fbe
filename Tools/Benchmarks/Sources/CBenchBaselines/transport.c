// Raw loopback TCP baselines for the transport groups: two threads in one process, blocking
// sockets, TCP_NODELAY, no framing beyond fixed-size messages. This is the floor an actor-system
// transport over the same loopback is compared with.

#define _GNU_SOURCE
#include "CBenchBaselines.h"
#include "transport_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int read_all(int fd, char *p, size_t n) {
    while (n > 0) {
        // MSG_WAITALL: the kernel keeps receiving until n bytes are in, one system call for a
        // large message instead of one per socket-buffer's worth.
        ssize_t r = recv(fd, p, n, MSG_WAITALL);
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void no_delay(int fd) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// A connected loopback pair: `fds[0]` the client end, `fds[1]` the accepted server end.
int cbench_loopback_pair(int fds[2]) {
    int listener = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0) return -1;
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 1) != 0
        || getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
        close(listener);
        return -1;
    }
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (client < 0 || connect(client, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(listener);
        if (client >= 0) close(client);
        return -1;
    }
    int server = accept(listener, NULL, NULL);
    close(listener);
    if (server < 0) {
        close(client);
        return -1;
    }
    no_delay(client);
    no_delay(server);
    fds[0] = client;
    fds[1] = server;
    return 0;
}

// MARK: Echo server thread

struct echo_job {
    int fd;
    size_t bytes;
    int64_t messages;
};

static void *echo_main(void *arg) {
    struct echo_job *job = arg;
    char *buffer = malloc(job->bytes);
    for (int64_t i = 0; i < job->messages; i++) {
        if (read_all(job->fd, buffer, job->bytes) != 0 || write_all(job->fd, buffer, job->bytes) != 0) break;
    }
    free(buffer);
    return NULL;
}

double cbench_tcp_pingpong(int64_t messages, size_t bytes, double *latencies) {
    int fds[2];
    if (cbench_loopback_pair(fds) != 0) return -1;
    struct echo_job job = {fds[1], bytes, messages};
    pthread_t thread;
    pthread_create(&thread, NULL, echo_main, &job);
    char *buffer = calloc(1, bytes);
    double start = now_seconds();
    double ok = 0;
    for (int64_t i = 0; i < messages; i++) {
        double t0 = now_seconds();
        if (write_all(fds[0], buffer, bytes) != 0 || read_all(fds[0], buffer, bytes) != 0) {
            ok = -1;
            break;
        }
        if (latencies) latencies[i] = now_seconds() - t0;
    }
    double elapsed = now_seconds() - start;
    close(fds[0]);
    pthread_join(thread, NULL);
    close(fds[1]);
    free(buffer);
    return ok < 0 ? -1 : elapsed;
}

double cbench_tcp_pipelined(int64_t messages, size_t bytes, int window) {
    int fds[2];
    if (cbench_loopback_pair(fds) != 0) return -1;
    struct echo_job job = {fds[1], bytes, messages};
    pthread_t thread;
    pthread_create(&thread, NULL, echo_main, &job);
    char *buffer = calloc(1, bytes);
    double start = now_seconds();
    int64_t sent = 0, received = 0;
    int failed = 0;
    // Keep `window` requests in flight: fill the window, then send one for each reply read.
    while (sent < messages && sent < window) {
        if (write_all(fds[0], buffer, bytes) != 0) { failed = 1; break; }
        sent++;
    }
    while (!failed && received < messages) {
        if (read_all(fds[0], buffer, bytes) != 0) { failed = 1; break; }
        received++;
        if (sent < messages) {
            if (write_all(fds[0], buffer, bytes) != 0) { failed = 1; break; }
            sent++;
        }
    }
    double elapsed = now_seconds() - start;
    close(fds[0]);
    pthread_join(thread, NULL);
    close(fds[1]);
    free(buffer);
    return failed ? -1 : elapsed;
}

// MARK: Stream

struct sink_job {
    int fd;
    size_t bytes;
    int64_t messages;
    char *buffer;
};

static void *sink_main(void *arg) {
    struct sink_job *job = arg;
    char ack = 1;
    for (int64_t i = 0; i < job->messages; i++) {
        if (read_all(job->fd, job->buffer, job->bytes) != 0) break;
        // Acknowledge each message, as a distributed call's reply does.
        if (write_all(job->fd, &ack, 1) != 0) break;
    }
    return NULL;
}

double cbench_tcp_stream(int64_t messages, size_t bytes) {
    int fds[2];
    if (cbench_loopback_pair(fds) != 0) return -1;
    // One buffer each side, allocated and touched once per process and reused by every call
    // (the caller times the whole call): the baseline pays no first-touch page faults, only the
    // kernel's copies — as the transport, whose receive buffers come from a pool.
    static char *source_buffer = NULL, *sink_buffer = NULL;
    static size_t capacity = 0;
    if (capacity < bytes) {
        free(source_buffer);
        free(sink_buffer);
        source_buffer = malloc(bytes);
        sink_buffer = malloc(bytes);
        if (source_buffer == NULL || sink_buffer == NULL) {
            close(fds[0]);
            close(fds[1]);
            capacity = 0;
            return -1;
        }
        memset(source_buffer, 7, bytes);
        memset(sink_buffer, 0, bytes);
        capacity = bytes;
    }
    struct sink_job job = {fds[1], bytes, messages, sink_buffer};
    pthread_t thread;
    pthread_create(&thread, NULL, sink_main, &job);
    char *buffer = source_buffer;
    char ack;
    int failed = 0;
    double start = now_seconds();
    for (int64_t i = 0; i < messages; i++) {
        if (write_all(fds[0], buffer, bytes) != 0 || read_all(fds[0], &ack, 1) != 0) { failed = 1; break; }
    }
    double elapsed = now_seconds() - start;
    close(fds[0]);
    pthread_join(thread, NULL);
    close(fds[1]);
    return failed ? -1 : elapsed;
}

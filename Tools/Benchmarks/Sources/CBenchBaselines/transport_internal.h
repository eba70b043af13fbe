// Shared by the loopback baselines (transport.c, transport_uring.c); not part of the module's API.
#ifndef CBENCH_TRANSPORT_INTERNAL_H
#define CBENCH_TRANSPORT_INTERNAL_H

/// A connected loopback TCP pair with TCP_NODELAY on both ends: `fds[0]` the client end,
/// `fds[1]` the accepted server end. Returns 0, or -1.
int cbench_loopback_pair(int fds[2]);

#endif

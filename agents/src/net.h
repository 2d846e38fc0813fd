/*
 * TCP plumbing for the agent: HOST:PORT parsing, listening, connecting, whole-buffer I/O.
 * Every function returns 0 (or a count) on success and a negative errno on failure; name
 * resolution failures come back as -EADDRNOTAVAIL (with the resolver's reason logged at debug).
 * Every socket made here is close-on-exec; listening and connected sockets are non-blocking.
 */
#ifndef FERRY_NET_H
#define FERRY_NET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define FERRY_NET_HOST_MAX 256
#define FERRY_NET_ADDR_MAX (FERRY_NET_HOST_MAX + 8) /* "[host]:65535" */

/* Splits "host:port", "[v6]:port" into host (brackets removed) and port 0..65535.
 * -EINVAL: missing colon or port, empty host, port not decimal or > 65535, stray brackets, an
 * unbracketed IPv6 literal ("::1:80" is ambiguous); -ENAMETOOLONG: host does not fit `hostlen`. */
int ferry_net_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port);

/* Binds and listens on HOST:PORT (port 0: the kernel picks), SO_REUSEADDR, non-blocking. */
int ferry_net_listen(const char *hostport, int backlog, int *fd_out);

/* Starts a non-blocking connect to HOST:PORT (first resolved address). Returns 0 with *fd_out
 * set whether or not the connect already completed: wait for POLLOUT, then call
 * ferry_net_connect_finish. Fails at once when resolving or socket() fails, or when the kernel
 * refuses the connect immediately (e.g. -ECONNREFUSED on some loopback setups). */
int ferry_net_connect_start(const char *hostport, int *fd_out);

/* After POLLOUT on a connecting socket: 0 when connected, else the connect's -errno. */
int ferry_net_connect_finish(int fd);

/* Connects and waits at most timeout_ms (for tests and tools). The socket is non-blocking. */
int ferry_net_connect(const char *hostport, int timeout_ms, int *fd_out);

/* Accepts one connection, non-blocking and close-on-exec. -EAGAIN when none is waiting. */
int ferry_net_accept(int listen_fd, int *fd_out);

/* For a send or recv on the socket fd that failed with errno `err`: 0 when the call should be
 * made again (EINTR, or EAGAIN and fd became ready for `events` within timeout_ms, -1: forever),
 * else -ETIMEDOUT or a negative errno (-err for any other failure). */
int ferry_net_retry(int fd, int err, short events, int timeout_ms);

/* Writes/reads exactly len bytes, retrying EINTR and short transfers; on a non-blocking socket
 * waits for readiness up to timeout_ms per wait (-1: forever). -ETIMEDOUT, -EPIPE, or -errno;
 * ferry_net_read_all returns -ECONNRESET when the peer closes before len bytes arrived. */
int ferry_net_write_all(int fd, const void *buf, size_t len, int timeout_ms);
int ferry_net_read_all(int fd, void *buf, size_t len, int timeout_ms);

/* "a.b.c.d:port" or "[v6]:port" of the socket's local (getsockname) or peer end. */
int ferry_net_local_address(int fd, char *out, size_t outlen);
int ferry_net_peer_address(int fd, char *out, size_t outlen);

/* The address peers should dial to reach a socket bound at `bound` ("HOST:PORT"): `bound` itself,
 * unless its host is a wildcard (0.0.0.0, ::), then the local IP of the connected socket `via_fd`
 * (the interface that reaches the coordinator) with bound's port. */
int ferry_net_advertised_address(const char *bound, int via_fd, char *out, size_t outlen);

/* Whether `host` is a wildcard address (0.0.0.0, ::, empty). */
int ferry_net_host_is_wildcard(const char *host);

#endif

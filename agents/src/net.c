/* TCP plumbing; see net.h. */
#include "net.h"

#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int ferry_net_parse_hostport(const char *s, char *host, size_t hostlen, uint16_t *port)
{
	const char *host_start, *host_end, *port_start;
	if (!s)
		return -EINVAL;
	if (s[0] == '[') {
		host_start = s + 1;
		host_end = strchr(host_start, ']');
		if (!host_end || host_end[1] != ':')
			return -EINVAL;
		port_start = host_end + 2;
	} else {
		host_start = s;
		host_end = strrchr(s, ':');
		if (!host_end)
			return -EINVAL;
		/* More than one colon without brackets is an IPv6 literal whose port we cannot find. */
		if (memchr(s, ':', (size_t)(host_end - s)) || memchr(s, ']', (size_t)(host_end - s)))
			return -EINVAL;
		port_start = host_end + 1;
	}
	size_t n = (size_t)(host_end - host_start);
	if (n == 0)
		return -EINVAL;
	if (memchr(host_start, '[', n) || memchr(host_start, ']', n))
		return -EINVAL;
	if (*port_start == '\0' || strlen(port_start) > 5)
		return -EINVAL;
	unsigned long p = 0;
	for (const char *c = port_start; *c; c++) {
		if (*c < '0' || *c > '9')
			return -EINVAL;
		p = p * 10 + (unsigned long)(*c - '0');
	}
	if (p > 65535)
		return -EINVAL;
	if (n + 1 > hostlen)
		return -ENAMETOOLONG;
	memcpy(host, host_start, n);
	host[n] = '\0';
	*port = (uint16_t)p;
	return 0;
}

int ferry_net_host_is_wildcard(const char *host)
{
	return !host || !*host || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "::") == 0 ||
	       strcmp(host, "[::]") == 0;
}

static int resolve(const char *hostport, int passive, struct addrinfo **out)
{
	char host[FERRY_NET_HOST_MAX], portstr[8];
	uint16_t port;
	int err = ferry_net_parse_hostport(hostport, host, sizeof host, &port);
	if (err)
		return err;
	snprintf(portstr, sizeof portstr, "%u", (unsigned)port);
	struct addrinfo hints;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0);
	int rc = getaddrinfo(host, portstr, &hints, out);
	if (rc != 0) {
		ferry_log(FERRY_LOG_DEBUG, "msg=\"cannot resolve\" address=%s reason=\"%s\"", hostport,
			  rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return -EADDRNOTAVAIL;
	}
	return 0;
}

int ferry_net_listen(const char *hostport, int backlog, int *fd_out)
{
	struct addrinfo *ai;
	int err = resolve(hostport, 1, &ai);
	if (err)
		return err;
	err = -EADDRNOTAVAIL;
	for (struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			err = -errno;
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
			err = -errno;
			close(fd);
			continue;
		}
		*fd_out = fd;
		freeaddrinfo(ai);
		return 0;
	}
	freeaddrinfo(ai);
	return err;
}

int ferry_net_connect_start(const char *hostport, int *fd_out)
{
	struct addrinfo *ai;
	int err = resolve(hostport, 0, &ai);
	if (err)
		return err;
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd < 0) {
		err = -errno;
		freeaddrinfo(ai);
		return err;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* small control frames: no Nagle delay */
	int rc;
	do
		rc = connect(fd, ai->ai_addr, ai->ai_addrlen);
	while (rc < 0 && errno == EINTR);
	freeaddrinfo(ai);
	if (rc < 0 && errno != EINPROGRESS) {
		/* Refused at once (loopback): report it through connect_finish like any other failure. */
		err = -errno;
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

int ferry_net_connect_finish(int fd)
{
	int soerr = 0;
	socklen_t len = sizeof soerr;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		return -errno;
	return soerr ? -soerr : 0;
}

static int wait_for(int fd, short events, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = events};
	for (;;) {
		int rc = poll(&p, 1, timeout_ms);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int ferry_net_connect(const char *hostport, int timeout_ms, int *fd_out)
{
	int fd;
	int err = ferry_net_connect_start(hostport, &fd);
	if (err)
		return err;
	err = wait_for(fd, POLLOUT, timeout_ms);
	if (!err)
		err = ferry_net_connect_finish(fd);
	if (err) {
		close(fd);
		return err;
	}
	*fd_out = fd;
	return 0;
}

int ferry_net_accept(int listen_fd, int *fd_out)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			int one = 1;
			setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
			*fd_out = fd;
			return 0;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}

int ferry_net_retry(int fd, int err, short events, int timeout_ms)
{
	if (err == EINTR)
		return 0;
	if (err == EAGAIN || err == EWOULDBLOCK)
		return wait_for(fd, events, timeout_ms);
	return -err;
}

int ferry_net_write_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -EPIPE;
		int err = ferry_net_retry(fd, errno, POLLOUT, timeout_ms);
		if (err)
			return err;
	}
	return 0;
}

int ferry_net_read_all(int fd, void *buf, size_t len, int timeout_ms)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = recv(fd, p, len, 0);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == 0)
			return -ECONNRESET;
		int err = ferry_net_retry(fd, errno, POLLIN, timeout_ms);
		if (err)
			return err;
	}
	return 0;
}

static int format_address(const struct sockaddr_storage *ss, char *out, size_t outlen)
{
	char host[INET6_ADDRSTRLEN];
	unsigned port;
	int n;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
		n = snprintf(out, outlen, "%s:%u", host, port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
		n = snprintf(out, outlen, "[%s]:%u", host, port);
	} else {
		return -EAFNOSUPPORT;
	}
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

int ferry_net_local_address(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return format_address(&ss, out, outlen);
}

int ferry_net_peer_address(int fd, char *out, size_t outlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
		return -errno;
	return format_address(&ss, out, outlen);
}

int ferry_net_advertised_address(const char *bound, int via_fd, char *out, size_t outlen)
{
	char host[FERRY_NET_HOST_MAX], via_host[FERRY_NET_HOST_MAX], via[FERRY_NET_ADDR_MAX];
	uint16_t port, via_port;
	int err = ferry_net_parse_hostport(bound, host, sizeof host, &port);
	if (err)
		return err;
	if (!ferry_net_host_is_wildcard(host)) {
		int n = snprintf(out, outlen, "%s", bound);
		return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
	}
	err = ferry_net_local_address(via_fd, via, sizeof via);
	if (!err)
		err = ferry_net_parse_hostport(via, via_host, sizeof via_host, &via_port);
	if (err)
		return err;
	int n = strchr(via_host, ':') ? snprintf(out, outlen, "[%s]:%u", via_host, (unsigned)port)
				       : snprintf(out, outlen, "%s:%u", via_host, (unsigned)port);
	return n < 0 || (size_t)n >= outlen ? -ENAMETOOLONG : 0;
}

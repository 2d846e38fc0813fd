/* The workload's control socket: framing of lines and fds; see workload_ipc.h for the protocol. */
#include "errbuf.h"
#include "workload_ipc.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>


static int unix_address(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa->sun_path)
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

int ferry_workload_ipc_listen(const char *path, int *fd_out)
{
	struct sockaddr_un sa;
	int rc = unix_address(path, &sa);
	if (rc)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a socket file left by an earlier run would make bind fail */
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int ferry_workload_ipc_connect(const char *path, int *fd_out)
{
	struct sockaddr_un sa;
	int rc = unix_address(path, &sa);
	if (rc)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int ferry_workload_ipc_send_line(int fd, const char *line, const int *fds, int nfds)
{
	size_t len = strlen(line), off = 0;
	if (nfds < 0 || nfds > FERRY_WORKLOAD_IPC_MAX_FDS || len == 0)
		return -EINVAL;
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * FERRY_WORKLOAD_IPC_MAX_FDS)];
	} control;
	while (off < len) {
		struct iovec iov = {.iov_base = (char *)line + off, .iov_len = len - off};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
		if (off == 0 && nfds > 0) { /* the fds ride on the first byte */
			memset(&control, 0, sizeof control);
			msg.msg_control = control.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
			struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
		}
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		off += (size_t)n;
	}
	return 0;
}

static void close_fds(int *fds, int *nfds)
{
	for (int i = 0; i < *nfds; i++)
		close(fds[i]);
	*nfds = 0;
}

/* Takes the fds out of one received message, closing any beyond what fits. */
static void collect_fds(struct msghdr *msg, int *fds, int *nfds)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof f);
			if (fds && *nfds < FERRY_WORKLOAD_IPC_MAX_FDS)
				fds[(*nfds)++] = f;
			else
				close(f);
		}
	}
}

int ferry_workload_ipc_recv_line(int fd, char *buf, size_t cap, int *fds, int *nfds, int timeout_ms)
{
	int local_n = 0;
	if (!nfds)
		nfds = &local_n;
	*nfds = 0;
	size_t len = 0;
	/* Byte by byte: a reply must not swallow the next one, and the fds arrive with its first
	 * byte. Control traffic is a few lines per second at most. */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int pr = poll(&p, 1, timeout_ms);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			goto fail_errno;
		if (pr == 0) {
			close_fds(fds, nfds);
			return -ETIMEDOUT;
		}
		char ch;
		union {
			struct cmsghdr align;
			char buf[CMSG_SPACE(sizeof(int) * FERRY_WORKLOAD_IPC_MAX_FDS)];
		} control;
		struct iovec iov = {.iov_base = &ch, .iov_len = 1};
		struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				     .msg_controllen = sizeof control.buf};
		ssize_t n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_errno;
		if (n == 0) {
			close_fds(fds, nfds);
			return -ECONNRESET;
		}
		collect_fds(&msg, fds, nfds);
		if (ch == '\n') {
			buf[len] = '\0';
			return (int)len;
		}
		if (len + 1 >= cap) {
			close_fds(fds, nfds);
			return -EMSGSIZE;
		}
		buf[len++] = ch;
	}
fail_errno:;
	int e = errno;
	close_fds(fds, nfds);
	return -e;
}

int ferry_workload_ipc_command(int fd, const char *cmd, char *reply, size_t cap, int timeout_ms)
{
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	int n = snprintf(line, sizeof line, "%s\n", cmd);
	if (n < 0 || (size_t)n >= sizeof line)
		return -EMSGSIZE;
	int rc = ferry_workload_ipc_send_line(fd, line, NULL, 0);
	if (rc)
		return rc;
	int fds[FERRY_WORKLOAD_IPC_MAX_FDS], nfds = 0;
	rc = ferry_workload_ipc_recv_line(fd, reply, cap, fds, &nfds, timeout_ms);
	close_fds(fds, &nfds);
	return rc < 0 ? rc : 0;
}

int ferry_workload_ipc_field_u64(const char *line, const char *key, uint64_t *out)
{
	size_t klen = strlen(key);
	for (const char *p = line; (p = strstr(p, key)) != NULL; p += klen) {
		if ((p != line && p[-1] != ' ') || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		if (*v < '0' || *v > '9')
			return -EINVAL;
		char *end;
		errno = 0;
		unsigned long long x = strtoull(v, &end, 0);
		if (errno || (*end != '\0' && *end != ' ' && *end != ','))
			return -EINVAL;
		*out = x;
		return 0;
	}
	return -ENOENT;
}

/* Whether fd is a memfd (its /proc link reads "/memfd:NAME (deleted)") of exactly `bytes`. */
static int check_memfd(int fd, uint64_t bytes, char *err, size_t errlen)
{
	char path[64], target[256];
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, target, sizeof target - 1);
	target[n > 0 ? n : 0] = '\0';
	if (n < 0 || strncmp(target, "/memfd:", 7) != 0) {
		ferry_errbuf_set(err, errlen, "attach: guest RAM fd is %s, not a memfd", n < 0 ? "unreadable" : target);
		return -EPROTO;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || (uint64_t)st.st_size != bytes) {
		ferry_errbuf_set(err, errlen, "attach: guest RAM memfd holds %lld bytes, the workload announced %" PRIu64,
			(long long)st.st_size, bytes);
		return -EPROTO;
	}
	return 0;
}

int ferry_workload_ipc_attach(int fd, struct ferry_workload_attach *out, int timeout_ms, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	out->memfd = out->uffd = -1;
	int rc = ferry_workload_ipc_send_line(fd, "attach\n", NULL, 0);
	if (rc) {
		ferry_errbuf_set(err, errlen, "attach: sending the request: %s", strerror(-rc));
		return rc;
	}
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	int fds[FERRY_WORKLOAD_IPC_MAX_FDS], nfds = 0;
	rc = ferry_workload_ipc_recv_line(fd, line, sizeof line, fds, &nfds, timeout_ms);
	if (rc < 0) {
		ferry_errbuf_set(err, errlen, "attach: reading the reply: %s", strerror(-rc));
		return rc;
	}
	uint64_t pid = 0, base = 0, bytes = 0, page = 0, has_uffd = 0;
	if (strncmp(line, "ok attach", 9) != 0 || ferry_workload_ipc_field_u64(line, "pid", &pid) ||
	    ferry_workload_ipc_field_u64(line, "base", &base) || ferry_workload_ipc_field_u64(line, "ram_bytes", &bytes) ||
	    ferry_workload_ipc_field_u64(line, "page_size", &page) || ferry_workload_ipc_field_u64(line, "uffd", &has_uffd) ||
	    has_uffd > 1 || pid == 0) {
		ferry_errbuf_set(err, errlen, "attach: unexpected reply \"%s\"", line);
		rc = -EPROTO;
		goto fail;
	}
	if (nfds != 1 + (int)has_uffd) {
		ferry_errbuf_set(err, errlen, "attach: reply carried %d fds, expected %d", nfds, 1 + (int)has_uffd);
		rc = -EPROTO;
		goto fail;
	}
	rc = check_memfd(fds[0], bytes, err, errlen);
	if (rc)
		goto fail;
	out->pid = (pid_t)pid;
	out->base = base;
	out->ram_bytes = bytes;
	out->page_size = (uint32_t)page;
	out->memfd = fds[0];
	out->uffd = has_uffd ? fds[1] : -1;
	return 0;
fail:
	close_fds(fds, &nfds);
	return rc;
}

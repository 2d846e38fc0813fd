/* The workload's control socket: framing of lines and fds; see workload_ipc.h for the protocol. */
#include "errbuf.h"
#include "fd_kind.h"
#include "workload.h"
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

/* A stream socket on path: listening on it, or connected to it. */
static int unix_stream(const char *path, int listening, int *fd_out)
{
	struct sockaddr_un sa;
	int rc = unix_address(path, &sa);
	if (rc)
		return rc;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (listening) {
		unlink(path); /* a socket file left by an earlier run would make bind fail */
		if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(fd, 16) != 0)
			rc = -errno;
	} else if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
		rc = -errno;
	}
	if (rc) {
		close(fd);
		return rc;
	}
	*fd_out = fd;
	return 0;
}

int ferry_workload_ipc_listen(const char *path, int *fd_out)
{
	return unix_stream(path, 1, fd_out);
}

int ferry_workload_ipc_connect(const char *path, int *fd_out)
{
	return unix_stream(path, 0, fd_out);
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

/* Whether fd is a memfd of exactly `bytes`, as -EPROTO: a peer handed over the wrong thing. */
static int check_memfd(int fd, uint64_t bytes, const char *what, char *err, size_t errlen)
{
	return ferry_fd_check_memfd_size(fd, bytes, what, err, errlen) ? -EPROTO : 0;
}

int ferry_workload_ipc_field_str(const char *line, const char *key, char *out, size_t cap)
{
	size_t klen = strlen(key);
	for (const char *p = line; (p = strstr(p, key)) != NULL; p += klen) {
		if ((p != line && p[-1] != ' ') || p[klen] != '=')
			continue;
		const char *v = p + klen + 1;
		size_t n = strcspn(v, " ");
		if (n >= cap)
			return -ENAMETOOLONG;
		memcpy(out, v, n);
		out[n] = '\0';
		return 0;
	}
	return -ENOENT;
}

static int is_id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	       c == ':' || c == '-';
}

static int valid_vm_id(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n >= FERRY_VM_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!is_id_char(id[i]))
			return 0;
	return 1;
}

/* Printable, no spaces (the line's separator), fits a sockaddr_un. */
static int valid_control_path(const char *path)
{
	size_t n = strlen(path);
	if (n == 0 || n >= FERRY_VM_CONTROL_PATH_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (path[i] <= ' ' || path[i] > '~')
			return 0;
	return 1;
}

static int is_launch_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("._:/=+-", c);
}

int ferry_workload_ipc_launch_valid(const char *launch)
{
	size_t n = strlen(launch), words = 1;
	if (n == 0)
		return 1; /* no launch arguments */
	if (n >= FERRY_VM_LAUNCH_TEXT_MAX || launch[0] == ',' || launch[n - 1] == ',')
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (launch[i] == ',') {
			if (launch[i + 1] == ',')
				return 0; /* an empty word */
			words++;
		} else if (!is_launch_char(launch[i])) {
			return 0;
		}
	}
	return words <= FERRY_VM_LAUNCH_ARGS_MAX;
}

size_t ferry_workload_ipc_launch_split(char *launch, char **words, size_t max)
{
	size_t n = 0;
	if (!launch[0])
		return 0;
	for (char *w = launch; w && n < max;) {
		words[n++] = w;
		w = strchr(w, ',');
		if (w)
			*w++ = '\0';
	}
	return n;
}

int ferry_workload_ipc_format_register(const struct ferry_vm_registration *r, char *line, size_t cap)
{
	if (!valid_vm_id(r->vm_id) || !valid_control_path(r->control) || !ferry_workload_ipc_launch_valid(r->launch))
		return -EINVAL;
	int n = snprintf(line, cap, "register vm=%s vcpus=%u ram_bytes=%" PRIu64 " page_size=%u pid=%d control=%s mode=%s%s%s\n",
			 r->vm_id, r->vcpus, r->ram_bytes, r->page_size, (int)r->pid, r->control,
			 r->incoming ? "incoming" : "run", r->launch[0] ? " launch=" : "", r->launch);
	return n < 0 || (size_t)n >= cap ? -EINVAL : 0;
}

/* A decimal field of the register line in [min, max]. */
static int decimal_field(const char *line, const char *key, uint64_t min, uint64_t max, uint64_t *out, char *err,
			 size_t errlen)
{
	char v[32];
	int rc = ferry_workload_ipc_field_str(line, key, v, sizeof v);
	char *end = NULL;
	unsigned long long x = 0;
	if (rc == 0 && v[0] >= '0' && v[0] <= '9') {
		errno = 0;
		x = strtoull(v, &end, 10);
	}
	if (rc == -ENOENT) {
		ferry_errbuf_set(err, errlen, "register: missing %s=", key);
		return -EINVAL;
	}
	if (rc || !end || *end || errno || x < min || x > max) {
		ferry_errbuf_set(err, errlen, "register: %s must be a decimal number in %" PRIu64 "..%" PRIu64, key, min,
				 max);
		return -EINVAL;
	}
	*out = x;
	return 0;
}

int ferry_workload_ipc_parse_register(const char *line, struct ferry_vm_registration *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (strncmp(line, "register ", 9) != 0) {
		ferry_errbuf_set(err, errlen, "expected a register line, got \"%.40s\"", line);
		return -EINVAL;
	}
	int rc = ferry_workload_ipc_field_str(line, "vm", out->vm_id, sizeof out->vm_id);
	if (rc || !valid_vm_id(out->vm_id)) {
		ferry_errbuf_set(err, errlen, "register: vm= must be 1..%u of [A-Za-z0-9._:-]", FERRY_VM_ID_MAX - 1);
		return -EINVAL;
	}
	rc = ferry_workload_ipc_field_str(line, "control", out->control, sizeof out->control);
	if (rc || !valid_control_path(out->control)) {
		ferry_errbuf_set(err, errlen, "register: control= must be a socket path of 1..%u bytes without spaces",
				 FERRY_VM_CONTROL_PATH_MAX - 1);
		return -EINVAL;
	}
	char mode[16];
	rc = ferry_workload_ipc_field_str(line, "mode", mode, sizeof mode);
	if (rc || (strcmp(mode, "run") != 0 && strcmp(mode, "incoming") != 0)) {
		ferry_errbuf_set(err, errlen, "register: mode= must be run or incoming");
		return -EINVAL;
	}
	out->incoming = strcmp(mode, "incoming") == 0;
	rc = ferry_workload_ipc_field_str(line, "launch", out->launch, sizeof out->launch);
	if (rc == -ENOENT) {
		out->launch[0] = '\0'; /* optional: a workload without launch arguments */
	} else if (rc || !ferry_workload_ipc_launch_valid(out->launch)) {
		ferry_errbuf_set(err, errlen,
				 "register: launch= must be 1..%u words of [A-Za-z0-9._:/=+-] joined by ',' (< %u bytes)",
				 FERRY_VM_LAUNCH_ARGS_MAX, FERRY_VM_LAUNCH_TEXT_MAX);
		return -EINVAL;
	}
	uint64_t vcpus, bytes, page, pid;
	if (decimal_field(line, "vcpus", 1, FERRY_WORKLOAD_MAX_VCPUS, &vcpus, err, errlen) ||
	    decimal_field(line, "ram_bytes", 1, UINT64_MAX, &bytes, err, errlen) ||
	    decimal_field(line, "page_size", 1, UINT32_MAX, &page, err, errlen) ||
	    decimal_field(line, "pid", 1, INT32_MAX, &pid, err, errlen))
		return -EINVAL;
	out->vcpus = (uint32_t)vcpus;
	out->ram_bytes = bytes;
	out->page_size = (uint32_t)page;
	out->pid = (pid_t)pid;
	return 0;
}

int ferry_workload_ipc_register(int fd, const struct ferry_vm_registration *r, int memfd, int uffd, int *memfd_out,
				int timeout_ms, char *err, size_t errlen)
{
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	if (memfd_out)
		*memfd_out = -1;
	if (ferry_workload_ipc_format_register(r, line, sizeof line)) {
		ferry_errbuf_set(err, errlen, "register: vm id or control path cannot be sent");
		return -EINVAL;
	}
	int give[2] = {memfd, uffd};
	if (r->incoming)
		give[0] = uffd;
	int rc = ferry_workload_ipc_send_line(fd, line, give, r->incoming ? 1 : 2);
	if (rc) {
		ferry_errbuf_set(err, errlen, "register: sending to the agent: %s", strerror(-rc));
		return rc;
	}
	int fds[FERRY_WORKLOAD_IPC_MAX_FDS], nfds = 0;
	rc = ferry_workload_ipc_recv_line(fd, line, sizeof line, fds, &nfds, timeout_ms);
	if (rc < 0) {
		ferry_errbuf_set(err, errlen, "register: reading the agent's answer: %s", strerror(-rc));
		return rc;
	}
	if (strncmp(line, "error ", 6) == 0) {
		ferry_errbuf_set(err, errlen, "the agent refused the registration: %s", line + 6);
		rc = -ECONNREFUSED;
		goto fail;
	}
	char vm[FERRY_VM_ID_MAX];
	if (strncmp(line, "ok registered ", 14) != 0 || ferry_workload_ipc_field_str(line, "vm", vm, sizeof vm) ||
	    strcmp(vm, r->vm_id) != 0 || nfds != (r->incoming ? 1 : 0)) {
		ferry_errbuf_set(err, errlen, "register: unexpected answer \"%.80s\" with %d fds", line, nfds);
		rc = -EPROTO;
		goto fail;
	}
	if (r->incoming) {
		rc = check_memfd(fds[0], r->ram_bytes, "the agent's incoming guest RAM", err, errlen);
		if (rc)
			goto fail;
		if (memfd_out)
			*memfd_out = fds[0];
		else
			close(fds[0]);
	}
	return 0;
fail:
	close_fds(fds, &nfds);
	return rc;
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
	rc = check_memfd(fds[0], bytes, "attach: guest RAM fd", err, errlen);
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

/* The VM registration socket; see vm_listener.h. */
#include "vm_listener.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"

/* Room for more fds than any message may carry, so that an excess is seen rather than silently
 * dropped by the kernel. */
#define RECV_FDS_MAX 8

void ferry_vm_listener_default_path(char *out, size_t cap)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	if (xdg && xdg[0] == '/')
		snprintf(out, cap, "%s/ferry/agent.sock", xdg);
	else
		snprintf(out, cap, "/run/ferry/agent.sock");
}

/* mkdir -p of the directory part of path. */
static int make_parent_dirs(const char *path, char *err, size_t errlen)
{
	char dir[FERRY_VM_SOCKET_PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
			int e = errno;
			ferry_errbuf_set(err, errlen, "cannot create directory %s for the VM socket: %s", dir, strerror(e));
			return -e;
		}
		*p = saved;
		if (saved == '\0')
			return 0;
	}
}

/* Holds PATH.lock for as long as the listener lives. -EADDRINUSE when another agent holds it. */
static int take_ownership(struct ferry_vm_listener *l, char *err, size_t errlen)
{
	char lock_path[FERRY_VM_SOCKET_PATH_MAX + 8];
	snprintf(lock_path, sizeof lock_path, "%s.lock", l->path);
	l->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (l->lock_fd < 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "cannot open %s: %s", lock_path, strerror(e));
		return -e;
	}
	if (flock(l->lock_fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		char owner[32] = "";
		ssize_t n = pread(l->lock_fd, owner, sizeof owner - 1, 0);
		owner[n > 0 ? n : 0] = '\0';
		owner[strcspn(owner, "\n")] = '\0';
		if (e == EWOULDBLOCK) {
			ferry_errbuf_set(err, errlen, "another agent (pid %s) owns the VM socket %s", owner[0] ? owner : "?",
					 l->path);
			return -EADDRINUSE;
		}
		ferry_errbuf_set(err, errlen, "cannot lock %s: %s", lock_path, strerror(e));
		return -e;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(l->lock_fd, 0) != 0 || pwrite(l->lock_fd, pid, (size_t)n, 0) != n)
		ferry_log(FERRY_LOG_WARNING, "msg=\"cannot record our pid in the VM socket lock\" path=%s", lock_path);
	return 0;
}

/* We own the path now: whatever socket is there was left by an agent that died. */
static int remove_stale(const char *path, char *err, size_t errlen)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		ferry_errbuf_set(err, errlen, "%s exists and is not a socket; refusing to replace it", path);
		return -EEXIST;
	}
	if (unlink(path) != 0) {
		int e = errno;
		ferry_errbuf_set(err, errlen, "cannot remove the stale VM socket %s: %s", path, strerror(e));
		return -e;
	}
	ferry_log(FERRY_LOG_INFO, "msg=\"removed a stale VM socket\" path=%s", path);
	return 0;
}

int ferry_vm_listener_open(struct ferry_vm_listener *l, const char *path, void (*on_change)(void *ctx), void *ctx,
			   char *err, size_t errlen)
{
	memset(l, 0, sizeof *l);
	l->fd = l->lock_fd = -1;
	for (size_t i = 0; i < FERRY_VM_MAX_CONNS; i++)
		l->conns[i].fd = -1;
	ferry_vm_registry_init(&l->registry);
	l->on_change = on_change;
	l->ctx = ctx;
	if (strlen(path) >= FERRY_VM_SOCKET_PATH_MAX || path[0] == '\0') {
		ferry_errbuf_set(err, errlen, "VM socket path '%s' is empty or longer than %u bytes", path,
				 FERRY_VM_SOCKET_PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	snprintf(l->path, sizeof l->path, "%s", path);
	int rc = make_parent_dirs(path, err, errlen);
	if (rc == 0)
		rc = take_ownership(l, err, errlen);
	if (rc == 0)
		rc = remove_stale(path, err, errlen);
	if (rc)
		goto fail;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	memcpy(sa.sun_path, path, strlen(path) + 1);
	l->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l->fd, 16) != 0) {
		rc = -errno;
		ferry_errbuf_set(err, errlen, "cannot listen on the VM socket %s: %s", path, strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	if (l->fd >= 0)
		close(l->fd);
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	l->fd = l->lock_fd = -1;
	return rc;
}

/* Waits (without blocking) for every child queued for reaping; keeps those still running. */
static void reap_children(struct ferry_vm_listener *l)
{
	size_t kept = 0;
	for (size_t i = 0; i < l->n_reap; i++) {
		int status = 0;
		pid_t r = waitpid(l->reap[i], &status, WNOHANG);
		if (r == 0 || (r < 0 && errno == EINTR)) {
			l->reap[kept++] = l->reap[i];
			continue;
		}
		l->reaped++;
		if (r == l->reap[i])
			ferry_log(FERRY_LOG_INFO, "msg=\"VM workload reaped\" pid=%d exit=%d signal=%d", (int)r,
				  WIFEXITED(status) ? WEXITSTATUS(status) : -1, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	}
	l->n_reap = kept;
}

/* An unregistered VM whose workload is our child: wait for its exit from now on. */
static void queue_reap(struct ferry_vm_listener *l, pid_t child)
{
	if (l->n_reap == FERRY_VM_REAP_MAX) {
		ferry_log(FERRY_LOG_WARNING, "msg=\"too many exiting VM workloads to wait for; one stays a zombie\" pid=%d",
			  (int)child);
		return;
	}
	l->reap[l->n_reap++] = child;
	l->reap_due_ms = 0; /* the next on_timer looks at once */
}

int ferry_vm_listener_adopt_child(struct ferry_vm_listener *l, const char *vm_id, pid_t pid)
{
	struct ferry_vm_entry *e = (struct ferry_vm_entry *)ferry_vm_registry_find(&l->registry, vm_id);
	if (!e)
		return -ENOENT;
	e->child = pid;
	return 0;
}

static void close_conn(struct ferry_vm_listener *l, struct ferry_vm_conn *c, bool notify)
{
	char vm_id[FERRY_VM_ID_MAX];
	const struct ferry_vm_entry *e = c->registered ? ferry_vm_registry_by_owner(&l->registry, c->id) : NULL;
	pid_t child = e ? e->child : 0;
	if (c->registered && ferry_vm_registry_remove_owner(&l->registry, c->id, vm_id, sizeof vm_id)) {
		if (child > 0 && notify) /* (not when the agent stops: its VMs run on without it) */
			queue_reap(l, child);
		l->unregistered++;
		ferry_log(FERRY_LOG_INFO, "msg=\"VM unregistered\" vm_id=%s pid=%d", vm_id, (int)c->peer_pid);
		if (notify && l->on_change)
			l->on_change(l->ctx);
	}
	for (int i = 0; i < c->nfds; i++)
		close(c->fds[i]);
	close(c->fd);
	memset(c, 0, sizeof *c);
	c->fd = -1;
}

void ferry_vm_listener_close(struct ferry_vm_listener *l)
{
	if (l->fd < 0)
		return;
	for (size_t i = 0; i < FERRY_VM_MAX_CONNS; i++)
		if (l->conns[i].fd >= 0)
			close_conn(l, &l->conns[i], false);
	ferry_vm_registry_clear(&l->registry);
	close(l->fd);
	l->fd = -1;
	unlink(l->path); /* before the lock goes: nobody else can own the path meanwhile */
	close(l->lock_fd);
	l->lock_fd = -1;
}

static int send_reply(struct ferry_vm_conn *c, const char *line, const int *fds, int nfds)
{
	char buf[FERRY_WORKLOAD_IPC_LINE_MAX + 1];
	size_t n = strlen(line);
	if (n >= FERRY_WORKLOAD_IPC_LINE_MAX)
		return -EMSGSIZE;
	memcpy(buf, line, n);
	buf[n] = '\n';
	buf[n + 1] = '\0';
	return ferry_workload_ipc_send_line(c->fd, buf, fds, nfds);
}

/* Answers "error <reason>" and closes. Unread input is drained first: closing a unix socket with
 * unread data makes the peer's read fail with ECONNRESET before it sees our answer. */
static void refuse(struct ferry_vm_listener *l, struct ferry_vm_conn *c, const char *reason)
{
	char q[600], line[600];
	l->refused++;
	ferry_log(FERRY_LOG_WARNING, "msg=\"VM registration refused\" pid=%d reason=%s", (int)c->peer_pid,
		  ferry_log_quote(reason, q, sizeof q));
	snprintf(line, sizeof line, "error %s", reason);
	(void)send_reply(c, line, NULL, 0);
	char sink[4096];
	while (recv(c->fd, sink, sizeof sink, MSG_DONTWAIT) > 0)
		;
	close_conn(l, c, false);
}

/* Guest RAM for an incoming VM: created here, filled by the agent with the source's memory. */
static int create_incoming_memfd(const struct ferry_vm_registration *reg, int *out, char *err, size_t errlen)
{
	char name[FERRY_VM_ID_MAX + 16];
	snprintf(name, sizeof name, "ferry-incoming-%s", reg->vm_id);
	int fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)reg->ram_bytes) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		ferry_errbuf_set(err, errlen, "cannot create %" PRIu64 " bytes of guest RAM: %s", reg->ram_bytes, strerror(e));
		return -e;
	}
	*out = fd;
	return 0;
}

static void handle_register(struct ferry_vm_listener *l, struct ferry_vm_conn *c, const char *line)
{
	struct ferry_vm_registration reg;
	char err[512] = "";
	int rc = ferry_workload_ipc_parse_register(line, &reg, err, sizeof err);
	if (rc == 0 && c->too_many_fds) {
		ferry_errbuf_set(err, sizeof err, "more than %d fds came with the message", FERRY_WORKLOAD_IPC_MAX_FDS);
		rc = -EBADF;
	}
	if (rc == 0)
		rc = ferry_vm_registration_check(&reg, c->peer_pid, c->fds, c->nfds, err, sizeof err);
	int memfd = -1, uffd = -1;
	if (rc == 0 && reg.incoming) {
		rc = create_incoming_memfd(&reg, &memfd, err, sizeof err);
		uffd = c->fds[0];
	} else if (rc == 0) {
		memfd = c->fds[0];
		uffd = c->fds[1];
	}
	if (rc == 0)
		rc = ferry_vm_registry_add(&l->registry, &reg, memfd, uffd, c->id, err, sizeof err);
	if (rc) {
		if (reg.incoming && memfd >= 0)
			close(memfd);
		refuse(l, c, err);
		return;
	}
	c->nfds = 0; /* the registry owns them now */
	char answer[64 + FERRY_VM_ID_MAX];
	snprintf(answer, sizeof answer, "ok registered vm=%s%s", reg.vm_id, reg.incoming ? " memfd=1" : "");
	rc = send_reply(c, answer, &memfd, reg.incoming ? 1 : 0);
	if (rc) {
		ferry_vm_registry_remove_owner(&l->registry, c->id, NULL, 0);
		ferry_log(FERRY_LOG_WARNING, "msg=\"VM registration lost: cannot answer\" vm_id=%s reason=\"%s\"", reg.vm_id,
			  strerror(-rc));
		close_conn(l, c, false);
		return;
	}
	c->registered = true;
	l->registered++;
	ferry_log(FERRY_LOG_INFO,
		  "msg=\"VM registered\" vm_id=%s pid=%d vcpus=%u ram_bytes=%" PRIu64 " mode=%s control=%s", reg.vm_id,
		  (int)reg.pid, reg.vcpus, reg.ram_bytes, reg.incoming ? "incoming" : "run", reg.control);
	if (l->on_change)
		l->on_change(l->ctx);
}

/* After registration a workload only speaks to answer `start`. */
static void on_workload_line(struct ferry_vm_listener *l, struct ferry_vm_conn *c, const char *line)
{
	struct ferry_vm_entry *e = ferry_vm_registry_by_owner(&l->registry, c->id);
	char q[200];
	if (!e || !e->reg.incoming || e->started || e->start_answer[0]) {
		ferry_log(FERRY_LOG_DEBUG, "msg=\"unexpected line from a registered workload\" pid=%d line=%s",
			  (int)c->peer_pid, ferry_log_quote(line, q, sizeof q));
		return;
	}
	snprintf(e->start_answer, sizeof e->start_answer, "%.150s", line);
	snprintf(l->last_start_vm, sizeof l->last_start_vm, "%s", e->reg.vm_id);
	snprintf(l->last_start_answer, sizeof l->last_start_answer, "%.150s", line);
	if (strncmp(line, "ok started", 10) == 0) {
		e->started = true;
		ferry_log(FERRY_LOG_INFO, "msg=\"incoming VM started\" vm_id=%s answer=%s", e->reg.vm_id,
			  ferry_log_quote(line, q, sizeof q));
		if (l->on_change)
			l->on_change(l->ctx);
		return;
	}
	ferry_log(FERRY_LOG_ERROR, "msg=\"incoming VM refused to start\" vm_id=%s answer=%s", e->reg.vm_id,
		  ferry_log_quote(line, q, sizeof q));
}

int ferry_vm_listener_start(struct ferry_vm_listener *l, const char *vm_id, unsigned vcpus, const char *state_blob,
			    int written_fd, char *err, size_t errlen)
{
	struct ferry_vm_entry *e = (struct ferry_vm_entry *)ferry_vm_registry_find(&l->registry, vm_id);
	if (!e) {
		ferry_errbuf_set(err, errlen, "no VM %s is registered", vm_id);
		return -ENOENT;
	}
	if (!e->reg.incoming || e->started || e->start_answer[0]) {
		ferry_errbuf_set(err, errlen, "VM %s is not an incoming VM waiting for start", vm_id);
		return -EALREADY;
	}
	for (size_t i = 0; i < FERRY_VM_MAX_CONNS; i++) {
		struct ferry_vm_conn *c = &l->conns[i];
		if (c->fd < 0 || c->id != e->owner)
			continue;
		char line[FERRY_WORKLOAD_IPC_LINE_MAX];
		int n = snprintf(line, sizeof line, "start vcpus=%u%s state=%s", vcpus, written_fd >= 0 ? " written=1" : "",
				 state_blob);
		if (n < 0 || (size_t)n >= sizeof line - 1) {
			ferry_errbuf_set(err, errlen, "start for VM %s: the state does not fit one line", vm_id);
			return -EMSGSIZE;
		}
		int rc = send_reply(c, line, &written_fd, written_fd >= 0 ? 1 : 0);
		if (rc)
			ferry_errbuf_set(err, errlen, "sending start to VM %s: %s", vm_id, strerror(-rc));
		return rc;
	}
	ferry_errbuf_set(err, errlen, "VM %s has no connection", vm_id);
	return -ENOENT;
}

/* Keeps the fds of one received message; any beyond what a message may carry are closed and
 * remembered as an error. */
static void collect_fds(struct ferry_vm_conn *c, struct msghdr *msg)
{
	if (msg->msg_flags & MSG_CTRUNC)
		c->too_many_fds = true;
	for (struct cmsghdr *h = CMSG_FIRSTHDR(msg); h; h = CMSG_NXTHDR(msg, h)) {
		if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < n; i++) {
			int f;
			memcpy(&f, CMSG_DATA(h) + i * sizeof(int), sizeof f);
			if (!c->registered && c->nfds < FERRY_WORKLOAD_IPC_MAX_FDS) {
				c->fds[c->nfds++] = f;
			} else {
				c->too_many_fds = c->too_many_fds || !c->registered;
				close(f);
			}
		}
	}
}

/* Reads what is there and handles every complete line. */
static void on_readable(struct ferry_vm_listener *l, struct ferry_vm_conn *c)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(int) * RECV_FDS_MAX)];
	} control;
	struct iovec iov = {.iov_base = c->buf + c->len, .iov_len = sizeof c->buf - 1 - c->len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
			     .msg_controllen = sizeof control.buf};
	ssize_t n = recvmsg(c->fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		if (!c->registered)
			ferry_log(FERRY_LOG_DEBUG, "msg=\"VM socket peer left before registering\" pid=%d", (int)c->peer_pid);
		close_conn(l, c, true);
		return;
	}
	collect_fds(c, &msg);
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl) {
			if (c->len == sizeof c->buf - 1) {
				char why[96];
				snprintf(why, sizeof why, "message too large (over %u bytes without a newline)",
					 FERRY_WORKLOAD_IPC_LINE_MAX - 1);
				refuse(l, c, why);
			}
			return;
		}
		*nl = '\0';
		if (!c->registered) {
			handle_register(l, c, c->buf);
			if (c->fd < 0)
				return;
		} else {
			on_workload_line(l, c, c->buf);
		}
		size_t used = (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
	}
}

static void accept_one(struct ferry_vm_listener *l, uint64_t now_ms)
{
	int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	struct ferry_vm_conn *c = NULL;
	for (size_t i = 0; i < FERRY_VM_MAX_CONNS && !c; i++)
		if (l->conns[i].fd < 0)
			c = &l->conns[i];
	if (!c) { /* pollfds stops offering the listener when full; only a race gets here */
		close(fd);
		return;
	}
	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->id = ++l->next_id;
	c->deadline_ms = now_ms + FERRY_VM_REGISTER_TIMEOUT_MS;
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
		c->peer_pid = cred.pid;
}

static bool has_free_slot(const struct ferry_vm_listener *l)
{
	for (size_t i = 0; i < FERRY_VM_MAX_CONNS; i++)
		if (l->conns[i].fd < 0)
			return true;
	return false;
}

size_t ferry_vm_listener_pollfds(const struct ferry_vm_listener *l, struct pollfd *pfds, size_t max)
{
	size_t n = 0;
	if (l->fd < 0)
		return 0;
	if (n < max && has_free_slot(l))
		pfds[n++] = (struct pollfd){.fd = l->fd, .events = POLLIN};
	for (size_t i = 0; i < FERRY_VM_MAX_CONNS && n < max; i++)
		if (l->conns[i].fd >= 0)
			pfds[n++] = (struct pollfd){.fd = l->conns[i].fd, .events = POLLIN};
	return n;
}

void ferry_vm_listener_on_poll(struct ferry_vm_listener *l, const struct pollfd *pfds, size_t n, uint64_t now_ms)
{
	for (size_t k = 0; k < n; k++) {
		if (!pfds[k].revents)
			continue;
		if (pfds[k].fd == l->fd) {
			accept_one(l, now_ms);
			continue;
		}
		for (size_t i = 0; i < FERRY_VM_MAX_CONNS; i++)
			if (l->conns[i].fd == pfds[k].fd) {
				on_readable(l, &l->conns[i]);
				break;
			}
	}
}

void ferry_vm_listener_on_timer(struct ferry_vm_listener *l, uint64_t now_ms)
{
	if (l->n_reap && now_ms >= l->reap_due_ms) {
		reap_children(l);
		l->reap_due_ms = now_ms + FERRY_VM_REAP_RETRY_MS;
	}
	for (size_t i = 0; i < FERRY_VM_MAX_CONNS; i++) {
		struct ferry_vm_conn *c = &l->conns[i];
		if (c->fd >= 0 && !c->registered && now_ms >= c->deadline_ms) {
			char why[64];
			snprintf(why, sizeof why, "no register line within %u ms", FERRY_VM_REGISTER_TIMEOUT_MS);
			refuse(l, c, why);
		}
	}
}

uint64_t ferry_vm_listener_next_deadline(const struct ferry_vm_listener *l)
{
	uint64_t due = l->n_reap ? l->reap_due_ms : UINT64_MAX;
	for (size_t i = 0; i < FERRY_VM_MAX_CONNS; i++) {
		const struct ferry_vm_conn *c = &l->conns[i];
		if (c->fd >= 0 && !c->registered && c->deadline_ms < due)
			due = c->deadline_ms;
	}
	return due;
}

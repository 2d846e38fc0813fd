/* Control-socket server of the workload; see workload_control.h and workload_ipc.h. */
#include "workload_control.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config_value.h"
#include "log.h"
#include "uffd_compat.h"
#include "workload_agent.h"
#include "workload_ipc.h"
#include "workload_state.h"

#define MAX_CLIENTS 8

struct client {
	int fd; /* -1: free slot */
	size_t len;
	char buf[FERRY_WORKLOAD_IPC_LINE_MAX];
};

static int reply(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int reply(int fd, const char *fmt, ...)
{
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof line - 1)
		return -EMSGSIZE;
	line[n] = '\n';
	line[n + 1] = '\0';
	return ferry_workload_ipc_send_line(fd, line, NULL, 0);
}

static int handle_stats(struct ferry_workload *w, int fd)
{
	struct ferry_workload_stats s;
	ferry_workload_stats(w, &s);
	char per_vcpu[FERRY_WORKLOAD_IPC_LINE_MAX / 2] = "";
	size_t off = 0;
	for (unsigned i = 0; i < s.vcpus && off < sizeof per_vcpu; i++)
		off += (size_t)snprintf(per_vcpu + off, sizeof per_vcpu - off, "%s%" PRIu64, i ? "," : "",
					s.vcpu_writes[i]);
	return reply(fd, "ok frozen=%d vcpus=%u writes=%" PRIu64 " generation=%" PRIu64 " ram_bytes=%" PRIu64
		     " throttle=%u throttled_ns=%" PRIu64 " vcpu_writes=%s", s.frozen, s.vcpus, s.writes_total,
		     s.max_generation, ferry_workload_ram_bytes(w), s.throttle_percent, s.throttled_ns, per_vcpu);
}

static int handle_verify(struct ferry_workload *w, int fd)
{
	uint64_t bad = 0;
	enum ferry_page_fault fault = FERRY_PAGE_OK;
	if (ferry_workload_verify(w, &bad, &fault) == 0)
		return reply(fd, "ok pages=%" PRIu64, ferry_workload_ram_bytes(w) / FERRY_PAGE_BYTES);
	ferry_log(FERRY_LOG_ERROR, "msg=\"guest memory self-check failed\" page=%" PRIu64 " reason=%s", bad,
		  ferry_page_fault_name(fault));
	return reply(fd, "bad page=%" PRIu64 " reason=%s", bad, ferry_page_fault_name(fault));
}

static int handle_attach(struct ferry_workload *w, const struct ferry_workload_control_options *opt, int fd)
{
	int fds[2] = {ferry_workload_memfd(w), -1};
	/* A registered VM may migrate more than once (or again after a rollback), and a userfaultfd
	 * serves one tracker only (UFFDIO_API once): each attach brings a fresh one. */
	int give = opt->give_uffd || opt->agent_fd >= 0;
	if (give) {
		fds[1] = ferry_workload_create_userfaultfd();
		if (fds[1] < 0) {
			ferry_log(FERRY_LOG_ERROR, "msg=\"userfaultfd() failed\" errno=%d reason=\"%s\"", -fds[1],
				  strerror(-fds[1]));
			return reply(fd, "error userfaultfd: %s", strerror(-fds[1]));
		}
	}
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	snprintf(line, sizeof line, "ok attach pid=%d base=0x%" PRIxPTR " ram_bytes=%" PRIu64 " page_size=%u uffd=%d\n",
		 (int)getpid(), (uintptr_t)ferry_workload_base(w), ferry_workload_ram_bytes(w), FERRY_PAGE_BYTES,
		 give);
	int rc = ferry_workload_ipc_send_line(fd, line, fds, give ? 2 : 1);
	/* The receiver's copy is the only one that counts: when its tracker closes it, tracking ends. */
	if (fds[1] >= 0)
		close(fds[1]);
	ferry_log(FERRY_LOG_INFO, "msg=\"attach handed over guest RAM\" uffd=%d", give);
	return rc;
}

static int handle_export(struct ferry_workload *w, int fd)
{
	struct ferry_vcpu_state states[FERRY_WORKLOAD_MAX_VCPUS];
	int n = ferry_workload_get_vcpu_state(w, states, FERRY_WORKLOAD_MAX_VCPUS);
	if (n == -EBUSY)
		return reply(fd, "error not frozen");
	char blob[FERRY_VCPU_STATE_TEXT_MAX];
	if (n < 0 || ferry_vcpu_state_format(states, (unsigned)n, blob, sizeof blob))
		return reply(fd, "error cannot export the vCPU state");
	ferry_log(FERRY_LOG_INFO, "msg=\"vCPU state exported\" vcpus=%d", n);
	return reply(fd, "ok export vcpus=%d state=%s", n, blob);
}

/* `throttle N`: N in decimal, 0..FERRY_WORKLOAD_THROTTLE_MAX. */
static int handle_throttle(struct ferry_workload *w, int fd, const char *arg)
{
	unsigned percent = 0;
	size_t n = strspn(arg, "0123456789");
	if (n == 0 || n > 3 || arg[n] != '\0')
		return reply(fd, "error throttle: expected a whole percent 0..%u, got \"%.16s\"",
			     FERRY_WORKLOAD_THROTTLE_MAX, arg);
	for (size_t i = 0; i < n; i++)
		percent = percent * 10 + (unsigned)(arg[i] - '0');
	char err[160];
	if (ferry_workload_set_throttle(w, percent, err, sizeof err))
		return reply(fd, "error throttle: %s", err);
	ferry_log(FERRY_LOG_INFO, "msg=\"vCPU throttle set\" throttle_percent=%u", percent);
	return reply(fd, "ok throttle percent=%u", percent);
}

/* The page number of `touch N` / `peek N`: plain decimal, no sign, no 0x. -EINVAL otherwise (or
 * past 2^64-1). */
static int parse_page(const char *arg, uint64_t *index)
{
	char why[80];
	size_t n = strspn(arg, "0123456789");
	if (n == 0 || arg[n] != '\0')
		return -EINVAL;
	return ferry__value_u64(arg, n, index, why, sizeof why);
}

static uint64_t last_page(const struct ferry_workload *w)
{
	return ferry_workload_ram_bytes(w) / FERRY_PAGE_BYTES - 1;
}

/* The answer to `cmd N` whose N is not a page number. */
static int bad_page_reply(const struct ferry_workload *w, int fd, const char *cmd, const char *arg)
{
	return reply(fd, "error %s: expected a page number 0..%" PRIu64 " in decimal, got \"%.24s\"", cmd,
		     last_page(w), arg);
}

/* `touch N`: the guest writes page N once, as its vCPU would (workload.h). */
static int handle_touch(struct ferry_workload *w, int fd, const char *arg)
{
	uint64_t index = 0, gen = 0;
	char err[160];
	if (parse_page(arg, &index))
		return bad_page_reply(w, fd, "touch", arg);
	if (ferry_workload_touch_page(w, index, &gen, err, sizeof err))
		return reply(fd, "error touch: %s", err);
	ferry_log(FERRY_LOG_DEBUG, "msg=\"page touched\" page=%" PRIu64 " generation=%" PRIu64, index, gen);
	return reply(fd, "ok touch page=%" PRIu64 " generation=%" PRIu64, index, gen);
}

/* `tear N`: the guest stops halfway through writing page N (workload.h); `touch N` completes it. */
static int handle_tear(struct ferry_workload *w, int fd, const char *arg)
{
	uint64_t index = 0;
	char err[160];
	if (parse_page(arg, &index))
		return bad_page_reply(w, fd, "tear", arg);
	if (ferry_workload_tear_page(w, index, err, sizeof err))
		return reply(fd, "error tear: %s", err);
	ferry_log(FERRY_LOG_DEBUG, "msg=\"page torn\" page=%" PRIu64, index);
	return reply(fd, "ok tear page=%" PRIu64, index);
}

/* `peek N`: page N's generation and self-check, without writing. */
static int handle_peek(struct ferry_workload *w, int fd, const char *arg)
{
	uint64_t index = 0, gen = 0;
	enum ferry_page_fault fault = FERRY_PAGE_OK;
	char err[160];
	if (parse_page(arg, &index))
		return bad_page_reply(w, fd, "peek", arg);
	if (ferry_workload_peek_page(w, index, &gen, &fault, err, sizeof err))
		return reply(fd, "error peek: %s", err);
	if (fault != FERRY_PAGE_OK)
		return reply(fd, "ok peek page=%" PRIu64 " generation=%" PRIu64 " valid=0 reason=%s", index, gen,
			     ferry_page_fault_name(fault));
	return reply(fd, "ok peek page=%" PRIu64 " generation=%" PRIu64 " valid=1", index, gen);
}

/* Runs one command. Returns 1 when the workload must quit, 0 to go on, -errno to drop the client. */
static int handle_line(struct ferry_workload *w, const struct ferry_workload_control_options *opt, int fd,
		       const char *cmd)
{
	ferry_log(FERRY_LOG_DEBUG, "msg=\"control command\" command=%.32s", cmd);
	if (strcmp(cmd, "freeze") == 0) {
		ferry_workload_freeze(w);
		return reply(fd, "ok frozen");
	}
	if (strcmp(cmd, "thaw") == 0) {
		ferry_workload_thaw(w);
		return reply(fd, "ok running");
	}
	if (strncmp(cmd, "throttle ", 9) == 0)
		return handle_throttle(w, fd, cmd + 9);
	if (strncmp(cmd, "touch ", 6) == 0)
		return handle_touch(w, fd, cmd + 6);
	if (strncmp(cmd, "tear ", 5) == 0)
		return handle_tear(w, fd, cmd + 5);
	if (strncmp(cmd, "peek ", 5) == 0)
		return handle_peek(w, fd, cmd + 5);
	if (strcmp(cmd, "stats") == 0)
		return handle_stats(w, fd);
	if (strcmp(cmd, "verify") == 0)
		return handle_verify(w, fd);
	if (strcmp(cmd, "attach") == 0)
		return handle_attach(w, opt, fd);
	if (strcmp(cmd, "export") == 0)
		return handle_export(w, fd);
	if (strcmp(cmd, "quit") == 0) {
		int rc = reply(fd, "ok bye");
		return rc < 0 ? rc : 1;
	}
	return reply(fd, "error unknown command");
}

/* Reads what the client sent and runs every complete line. Same return values as handle_line;
 * -ECONNRESET when the client closed. */
static int serve_client(struct ferry_workload *w, const struct ferry_workload_control_options *opt,
			struct client *c)
{
	ssize_t n = read(c->fd, c->buf + c->len, sizeof c->buf - c->len);
	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -errno;
	if (n == 0)
		return -ECONNRESET;
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl) {
			if (c->len == sizeof c->buf) {
				reply(c->fd, "error line too long");
				return -EMSGSIZE;
			}
			return 0;
		}
		*nl = '\0';
		int rc = handle_line(w, opt, c->fd, c->buf);
		size_t used = (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
		if (rc)
			return rc;
	}
}

int ferry_workload_control_serve(struct ferry_workload *w, const struct ferry_workload_control_options *opt)
{
	struct client clients[MAX_CLIENTS];
	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	/* The agent's registration connection is served like any control client from here on; its
	 * close only means the agent went away, and the VM runs on. */
	if (opt->agent_fd >= 0) {
		clients[0].fd = opt->agent_fd;
		clients[0].len = 0;
	}
	int rc = 0;
	for (;;) {
		struct pollfd p[2 + MAX_CLIENTS];
		int slot[2 + MAX_CLIENTS];
		nfds_t n = 0;
		p[n++] = (struct pollfd){.fd = opt->listen_fd, .events = POLLIN};
		p[n++] = (struct pollfd){.fd = opt->stop_fd, .events = POLLIN}; /* fd -1 is ignored by poll */
		for (int i = 0; i < MAX_CLIENTS; i++)
			if (clients[i].fd >= 0) {
				slot[n] = i;
				p[n++] = (struct pollfd){.fd = clients[i].fd, .events = POLLIN};
			}
		if (poll(p, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (p[1].revents) {
			ferry_log(FERRY_LOG_INFO, "msg=\"stop requested\"");
			break;
		}
		int quit = 0;
		for (nfds_t k = 2; k < n; k++) {
			if (!p[k].revents)
				continue;
			struct client *c = &clients[slot[k]];
			int r = serve_client(w, opt, c);
			if (r == 1)
				quit = 1;
			/* An agent that went away cannot end what it started: a throttle would stay forever. */
			if (r != 0 && c->fd == opt->agent_fd) {
				ferry_log(FERRY_LOG_WARNING, "msg=\"agent connection closed: the VM is no longer registered\" "
							     "throttle_percent_dropped=%u", ferry_workload_throttle(w));
				ferry_workload_set_throttle(w, 0, NULL, 0);
			}
			if (r != 0) {
				close(c->fd);
				c->fd = -1;
			}
		}
		if (quit) {
			ferry_log(FERRY_LOG_INFO, "msg=\"quit requested\"");
			break;
		}
		if (p[0].revents & POLLIN) {
			int fd = accept4(opt->listen_fd, NULL, NULL, SOCK_CLOEXEC);
			int i = 0;
			while (fd >= 0 && i < MAX_CLIENTS && clients[i].fd >= 0)
				i++;
			if (fd >= 0 && i == MAX_CLIENTS) {
				reply(fd, "error too many clients");
				close(fd);
			} else if (fd >= 0) {
				clients[i].fd = fd;
				clients[i].len = 0;
			}
		}
	}
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			close(clients[i].fd);
	return rc;
}

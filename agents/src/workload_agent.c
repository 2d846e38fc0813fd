/* The workload's registration with the agent; see workload_agent.h. */
#include "workload_agent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errbuf.h"
#include "fd_kind.h"
#include "log.h"
#include "staged_verify.h"
#include "uffd_compat.h"
#include "workload_state.h"

int ferry_workload_create_userfaultfd(void)
{
	int fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0 && errno == EPERM)
		fd = (int)syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	return fd < 0 ? -errno : fd;
}

static int connect_agent(const char *socket_path, int *fd, char *err, size_t errlen)
{
	int rc = ferry_workload_ipc_connect(socket_path, fd);
	if (rc)
		ferry_errbuf_set(err, errlen, "cannot reach the agent at %s: %s", socket_path, strerror(-rc));
	return rc;
}

int ferry_workload_agent_register(const char *socket_path, const struct ferry_vm_registration *reg,
				  struct ferry_workload *w, int *agent_fd, char *err, size_t errlen)
{
	*agent_fd = -1;
	int uffd = ferry_workload_create_userfaultfd();
	if (uffd < 0) {
		ferry_errbuf_set(err, errlen, "userfaultfd() for the agent's dirty tracking: %s", strerror(-uffd));
		return uffd;
	}
	int fd = -1;
	int rc = connect_agent(socket_path, &fd, err, errlen);
	if (rc == 0)
		rc = ferry_workload_ipc_register(fd, reg, ferry_workload_memfd(w), uffd, NULL,
						 FERRY_WORKLOAD_AGENT_TIMEOUT_MS, err, errlen);
	close(uffd); /* the agent's copy is the only one that counts */
	if (rc) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*agent_fd = fd;
	return 0;
}

int ferry_workload_agent_register_incoming(const char *socket_path, const struct ferry_vm_registration *reg,
					   int *agent_fd, int *memfd, char *err, size_t errlen)
{
	*agent_fd = -1;
	/* For later: once started, this VM runs here and may migrate on, tracked like any other. */
	int uffd = ferry_workload_create_userfaultfd();
	if (uffd < 0) {
		ferry_errbuf_set(err, errlen, "userfaultfd() for the agent's dirty tracking: %s", strerror(-uffd));
		return uffd;
	}
	int fd = -1;
	int rc = connect_agent(socket_path, &fd, err, errlen);
	if (rc == 0)
		rc = ferry_workload_ipc_register(fd, reg, -1, uffd, memfd, FERRY_WORKLOAD_AGENT_TIMEOUT_MS, err, errlen);
	close(uffd); /* the agent's copy is the only one that counts */
	if (rc) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	*agent_fd = fd;
	return 0;
}

/* Sends one answer line; the workload is about to run or to exit either way, so a failed send is
 * only logged. */
static void answer(int fd, const char *line)
{
	char buf[FERRY_WORKLOAD_IPC_LINE_MAX];
	snprintf(buf, sizeof buf, "%s\n", line);
	int rc = ferry_workload_ipc_send_line(fd, buf, NULL, 0);
	if (rc)
		ferry_log(FERRY_LOG_WARNING, "msg=\"cannot answer the agent\" reason=\"%s\"", strerror(-rc));
}

/* Loads the `start` line's state into w. -EINVAL with the reason. */
static int load_state(struct ferry_workload *w, const char *line, char *err, size_t errlen)
{
	uint64_t vcpus = 0;
	const char *state = strstr(line, " state=");
	if (ferry_workload_ipc_field_u64(line, "vcpus", &vcpus) || !state) {
		ferry_errbuf_set(err, errlen, "start: needs vcpus=N and state=BLOB");
		return -EINVAL;
	}
	struct ferry_vcpu_state states[FERRY_WORKLOAD_MAX_VCPUS];
	int n = ferry_vcpu_state_parse(state + 7, states, FERRY_WORKLOAD_MAX_VCPUS, err, errlen);
	if (n < 0)
		return n;
	if ((uint64_t)n != vcpus) {
		ferry_errbuf_set(err, errlen, "start: vcpus=%" PRIu64 " but the state holds %d vCPUs", vcpus, n);
		return -EINVAL;
	}
	return ferry_workload_set_vcpu_state(w, states, (unsigned)n, err, errlen);
}

/* Reads the next line (and the fds that came with it) from the agent, or gives up when stop_fd
 * becomes readable. */
static int read_line(int agent_fd, int stop_fd, char *line, size_t cap, int *fds, int *nfds)
{
	*nfds = 0;
	for (;;) {
		struct pollfd p[2] = {{.fd = agent_fd, .events = POLLIN}, {.fd = stop_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents)
			return -ECANCELED;
		if (p[0].revents)
			return ferry_workload_ipc_recv_line(agent_fd, line, cap, fds, nfds, FERRY_WORKLOAD_AGENT_TIMEOUT_MS);
	}
}

/* The pages to check at start: those marked in the agent's written-pages bitmap (`start ...
 * written=1` with its memfd), or all of RAM (full, or no bitmap). The vCPUs are frozen. 0, -EBADMSG
 * with the page and fault, or -EPROTO (a bitmap that does not fit) with the reason in err. */
static int verify_at_start(struct ferry_workload *w, const char *line, int bitmap_fd, int full, const char **mode,
			   uint64_t *checked, uint64_t *bad, enum ferry_page_fault *fault, char *err, size_t errlen)
{
	*mode = "full";
	uint64_t npages = ferry_workload_ram_bytes(w) / FERRY_PAGE_BYTES, written = 0;
	(void)ferry_workload_ipc_field_u64(line, "written", &written);
	if (written != (bitmap_fd >= 0)) {
		ferry_errbuf_set(err, errlen, "start: written=%llu but %s written-pages bitmap came with it",
				 (unsigned long long)written, bitmap_fd >= 0 ? "a" : "no");
		return -EPROTO;
	}
	if (full || bitmap_fd < 0) {
		*checked = npages;
		return ferry_workload_verify(w, bad, fault);
	}
	*mode = "written";
	size_t bytes = ferry_staged_bitmap_bytes(npages);
	if (ferry_fd_check_memfd_size(bitmap_fd, bytes, "start: the written-pages bitmap", err, errlen))
		return -EPROTO;
	void *bits = mmap(NULL, bytes, PROT_READ, MAP_SHARED, bitmap_fd, 0);
	if (bits == MAP_FAILED) {
		ferry_errbuf_set(err, errlen, "start: cannot map the written-pages bitmap: %s", strerror(errno));
		return -EPROTO;
	}
	int rc = ferry_staged_check_marked(ferry_workload_base(w), npages, bits, checked, bad, fault);
	munmap(bits, bytes);
	return rc;
}

int ferry_workload_agent_await_start(int agent_fd, int stop_fd, struct ferry_workload *w, int stay_paused,
				     int verify_full, char *err, size_t errlen)
{
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	int fds[FERRY_WORKLOAD_IPC_MAX_FDS], nfds = 0;
	int rc = read_line(agent_fd, stop_fd, line, sizeof line, fds, &nfds);
	int bitmap_fd = nfds > 0 ? fds[0] : -1;
	for (int i = 1; i < nfds; i++)
		close(fds[i]); /* nothing else may come with `start` */
	if (rc == -ECANCELED) {
		ferry_errbuf_set(err, errlen, "stopped while waiting for the agent's start");
		return rc;
	}
	if (rc < 0) {
		ferry_errbuf_set(err, errlen, "waiting for the agent's start: %s", strerror(-rc));
		return rc == -ECONNRESET ? rc : -ECONNRESET;
	}
	if (strncmp(line, "start ", 6) != 0) {
		ferry_errbuf_set(err, errlen, "expected start from the agent, got \"%.40s\"", line);
		answer(agent_fd, "error expected start");
		if (bitmap_fd >= 0)
			close(bitmap_fd);
		return -EINVAL;
	}
	rc = load_state(w, line, err, errlen);
	uint64_t bad = 0, checked = 0;
	enum ferry_page_fault fault = FERRY_PAGE_OK;
	const char *mode = "";
	if (rc == 0)
		rc = verify_at_start(w, line, bitmap_fd, verify_full, &mode, &checked, &bad, &fault, err, errlen);
	if (bitmap_fd >= 0)
		close(bitmap_fd);
	if (rc && rc != -EBADMSG) {
		char msg[600];
		snprintf(msg, sizeof msg, "error %s", err);
		answer(agent_fd, msg);
		return rc;
	}
	if (rc) {
		char msg[128];
		ferry_errbuf_set(err, errlen, "incoming guest RAM failed its self-check at page %" PRIu64 " (%s)", bad,
				 ferry_page_fault_name(fault));
		snprintf(msg, sizeof msg, "bad page=%" PRIu64 " reason=%s", bad, ferry_page_fault_name(fault));
		answer(agent_fd, msg);
		return -EBADMSG;
	}
	struct ferry_workload_stats s;
	ferry_workload_stats(w, &s);
	if (!stay_paused)
		ferry_workload_thaw(w);
	ferry_log(FERRY_LOG_INFO, "msg=\"incoming memory checked at start\" pages=%" PRIu64 " mode=%s", checked, mode);
	snprintf(line, sizeof line, "ok started generation=%" PRIu64 " pages_verified=%" PRIu64, s.max_generation,
		 checked);
	answer(agent_fd, line);
	return 0;
}

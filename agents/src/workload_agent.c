/* The workload's registration with the agent; see workload_agent.h. */
#include "workload_agent.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errbuf.h"
#include "log.h"
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

/* Reads the next line from the agent, or gives up when stop_fd becomes readable. */
static int read_line(int agent_fd, int stop_fd, char *line, size_t cap)
{
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
			return ferry_workload_ipc_recv_line(agent_fd, line, cap, NULL, NULL, FERRY_WORKLOAD_AGENT_TIMEOUT_MS);
	}
}

int ferry_workload_agent_await_start(int agent_fd, int stop_fd, struct ferry_workload *w, int stay_paused, char *err,
				     size_t errlen)
{
	char line[FERRY_WORKLOAD_IPC_LINE_MAX];
	int rc = read_line(agent_fd, stop_fd, line, sizeof line);
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
		return -EINVAL;
	}
	rc = load_state(w, line, err, errlen);
	if (rc) {
		char msg[600];
		snprintf(msg, sizeof msg, "error %s", err);
		answer(agent_fd, msg);
		return rc;
	}
	uint64_t bad = 0;
	enum ferry_page_fault fault = FERRY_PAGE_OK;
	if (ferry_workload_verify(w, &bad, &fault) != 0) {
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
	snprintf(line, sizeof line, "ok started generation=%" PRIu64, s.max_generation);
	answer(agent_fd, line);
	return 0;
}

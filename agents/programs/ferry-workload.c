/*
 * ferry-workload: the VM stand-in (guest RAM in a memfd + vCPU threads writing self-checked pages),
 * driven over its control socket (protocol: src/workload_ipc.h). Options: src/workload_options.h.
 * With --agent-socket it registers with the local agent; with --incoming it is a migration
 * destination that takes its guest RAM from the agent and runs only once that memory verified.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "page_check.h"
#include "ram_populate.h"
#include "workload.h"
#include "workload_agent.h"
#include "workload_control.h"
#include "workload_ipc.h"
#include "workload_options.h"

static void registration_of(const struct ferry_workload_options *opt, struct ferry_vm_registration *reg)
{
	memset(reg, 0, sizeof *reg);
	if (opt->vm_id)
		snprintf(reg->vm_id, sizeof reg->vm_id, "%s", opt->vm_id);
	else
		snprintf(reg->vm_id, sizeof reg->vm_id, "vm-%d", (int)getpid());
	reg->vcpus = opt->config.vcpus;
	reg->ram_bytes = opt->config.ram_bytes;
	reg->page_size = FERRY_PAGE_BYTES;
	reg->pid = getpid();
	snprintf(reg->control, sizeof reg->control, "%s", opt->control_path);
	reg->incoming = opt->incoming;
	if (ferry_workload_options_launch(&opt->config, reg->launch, sizeof reg->launch))
		reg->launch[0] = '\0'; /* cannot happen with FERRY_VM_LAUNCH_TEXT_MAX; report none rather than a part */
}

/* An incoming workload maps its memory while it waits for `start`: the agent fills the memfd
 * through its own mapping, so each page's first touch here would be a page fault inside the
 * downtime (the check at start of the final round's pages: microseconds per fault on a nested
 * VM). One MADV_POPULATE_READ during pre-copy maps them all ahead; best effort. */
struct prefault {
	uint8_t *base;
	size_t len;
	atomic_bool stop; /* set at start: joining must not wait for the rest inside the downtime */
};

#define PREFAULT_STEP ((size_t)64 << 20)

static void *prefault_main(void *arg)
{
	struct prefault *p = arg;
	for (size_t off = 0; off < p->len && !atomic_load(&p->stop); off += PREFAULT_STEP)
		(void)ferry_ram_populate(p->base + off, p->len - off < PREFAULT_STEP ? p->len - off : PREFAULT_STEP, false);
	return NULL;
}

/* Creates the workload: fresh, fresh and registered, or incoming (registered, memory from the
 * agent, running only after the agent's start and a clean verify). The agent connection, if any,
 * lands in *agent_fd even on failure (the caller closes it). */
static int start_workload(const struct ferry_workload_options *opt, int stop_fd, struct ferry_workload **w,
			  int *agent_fd, char *err, size_t errlen)
{
	struct ferry_vm_registration reg;
	registration_of(opt, &reg);
	*agent_fd = -1;
	if (!opt->agent_socket)
		return ferry_workload_create(&opt->config, w, err, errlen);
	if (!opt->incoming) {
		int rc = ferry_workload_create(&opt->config, w, err, errlen);
		if (rc == 0)
			rc = ferry_workload_agent_register(opt->agent_socket, &reg, *w, agent_fd, err, errlen);
		if (rc == 0)
			ferry_log(FERRY_LOG_INFO, "msg=\"registered with the agent\" vm_id=%s agent=%s", reg.vm_id,
				  opt->agent_socket);
		return rc;
	}
	int memfd = -1;
	int rc = ferry_workload_agent_register_incoming(opt->agent_socket, &reg, agent_fd, &memfd, err, errlen);
	if (rc)
		return rc;
	rc = ferry_workload_create_incoming(&opt->config, memfd, w, err, errlen);
	if (rc)
		return rc;
	ferry_log(FERRY_LOG_INFO, "msg=\"incoming: waiting for memory and device state\" vm_id=%s agent=%s", reg.vm_id,
		  opt->agent_socket);
	struct prefault pf = {ferry_workload_base(*w), (size_t)ferry_workload_ram_bytes(*w), false};
	pthread_t pf_thread;
	bool pf_started = pthread_create(&pf_thread, NULL, prefault_main, &pf) == 0;
	rc = ferry_workload_agent_await_start(*agent_fd, stop_fd, *w, opt->config.start_frozen, opt->verify_full,
					      err, errlen);
	if (pf_started) {
		atomic_store(&pf.stop, true);
		pthread_join(pf_thread, NULL);
	}
	if (rc == 0) {
		struct ferry_workload_stats s;
		ferry_workload_stats(*w, &s);
		ferry_log(FERRY_LOG_INFO, "msg=\"incoming memory verified, vCPUs %s\" vm_id=%s generation=%llu",
			  opt->config.start_frozen ? "paused (--start-frozen)" : "running", reg.vm_id,
			  (unsigned long long)s.max_generation);
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct ferry_workload_options opt;
	char err[512] = "";
	int rc = ferry_workload_options_parse(argc, argv, &opt, err, sizeof err);
	if (rc == 1)
		return 0;
	if (rc) {
		fprintf(stderr, "ferry-workload: %s (see --help)\n", err);
		return 2;
	}
	ferry_log_set_level(opt.log_level);

	/* Blocked before any thread starts, so every thread inherits the mask and SIGTERM/SIGINT
	 * arrive only through the signalfd: a clean stop from the control loop. */
	sigset_t stop_signals;
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_signals, NULL);
	int stop_fd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
	if (stop_fd < 0) {
		ferry_log(FERRY_LOG_ERROR, "msg=\"signalfd failed\" reason=\"%s\"", strerror(errno));
		return 1;
	}
	int listen_fd = -1;
	rc = ferry_workload_ipc_listen(opt.control_path, &listen_fd);
	if (rc) {
		ferry_log(FERRY_LOG_ERROR, "msg=\"cannot listen on the control socket\" path=%s reason=\"%s\"",
			  opt.control_path, strerror(-rc));
		return 1;
	}
	struct ferry_workload *w = NULL;
	int agent_fd = -1;
	rc = start_workload(&opt, stop_fd, &w, &agent_fd, err, sizeof err);
	if (rc) {
		char q[600];
		ferry_log(FERRY_LOG_ERROR, "msg=\"cannot start the workload\" reason=%s", ferry_log_quote(err, q, sizeof q));
		ferry_workload_destroy(w);
		if (agent_fd >= 0)
			close(agent_fd);
		unlink(opt.control_path);
		return 1;
	}
	ferry_log(FERRY_LOG_INFO,
		  "msg=\"workload running\" pid=%d ram_bytes=%llu vcpus=%u dirty_rate_pages=%llu pattern=%d control=%s "
		  "incoming=%d registered=%d",
		  (int)getpid(), (unsigned long long)opt.config.ram_bytes, opt.config.vcpus,
		  (unsigned long long)opt.config.dirty_rate_pages, (int)opt.config.pattern, opt.control_path, opt.incoming,
		  agent_fd >= 0);
	struct ferry_workload_control_options copt = {
		.listen_fd = listen_fd, .stop_fd = stop_fd, .give_uffd = opt.give_uffd, .agent_fd = agent_fd};
	rc = ferry_workload_control_serve(w, &copt);
	ferry_workload_destroy(w);
	close(listen_fd);
	close(stop_fd);
	unlink(opt.control_path);
	if (rc) {
		ferry_log(FERRY_LOG_ERROR, "msg=\"control loop failed\" reason=\"%s\"", strerror(-rc));
		return 1;
	}
	ferry_log(FERRY_LOG_INFO, "msg=\"workload stopped\"");
	return 0;
}

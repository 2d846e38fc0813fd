/*
 * ferry-workload: the VM stand-in (guest RAM in a memfd + vCPU threads writing self-checked pages),
 * driven over its control socket (protocol: src/workload_ipc.h). Options: src/workload_options.h.
 * Incoming mode (start on a destination from migrated memory) is not implemented yet.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "log.h"
#include "workload.h"
#include "workload_control.h"
#include "workload_ipc.h"
#include "workload_options.h"

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
	rc = ferry_workload_create(&opt.config, &w, err, sizeof err);
	if (rc) {
		char q[600];
		ferry_log(FERRY_LOG_ERROR, "msg=\"cannot start the workload\" reason=%s", ferry_log_quote(err, q, sizeof q));
		unlink(opt.control_path);
		return 1;
	}
	ferry_log(FERRY_LOG_INFO,
		  "msg=\"workload running\" pid=%d ram_bytes=%llu vcpus=%u dirty_rate_pages=%llu pattern=%d control=%s",
		  (int)getpid(), (unsigned long long)opt.config.ram_bytes, opt.config.vcpus,
		  (unsigned long long)opt.config.dirty_rate_pages, (int)opt.config.pattern, opt.control_path);
	struct ferry_workload_control_options copt = {.listen_fd = listen_fd, .stop_fd = stop_fd, .give_uffd = opt.give_uffd};
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

/*
 * The workload's side of its control socket (protocol: workload_ipc.h): a poll loop over the
 * listening socket, the connected clients and a stop fd, answering one command line at a time.
 */
#ifndef FERRY_WORKLOAD_CONTROL_H
#define FERRY_WORKLOAD_CONTROL_H

#include "workload.h"

struct ferry_workload_control_options {
	int listen_fd;  /* from ferry_workload_ipc_listen */
	int stop_fd;    /* readable = stop (a signalfd for SIGTERM/SIGINT); -1 for none */
	int give_uffd;  /* `attach` creates and hands over a userfaultfd too (always when agent_fd >= 0) */
	int agent_fd;   /* registration connection to the agent, served as a client (closed here); -1: none */
};

/* Serves until `quit` or stop_fd becomes readable. 0, or -errno if the loop itself failed. */
int ferry_workload_control_serve(struct ferry_workload *w, const struct ferry_workload_control_options *opt);

#endif
